"""Helpers for the real-peer tests: an in-process IVR on its own thread, a pool of baresip instances."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from ivr.engine import Engine, EngineThread
from tests.ivr.peers.app import CallRecord, PeerApp
from tests.ivr.peers.harness import Baresip, wait_until


class Ivr:
    """An in-process engine (own thread) running :class:`PeerApp`.

    Started instances are in :attr:`running`; ``tests/ivr/conftest.py`` checks them after every test and
    :meth:`stop` checks once more: a call state machine error (which the core turns into a hang-up) fails the test.
    """

    running: ClassVar[list[Ivr]] = []

    def __init__(self, answer_delay: float = 0.0, **overrides: object) -> None:
        self.app: PeerApp | None = None
        self.runner = EngineThread(self._factory, answer_delay=answer_delay, host="127.0.0.1", port=0, **overrides)

    def _factory(self, engine: Engine) -> PeerApp:
        self.app = PeerApp(engine)
        return self.app

    def start(self) -> Ivr:
        self.runner.start()
        Ivr.running.append(self)
        return self

    def call_errors(self) -> int:
        """Exceptions the engine's call state machines raised (each one ended its call as ``internal_error``)."""
        return int(self.runner.call(lambda: self.engine.core.stats["call_errors"]))

    def check_no_call_errors(self) -> None:
        errors = self.call_errors()
        assert errors == 0, f"{errors} call state machine error(s) in the engine at {self.target} (see the log)"

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
        """Stop the engine; fails when one of its calls hit a state machine error (shutdown included)."""
        if self not in Ivr.running:
            self.runner.stop()
            return
        Ivr.running.remove(self)
        engine = self.engine
        self.runner.stop()
        errors = engine.core.stats["call_errors"]  # the loop has stopped: read directly
        assert errors == 0, f"{errors} call state machine error(s) in the engine (see the log)"


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
