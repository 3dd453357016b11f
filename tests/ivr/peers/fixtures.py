"""Helpers for the real-peer tests: an in-process IVR on its own thread, a pool of baresip instances."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ivr.engine import Engine, EngineThread
from tests.ivr.peers.app import CallRecord, PeerApp
from tests.ivr.peers.harness import Baresip, wait_until


class Ivr:
    """An in-process engine (own thread) running :class:`PeerApp`."""

    def __init__(self, answer_delay: float = 0.0, **overrides: object) -> None:
        self.app: PeerApp | None = None
        self.runner = EngineThread(self._factory, answer_delay=answer_delay, host="127.0.0.1", port=0, **overrides)

    def _factory(self, engine: Engine) -> PeerApp:
        self.app = PeerApp(engine)
        return self.app

    def start(self) -> Ivr:
        self.runner.start()
        return self

    @property
    def engine(self) -> Engine:
        return self.runner.engine

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.engine.port}"

    def uri(self, user: str = "12345") -> str:
        return f"sip:{user}@127.0.0.1:{self.engine.port}"

    def records(self) -> list[CallRecord]:
        assert self.app is not None
        with self.app.lock:
            return list(self.app.calls)

    def record(self, call_id: str | None = None, index: int = -1, timeout: float = 10.0) -> CallRecord:
        def find() -> CallRecord | None:
            recs = [r for r in self.records() if call_id is None or r.call_id == call_id]
            return recs[index] if recs else None

        wait_until(lambda: find() is not None, timeout, what="a call at the IVR")
        found = find()
        assert found is not None
        return found

    def live_calls(self) -> int:
        return self.runner.call(lambda: sum(1 for c in self.engine.calls.values() if c.state.phase != "ended"))

    def stop(self) -> None:
        self.runner.stop()


class BaresipPool:
    """Starts baresip instances under one directory and stops them all (use in a fixture finalizer)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.started: list[Baresip] = []

    def __call__(self, name: str, **kw: Any) -> Baresip:
        peer = Baresip(self.root / name, **kw)
        self.started.append(peer)
        return peer

    def stop_all(self) -> None:
        for peer in self.started:
            peer.stop()
