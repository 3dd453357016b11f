"""``hotline`` command line: each component registers its own sub-commands.

- ``hotline serve``                 (ivr.serve_cli)
- ``hotline prompts list|render|say`` (prompts.cli)
- ``hotline models pull|check``      (asr.cli)
- ``hotline flows check|simulate``, ``hotline classify`` (flows.cli)
- ``hotline db|agents|orders ...``   (bridge.cli)
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from config import ConfigError

COMPONENT_CLIS = ("ivr.serve_cli", "prompts.cli", "asr.cli", "flows.cli", "bridge.cli")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline", description="12345 政务服务便民热线 IVR")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMPONENT_CLIS:
        module = importlib.import_module(name)
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    if args.command == "serve":
        level = min(level, logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except ConfigError as exc:
        print(f"hotline: configuration error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
