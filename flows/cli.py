"""Sub-commands of this component for the ``hotline`` CLI (see ivr/cli.py)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Add this component's sub-commands to ``subparsers``."""
    from flows.classify_cli import register_classify

    register_classify(subparsers)
