"""``hotline flows check|simulate`` and ``hotline classify`` (the latter from flows.classify_cli)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from flows.check import CATALOGUE_DIR, check_paths, model_has_word
from flows.loader import FlowError
from flows.setup import ContextFactory, flow_path, load_flows_config
from flows.simulate import SimOptions, Simulator, run_script


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add this component's sub-commands to ``subparsers``."""
    flows = subparsers.add_parser("flows", help="call flows: check definitions, simulate calls")
    sub = flows.add_subparsers(dest="flows_command", metavar="ACTION")
    check = sub.add_parser("check", help="schema, unreachable nodes, missing prompts, ways out, model vocabulary")
    check.add_argument("files", nargs="*", help="flow files (default: every file in definitions_dir)")
    check.add_argument("--prompts", help="prompt catalogue directory (default: prompts/catalogue)")
    check.add_argument("--no-model", action="store_true", help="skip the speech-model vocabulary check")
    check.set_defaults(func=_check)
    sim = sub.add_parser("simulate", help="a text call on virtual time: words, #123 for keys, empty line = "
                                          "silence, (press 12) / (wait 5) for the keypad's timers")
    sim.add_argument("--flow", help="flow name or file (default: the main flow)")
    sim.add_argument("--script", nargs="+", action="extend", help="run transcripts with expectations")
    sim.add_argument("--dtmf", action="store_true", help="no speech: the keypad-only call")
    sim.add_argument("--caller", default="13800000000")
    sim.add_argument("--agent", default="bridged", choices=["bridged", "no_agent", "failed"])
    sim.add_argument("--verbose", action="store_true", help="print the transcript of passing scripts too")
    sim.set_defaults(func=_simulate)
    try:
        from flows.classify_cli import register_classify
    except ImportError:
        return
    register_classify(subparsers)


def _check(args: argparse.Namespace) -> int:
    conf = load_flows_config()
    files = [Path(f) for f in args.files] or sorted(flow_path(conf).parent.glob("*.yaml"))
    if not files:
        print(f"no flow files in {flow_path(conf).parent}", file=sys.stderr)
        return 1
    has_word = None
    if not args.no_model:
        has_word, note = model_has_word()
        print(note)
    issues = check_paths(files, Path(args.prompts) if args.prompts else CATALOGUE_DIR, has_word)
    for issue in issues:
        print(issue)
    errors = sum(1 for i in issues if i.level == "error")
    warnings = len(issues) - errors
    print(f"{len(files)} flow file(s): {errors} error(s), {warnings} warning(s)")
    return 1 if errors else 0


def _simulate(args: argparse.Namespace) -> int:
    try:
        factory = ContextFactory.from_config(flow=args.flow)
        factory.new_context()
    except FlowError as exc:
        print(exc, file=sys.stderr)
        return 2
    if factory.classifier is None:
        print("warning: the classifier is unavailable; calls go to the keypad menu", file=sys.stderr)
    if args.script:
        failed = 0
        for script in args.script:
            result = run_script(Path(script).read_text(encoding="utf-8"), factory.new_context)
            status = "ok" if result.ok else "FAILED"
            print(f"{script}: {status}")
            if args.verbose or not result.ok:
                print("\n".join(f"    {line}" for line in result.transcript))
            for failure in result.failures:
                print(f"  {failure}")
            failed += not result.ok
        return 1 if failed else 0
    options = SimOptions(speech=not args.dtmf, caller=args.caller, agent=args.agent)
    sim = Simulator(factory.new_context(), options)
    print(f"flow {sim.ctx.flow.name} version {sim.ctx.flow.version} — words, #keys, empty line = silence, "
          "(hangup); Ctrl-D ends")
    _show(sim.start())
    while not sim.finished:
        try:
            line = input("caller> ")
        except EOFError:
            _show(sim.turn("(hangup)"))
            break
        _show(sim.turn(line))
    return 0


def _show(lines: list[str]) -> None:
    for line in lines:
        print(f"  {line}")
