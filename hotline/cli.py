"""``hotline`` command line: the composition root's own ``serve``, then each component's sub-commands.

- ``hotline serve``                 (hotline.serve: the call engine with the application injected)
- ``hotline prompts list|render|say`` (prompts.cli)
- ``hotline models pull|check``      (asr.cli)
- ``hotline flows check|simulate``, ``hotline classify`` (flows.cli)
- ``hotline db|agents|orders|journal|desk ...`` (bridge.cli)
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from asr import cli as asr_cli
from bridge import cli as bridge_cli
from config import ConfigError
from flows import cli as flows_cli
from hotline import serve
from prompts import cli as prompts_cli

COMPONENT_CLIS = (serve, prompts_cli, asr_cli, flows_cli, bridge_cli)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hotline", description="12345 政务服务便民热线 IVR")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMPONENT_CLIS:
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
