"""Sub-commands of this component for the ``hotline`` CLI (see hotline/cli.py): ``hotline models pull|check``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from config import load_config
from config.asr import AsrConfig


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add this component's sub-commands to ``subparsers``."""
    models = subparsers.add_parser("models", help="speech models: pull (download + verify) and check")
    sub = models.add_subparsers(dest="models_command", metavar="ACTION")
    pull = sub.add_parser("pull", help="download a Vosk model (official URL, SHA-256 verified) into the models dir")
    pull.add_argument("lang", help="language key in asr.sources (zh)")
    pull.add_argument("--dir", help="models directory (default: asr.models_dir)")
    pull.add_argument("--sha256", help="expected SHA-256 of the archive (overrides the configured pin)")
    pull.add_argument("--url", help="archive URL (default: the configured official URL)")
    pull.add_argument("--force", action="store_true", help="download again even when installed")
    pull.add_argument("--timeout", type=float, default=60.0)
    pull.set_defaults(func=_pull)
    check = sub.add_parser("check", help="what is installed, and which grammar words / hotwords the model lacks")
    check.add_argument("--path", help="model directory to check (default: asr.model_path)")
    check.add_argument("--json", action="store_true", help="print one JSON object")
    check.set_defaults(func=_check)
    models.set_defaults(func=lambda args: (models.print_help(), 2)[1])


def _pull(args: argparse.Namespace) -> int:
    from asr.models import PullError, pull

    cfg = load_config(AsrConfig, "asr")
    source = cfg.sources.get(args.lang)
    if source is None:
        print(
            f"hotline models pull: unknown language {args.lang!r}; configured: {', '.join(cfg.sources) or 'none'}",
            file=sys.stderr,
        )
        return 2
    if args.url:
        source = source.model_copy(update={"url": args.url})
    models_dir = Path(args.dir or cfg.models_dir)
    try:
        result = pull(source, models_dir, sha256=args.sha256, timeout=args.timeout, force=args.force)
    except PullError as exc:
        print(f"hotline models pull: {exc}", file=sys.stderr)
        return 1
    for note in result.notes:
        print(note)
    check = "pinned" if result.pinned else "recorded"
    print(f"installed {result.path} (sha256 {result.sha256 or 'unknown'}, {check})")
    return 0


def _check(args: argparse.Namespace) -> int:
    from asr.grammar import builtin_groups
    from asr.models import check_model, installed_models

    cfg = load_config(AsrConfig, "asr")
    models_dir = Path(cfg.models_dir)
    path = Path(args.path or cfg.model_path or "")
    groups = {k: list(v) for k, v in builtin_groups().items()}
    groups.update({f"hotwords.{k}": list(v) for k, v in cfg.hotwords.items()})
    report: dict[str, Any] = {
        "models_dir": str(models_dir),
        "installed": [str(p) for p in installed_models(models_dir)],
        "configured": check_model(path, groups, rate=cfg.feed_rate)
        if str(path)
        else {"ok": False, "problems": ["none"]},
    }
    if args.json:
        print(json.dumps(report, ensure_ascii=False))
    else:
        print(f"models directory: {models_dir}")
        for p in report["installed"] or ["(none installed)"]:
            print(f"  {p}")
        conf = report["configured"]
        print(f"configured model: {conf.get('path', path)}")
        if not conf["ok"]:
            print(f"  NOT USABLE: {'; '.join(conf['problems'])} — the IVR runs in keypad (DTMF) mode")
        else:
            print(f"  loads: yes; unknown token: {conf['unk']}")
            missing = conf["missing_words"]
            if not missing:
                print("  vocabulary: all grammar words and hotwords present")
            for group, words in missing.items():
                print(f"  missing in {group}: {' '.join(words)}")
    return 0 if report["configured"]["ok"] else 1
