"""Fixtures for bridge tests: a virtual-time event loop (instant, deterministic timers)."""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


class _VirtualSelector(selectors.DefaultSelector):
    """When nothing is ready, jump the loop's clock to the next timer instead of sleeping."""

    loop: VirtualTimeLoop

    def select(self, timeout: float | None = None) -> list[Any]:
        if timeout is None:
            return super().select(None)  # only a thread or real I/O can wake us: wait for it for real
        events = super().select(0)
        if not events and timeout > 0:
            self.loop.virtual_now += timeout
        return events


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        sel = _VirtualSelector()
        super().__init__(sel)
        sel.loop = self
        self.virtual_now = 1000.0

    def time(self) -> float:
        return self.virtual_now


@pytest.fixture
def vrun() -> Iterator[Callable[[Coroutine[Any, Any, T]], T]]:
    loop = VirtualTimeLoop()

    def run(coro: Coroutine[Any, Any, T]) -> T:
        return loop.run_until_complete(coro)

    yield run
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in pending:
        t.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()


# -- databases ----------------------------------------------------------------------------------------------------
import os  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

from sqlalchemy import Engine  # noqa: E402

PG_URL = os.environ.get("HOTLINE_TEST_PG_URL", "postgresql+psycopg://127.0.0.1:5432/test")
REDIS_URL = os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def unique_schema() -> str:
    return f"t_bridge_{uuid.uuid4().hex[:12]}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None, Engine]]:
    """(url, schema, migrated engine) on SQLite (a WAL file) and on the real PostgreSQL (a fresh schema)."""
    from bridge.db import drop_schema, make_engine, upgrade

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hotline.db'}"
        eng = make_engine(url)
        upgrade(eng)
        yield url, None, eng
        eng.dispose()
    else:
        schema = unique_schema()
        eng = make_engine(PG_URL, schema)
        upgrade(eng)
        yield PG_URL, schema, eng
        drop_schema(eng, schema)
        eng.dispose()
