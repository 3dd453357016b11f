"""``hotline serve`` as an operator runs it: SIGTERM during a live call, and broken configuration files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from config.loader import config_dir
from tests.ivr.peers.harness import Baresip, write_tone
from tests.system.system_serve import Serve, run_hotline, serve_env

pytestmark = pytest.mark.peers


def test_system_sigterm_with_a_live_call_exits_0_and_says_goodbye_by_bye(tmp_path: Path) -> None:
    """SIGTERM while a caller is listening: the caller gets a BYE, the process exits 0 without a traceback."""
    serve = Serve(tmp_path / "serve", serve_env(tmp_path / "serve", tmp_path / "prompt-cache"))
    caller = Baresip(tmp_path / "caller", audio_source=write_tone(tmp_path / "silence.wav", 0.0, 60.0, 0.0))
    try:
        serve.wait_listening()
        caller.start(dial=f"sip:12345@{serve.target}", seconds=60)
        caller.wait_log("Call established", timeout=20)
        caller.wait_log("incoming rtp", timeout=20)  # the greeting is flowing
        code = serve.terminate()
        assert code == 0, serve.log()[-2000:]
        caller.wait_call_end(timeout=10)  # the IVR hung up before exiting
        log = serve.log()
        assert "hotline serve: shutting down" in log
        assert "Traceback" not in log
    finally:
        caller.stop()
        serve.kill()


@pytest.mark.parametrize(
    ("name", "line", "broken"),
    [
        ("ivr.yaml", 3, "port: 5060: 5070\n"),  # read before the engine starts
        ("bridge.yaml", 7, "node_id: 1: 2\n"),  # read by the application factory
    ],
)
def test_system_broken_config_exits_2_naming_file_and_line(tmp_path: Path, name: str, line: int, broken: str) -> None:
    """A broken YAML file in HOTLINE_CONFIG_DIR: exit code 2, a message with the file and line, no traceback."""
    conf = tmp_path / "config"
    shutil.copytree(config_dir({}), conf, ignore=shutil.ignore_patterns("*.py", "__pycache__", "py.typed"))
    lines = (conf / name).read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(line - 1, broken)
    (conf / name).write_text("".join(lines), encoding="utf-8")
    env = serve_env(tmp_path, tmp_path / "prompt-cache", HOTLINE_CONFIG_DIR=str(conf))
    done = run_hotline(tmp_path, env, "serve", "--host", "127.0.0.1", "--port", "0")
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "Traceback" not in output
    assert f"{conf / name}:{line}:" in output, output
    assert "configuration error" in output
