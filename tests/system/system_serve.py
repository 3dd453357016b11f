"""Run the real product, ``hotline serve`` with its default application, as a subprocess in a scratch directory.

Everything it writes (SQLite database, order journal, sequence files, prompt cache) goes under the scratch
directory through ``HOTLINE_<COMPONENT>__<FIELD>`` overrides; no speech model is given, so it runs in keypad mode.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from tests.ivr.peers.harness import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
HOTLINE = Path(sys.executable).parent / "hotline"
LISTENING = re.compile(r"hotline serve: listening on [\d.]+:(\d+)")


def serve_env(workdir: Path, cache_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(
        HOTLINE_BRIDGE__DATABASE_URL=f"sqlite:///{workdir / 'hotline.db'}",
        HOTLINE_BRIDGE__JOURNAL_PATH=str(workdir / "orders.journal"),
        HOTLINE_BRIDGE__SEQUENCE_DIR=str(workdir),
        HOTLINE_BRIDGE__DESK__PORT=str(free_port()),
        HOTLINE_BRIDGE__AGENTS="[]",  # nobody to transfer to: the caller gets the callback path
        HOTLINE_BRIDGE__TRANSFER__WAIT_FOR_FREE_AGENT_S="1",
        HOTLINE_PROMPTS__CACHE_DIR=str(cache_dir),
        HOTLINE_ASR__MODEL_PATH=str(workdir / "no-model"),  # missing on purpose: keypad (DTMF) mode
        HOTLINE_IVR__RTP_PORT_MIN="30000",
        HOTLINE_IVR__RTP_PORT_MAX="39999",
        HOTLINE_DEMO="1",  # the demo credentials of config/bridge.yaml, as `./install.sh run` (bridge.web.check_demo)
    )
    env.update(extra)
    return env


class Serve:
    """``hotline serve --host 127.0.0.1 --port 0`` in ``workdir``; output in ``workdir/serve.log`` (``debug``: with
    ``-vv``, e.g. every prompt a call plays and every synthesis with its duration)."""

    def __init__(self, workdir: Path, env: dict[str, str], *args: str, debug: bool = False) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.log_path = workdir / "serve.log"
        self._log = open(self.log_path, "wb")
        argv = [str(HOTLINE), *(["-vv"] if debug else []), "serve", "--host", "127.0.0.1", "--port", "0", *args]
        self.proc = subprocess.Popen(argv, cwd=workdir, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self.port = 0

    def wait_listening(self, timeout: float = 60.0) -> Serve:
        def listening() -> bool:
            found = LISTENING.search(self.log())
            if found:
                self.port = int(found.group(1))
            assert self.proc.poll() is None or found, f"hotline serve exited early:\n{self.log()}"
            return found is not None

        wait_until(listening, timeout, 0.1, what="hotline serve listening")
        return self

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 60) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def terminate(self, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self._log.close()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()


def run_hotline(
    workdir: Path, env: dict[str, str], *args: str, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run one ``hotline`` command to its end."""
    return subprocess.run([str(HOTLINE), *args], cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout)
