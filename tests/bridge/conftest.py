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


# -- a HotlineHandoff on fakes ------------------------------------------------------------------------------------
from bridge.auth import hash_password  # noqa: E402

PASSWORDS = {"a1001": "pw-1001", "a1002": "pw-1002", "a1003": "pw-1003"}
_HASHES = {k: hash_password(v) for k, v in PASSWORDS.items()}
PLATFORM_TOKEN = "test-platform-token"


def bridge_config(tmp_path: Path, url: str, schema: str | None = None, redis_url: str | None = None,
                  **over: Any) -> Any:
    import hashlib

    from config.bridge import BridgeConfig

    data: dict[str, Any] = {
        "database_url": url, "db_schema": schema, "journal_path": str(tmp_path / "orders.journal"),
        "sequence_dir": str(tmp_path / "seq"), "redis_url": redis_url,
        "redis_prefix": f"test:{uuid.uuid4().hex[:10]}:", "replay_interval_s": 0.2,
        "agents": [{"id": a, "name": n, "sip_uri": f"sip:{a}@agents", "skills": ["general"],
                    "password_hash": _HASHES[a]} for a, n in (("a1001", "张敏"), ("a1002", "李强"), ("a1003", "王芳"))],
        "deadlines": {"policy_file": None, "by_type": {"投诉": {"working_days": 10}, "咨询": {"working_days": 2}},
                      "by_urgency": {"emergency": {"hours": 2}}, "by_category": {"water": {"hours": 24}}},
        "transfer": {"ring_timeout_s": 3, "wait_for_free_agent_s": 2, "poll_interval_s": 0.2,
                     "agent_retry_prompt_timeout_s": 1},
        "desk": {"port": 0, "token_secret": "test-secret",
                 "api_tokens": {"city": hashlib.sha256(PLATFORM_TOKEN.encode()).hexdigest()}},
    }
    data.update(over)
    return BridgeConfig.model_validate(data)


@pytest.fixture
def make_handoff(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Factory: HotlineHandoff(cfg, FakeEngine, FakePrompts) on a given database (and Redis); schemas dropped after."""
    from bridge.db import drop_schema, make_engine

    schemas: list[str] = []

    def factory(url: str | None = None, schema: str | None = None, redis_url: str | None = None,
                engine: Any = None, prompts: Any = None, **over: Any) -> Any:
        from bridge.handoff import HotlineHandoff
        from tests.kit.call import FakeEngine
        from tests.kit.prompts import FakePrompts

        if url is None:
            url = f"sqlite:///{tmp_path / 'hotline.db'}"
        if schema:
            schemas.append(schema)
        cfg = bridge_config(tmp_path, url, schema, redis_url, **over)
        h = HotlineHandoff.from_config(engine or FakeEngine(), prompts or FakePrompts.transfer(prompt_speed()), cfg)
        h.render_in_thread = False
        return h

    yield factory
    for s in schemas:
        eng = make_engine(PG_URL, None)
        drop_schema(eng, s)
        eng.dispose()


def prompt_speed() -> dict[str, float]:
    """Short prompt durations for real-time tests."""
    return {"transfer.notice": 0.1, "hold.music": 0.3, "whisper.agent": 0.1, "transfer.no_agent_callback": 0.1,
            "callback.promise": 0.1, "transfer.agent_unavailable_retry": 0.1}
