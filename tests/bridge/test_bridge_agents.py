"""Agent state: the same suite on the in-process and the Redis implementation (real Redis, test key prefix)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

import pytest

from bridge.agents import AgentState, FailoverAgentState, MemoryAgentState

REDIS_URL = "redis://127.0.0.1:6379/15"


@asynccontextmanager
async def make(kind: str) -> AsyncIterator[AgentState]:
    if kind == "memory":
        yield MemoryAgentState()
        return
    from bridge.agents_redis import RedisAgentState

    st = RedisAgentState.from_url(REDIS_URL, f"test:{uuid.uuid4().hex[:10]}:")
    try:
        yield st
    finally:
        await st.clear()
        await st.close()


KINDS = ["memory", pytest.param("redis", marks=pytest.mark.services)]
Run = Callable[[Coroutine[Any, Any, None]], None]


def arun(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coro)


async def _setup(st: AgentState) -> None:
    for i, aid in enumerate(["a1", "a2", "a3"]):
        await st.register(aid, ["general"] + (["water"] if aid == "a3" else []))
        await st.set_presence(aid, "available", 100.0 + i)


@pytest.mark.parametrize("kind", KINDS)
def test_longest_idle_first_and_back_of_line(kind: str) -> None:
    async def go() -> None:
        async with make(kind) as st:
            await _setup(st)
            assert await st.claim("c1", None, ()) == "a1"
            assert await st.claim("c2", None, ()) == "a2"
            await st.release("a1", 200.0)
            assert await st.claim("c3", None, ()) == "a3"
            assert await st.claim("c4", None, ()) == "a1"
            assert await st.claim("c5", None, ()) is None
            snap = await st.snapshot()
            assert snap["a1"].state == "reserved" and snap["a1"].call_id == "c4"
    arun(go())


@pytest.mark.parametrize("kind", KINDS)
def test_skills_exclusions_presence(kind: str) -> None:
    async def go() -> None:
        async with make(kind) as st:
            await _setup(st)
            assert await st.claim("c1", "water", ()) == "a3"
            assert await st.claim("c2", "water", ()) is None
            assert await st.claim("c3", None, ("a1",)) == "a2"
            await st.set_presence("a1", "away", 300.0)
            assert await st.claim("c4", None, ()) is None
            await st.set_presence("a1", "available", 301.0)
            await st.set_call_state("a1", "talking", "cX")
            assert await st.claim("c5", None, ()) is None  # busy agents are never claimed
            await st.release("a1", 302.0)
            assert await st.claim("c6", None, ()) == "a1"
    arun(go())


@pytest.mark.parametrize("kind", KINDS)
def test_concurrent_claims_never_share_an_agent(kind: str) -> None:
    async def go() -> None:
        async with make(kind) as st:
            for i in range(5):
                await st.register(f"b{i}", [])
                await st.set_presence(f"b{i}", "available", float(i))
            got = await asyncio.gather(*(st.claim(f"c{i}", None, ()) for i in range(20)))
            real = [g for g in got if g]
            assert sorted(real) == [f"b{i}" for i in range(5)] and got.count(None) == 15
    arun(go())


@pytest.mark.parametrize("kind", KINDS)
def test_waiting_queue_order(kind: str) -> None:
    async def go() -> None:
        async with make(kind) as st:
            await st.enqueue("late", 5.0)
            await st.enqueue("early", 1.0)
            assert await st.waiting() == ["early", "late"]
            await st.dequeue("early")
            assert await st.waiting() == ["late"]
    arun(go())


@pytest.mark.services
def test_failover_to_memory_when_redis_is_unreachable(caplog: pytest.LogCaptureFixture) -> None:
    from bridge.agents_redis import RedisAgentState

    async def go() -> None:
        dead = RedisAgentState.from_url("redis://127.0.0.1:1/0", "x:", timeout=0.3)  # nothing listens there
        st = FailoverAgentState(dead)
        await _setup(st)
        assert st.name == "memory(fallback)"
        assert await st.claim("c1", None, ()) == "a1"  # calls continue on the in-process mirror
        await dead.close()
    with caplog.at_level("WARNING"):
        arun(go())
    assert "falling back to in-process" in caplog.text


@pytest.mark.parametrize("kind", KINDS)
def test_waiting_calls_first_come_first_served(kind: str) -> None:
    import time

    async def go() -> None:
        async with make(kind) as st:
            await st.register("a1", [])
            now = time.time()
            await st.enqueue("older", now - 5)
            await st.enqueue("newer", now - 1)
            await st.set_presence("a1", "available", now)
            assert await st.claim("newer", None, ()) is None  # must wait behind "older"
            assert await st.claim("older", None, ()) == "a1"
            assert await st.waiting() == ["newer"]
            await st.release("a1", now + 1)
            assert await st.claim("newer", None, ()) == "a1"
            await st.enqueue("stale", now - 1000)  # its IVR died long ago: does not block the queue
            await st.enqueue("live", now)
            await st.release("a1", now + 2)
            assert await st.claim("live", None, ()) == "a1"
    arun(go())


@pytest.mark.services
def test_failover_returns_to_redis_when_it_is_back() -> None:
    from bridge.agents_redis import RedisAgentState
    from tests.bridge.bridge_proxy import TcpProxy

    async def go() -> None:
        proxy = await TcpProxy("127.0.0.1", 6379).start()
        primary = RedisAgentState.from_url(f"redis://127.0.0.1:{proxy.port}/15", f"test:{uuid.uuid4().hex[:8]}:",
                                           timeout=0.5)
        clock = [0.0]
        st = FailoverAgentState(primary, retry_after_s=5, clock=lambda: clock[0])
        await _setup(st)
        assert st.name == "redis" and await st.claim("c1", None, ()) == "a1"
        await proxy.cut()
        assert await st.claim("c2", None, ()) == "a2" and st.name == "memory(fallback)"
        await proxy.restore()
        assert await st.claim("c3", None, ()) == "a3" and st.name == "memory(fallback)"  # not retried yet
        clock[0] = 10.0
        await st.release("a1", 50.0)  # retried: Redis answers again
        assert st.name == "redis"
        assert await st.claim("c4", None, ()) == "a1"
        await primary.clear()
        await primary.close()
        await proxy.cut()
    arun(go())


@pytest.mark.services
def test_desk_events_relayed_across_processes_through_redis() -> None:
    from redis.asyncio import Redis

    from bridge.hub import DeskHub, RedisRelay

    async def go() -> None:
        channel = f"test:{uuid.uuid4().hex[:8]}:desk"
        hubs = [DeskHub(), DeskHub()]  # two IVR processes' hubs
        conns = [Redis.from_url(REDIS_URL, decode_responses=True) for _ in hubs]
        relays = [RedisRelay(h, r, channel) for h, r in zip(hubs, conns, strict=True)]
        for r in relays:
            await r.start()
        await asyncio.sleep(0.2)  # subscriptions active
        got: list[str] = []
        hubs[1].subscribe("a1001", lambda ev: got.append(ev.data["order_no"]))
        ev = await hubs[0].publish("a1001", "pop", {"order_no": "R1"})
        for _ in range(50):
            if got:
                break
            await asyncio.sleep(0.05)
        assert got == ["R1"] and [e.id for e in hubs[1].since("a1001", 0)] == [ev.id]
        assert [e.id for e in hubs[0].since("a1001", 0)] == [ev.id]  # delivered once locally too
        for r in relays:
            await r.stop()
        for c in conns:
            await c.aclose()
    arun(go())
