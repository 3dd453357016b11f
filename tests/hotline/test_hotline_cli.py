"""The composition root's command line: one ``hotline`` with every component's sub-commands; ``serve --app``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from config.loader import ConfigError
from hotline.cli import build_parser
from hotline.serve import DEFAULT_APP, load_factory
from hotline.wiring import build_application

ROOT = Path(__file__).resolve().parents[2]


def test_every_component_command_is_reachable_from_the_one_cli() -> None:
    parser = build_parser()
    for argv in (["serve"], ["prompts", "list"], ["models", "check"], ["flows", "check"], ["classify"],
                 ["db", "upgrade"], ["agents", "list"], ["orders"], ["journal", "replay"], ["desk", "serve"]):
        args = parser.parse_args(argv)
        assert callable(args.func), argv


def test_serve_runs_the_real_application_unless_told_otherwise() -> None:
    args = build_parser().parse_args(["serve"])
    assert args.app == DEFAULT_APP == "hotline.wiring:build_application"
    assert load_factory(args.app) is build_application
    other = build_parser().parse_args(["serve", "--app", "tests.ivr.peers.app:build"])
    assert load_factory(other.app).__module__ == "tests.ivr.peers.app"


@pytest.mark.parametrize(
    ("spec", "problem"),
    [("hotline.wiring", "expected module:function"), ("no_such_module_x:f", "cannot import"),
     ("hotline.wiring:nothing", "no callable nothing")],
)
def test_a_bad_app_spec_is_one_clear_error(spec: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        load_factory(spec)


def test_python_dash_m_hotline_is_the_cli() -> None:
    out = subprocess.run([sys.executable, "-m", "hotline", "--help"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert "serve" in out.stdout and "classify" in out.stdout
