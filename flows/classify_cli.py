"""``hotline classify``: caller utterances on stdin (plain text or JSON with ``text``), one JSON result per line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import IO, Any

from flows.classifier import Classifier
from flows.policy import PolicyError


def register_classify(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add ``hotline classify`` to ``subparsers`` (called from flows.cli.register)."""
    p = subparsers.add_parser(
        "classify",
        help="classify caller utterances read from stdin (one per line)",
        description="Reads one utterance per line (plain text or a JSON object with a 'text' field) and prints one "
        "JSON object per line: text, disposition, category, channel, rule, confidence.",
    )
    p.add_argument("--policy", type=Path, default=None, help="policy file (default flows/policy.yaml)")
    p.add_argument("--explain", action="store_true", help="add evidence, request_type, confirm and secondary")
    p.set_defaults(func=_run)


def _text_of(line: str) -> str:
    stripped = line.strip()
    if stripped.startswith(("{", "[", '"')):
        try:
            obj = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise ValueError(f"invalid JSON: {exc.msg} at column {exc.colno}") from exc
        if isinstance(obj, dict):
            text = obj.get("text")
            if not isinstance(text, str):
                raise ValueError("JSON object needs a string 'text' field")
            return text
        if isinstance(obj, str):
            return obj
        raise ValueError("expected plain text or a JSON object with a 'text' field")
    return stripped


def classify_stream(clf: Classifier, src: IO[str], out: IO[str], explain: bool = False) -> int:
    """Classify each non-empty line of ``src``; returns how many lines were bad (each got an ``error`` record)."""
    bad = 0
    for n, line in enumerate(src, 1):
        if not line.strip():
            continue
        try:
            record = clf.classify(_text_of(line)).to_json(explain=explain)
        except ValueError as exc:
            bad += 1
            record = {"line": n, "error": str(exc), "input": line.rstrip("\n")[:200]}
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
    return bad


def _run(args: argparse.Namespace) -> int:
    try:
        clf = Classifier.from_file(args.policy) if args.policy else Classifier.default()
    except PolicyError as exc:
        print(f"hotline classify: invalid policy:\n{exc}", file=sys.stderr)
        return 2
    stdin = sys.stdin
    if hasattr(stdin, "reconfigure"):
        stdin.reconfigure(encoding="utf-8", errors="replace")
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")
    classify_stream(clf, stdin, sys.stdout, explain=args.explain)
    return 0
