"""``hotline serve`` as a new user starts it: ``-vv`` after ``serve`` (what ``./install.sh run -vv`` passes), and a
port already taken (another hotline running) ends it with one clear line and a non-zero exit, not a traceback."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from hotline.cli import build_parser
from tests.system.system_serve import serve_env

ROOT = Path(__file__).resolve().parents[2]


def noop_app(engine: Any) -> Any:
    """``--app`` factory for the SIP test: answers nothing, starts nothing (fast)."""

    async def handler(call: Any) -> None:
        await call.hangup()

    return handler


def test_verbose_flags_pass_after_serve() -> None:
    parser = build_parser()
    assert parser.parse_args(["serve", "-vv"]).verbose == 2  # ./install.sh run -vv → hotline serve -vv
    assert parser.parse_args(["serve", "--verbose"]).verbose == 1
    assert parser.parse_args(["-vv", "serve"]).verbose == 2  # the top-level flag is not reset by the sub-command
    assert parser.parse_args(["serve"]).verbose == 0


def _serve(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = serve_env(tmp_path, tmp_path / "prompt-cache", PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-m", "hotline", "serve", "--host", "127.0.0.1", *args], cwd=tmp_path,
                          env=environ, capture_output=True, text=True, timeout=120)


def test_sip_port_taken_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        done = _serve(tmp_path, "--port", str(port), "--app", "tests.hotline.test_serve_cli:noop_app")
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("hotline serve:")]
    assert errors == [f"hotline serve: 端口 {port} 已被占用 (SIP UDP, 127.0.0.1): another hotline running? "
                      "stop it or change ivr.yaml port or hotline serve --port"], done.stderr


def test_desk_port_taken_one_line_and_exit_1(tmp_path: Path) -> None:
    """The default application: the agent desk's port is held by another process."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _serve(tmp_path, "--port", "0", HOTLINE_BRIDGE__DESK__PORT=str(port))
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and "Task was destroyed" not in done.stderr, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("hotline serve:")]
    assert errors == [f"hotline serve: 端口 {port} 已被占用 (agent desk, 127.0.0.1): another hotline running? "
                      "stop it or change bridge.yaml desk.port"], done.stderr
    assert "listening on" not in done.stdout
