"""Run an :class:`Engine` in-process: inside your own asyncio loop, or on a background thread (for sync tests).

In a coroutine::

    engine = await start_engine(handler, host="127.0.0.1", port=0)   # engine.port is the SIP port
    ...
    await engine.stop()

From synchronous code (pytest without an asyncio plugin, scripts driving baresip/SIPp)::

    with EngineThread(lambda engine: handler, host="127.0.0.1") as runner:
        runner.engine.port                    # SIP port
        runner.run(some_coroutine())          # run a coroutine on the engine's loop, wait for its result
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from config.ivr import IvrConfig
from ivr.app import CallHandler
from ivr.engine.engine import Engine

T = TypeVar("T")


async def start_engine(
    handler: CallHandler | None = None, *, config: IvrConfig | None = None, answer_delay: float = 0.0, **overrides: Any
) -> Engine:
    """Create and start an engine on the running loop; ``overrides`` are IvrConfig fields (host, port, ...)."""
    base = config or IvrConfig(host="127.0.0.1", port=0)
    cfg = base.model_copy(update=overrides) if overrides else base
    engine = Engine(cfg, handler)
    engine.answer_delay = answer_delay
    await engine.start()
    return engine


class EngineThread:
    """An engine on its own event loop in a daemon thread."""

    def __init__(
        self,
        factory: Callable[[Engine], CallHandler | Awaitable[CallHandler]] | None = None,
        *,
        config: IvrConfig | None = None,
        answer_delay: float = 0.0,
        **overrides: Any,
    ) -> None:
        self.factory = factory
        self.config = config
        self.answer_delay = answer_delay
        self.overrides = overrides
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="engine", daemon=True)
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        assert self._engine is not None, "EngineThread not started"
        return self._engine

    def start(self) -> EngineThread:
        self.thread.start()

        async def boot() -> Engine:
            engine = await start_engine(None, config=self.config, answer_delay=self.answer_delay, **self.overrides)
            if self.factory is not None:
                handler = self.factory(engine)
                if inspect.isawaitable(handler):
                    handler = await handler
                engine.set_handler(handler)
            return engine

        self._engine = self.run(boot())
        return self

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[[], T], timeout: float | None = 10.0) -> T:
        """Run a plain function on the loop thread (e.g. to read engine state consistently)."""

        async def wrapper() -> T:
            return fn()

        return self.run(wrapper(), timeout)

    def stop(self) -> None:
        if self._engine is not None:
            try:
                self.run(self._engine.stop(), timeout=10)
            finally:
                self._engine = None
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
        if not self.loop.is_running():
            self.loop.close()

    def __enter__(self) -> EngineThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
