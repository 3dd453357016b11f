"""HotlineHandoff end to end on fakes of the call engine, with the real databases and Redis; faults injected by
cutting a TCP proxy in front of PostgreSQL / Redis while a call is in progress."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text

from bridge.api import OrderDraft
from tests.bridge.bridge_proxy import TcpProxy
from tests.kit.call import AgentBehaviour, FakeCall, FakeEngine
from tests.kit.prompts import FakePrompts

PG = "postgresql+psycopg://127.0.0.1:{port}/test"
Factory = Callable[..., Any]


def draft(number: str = "13900000001", **kw: Any) -> OrderDraft:
    d = OrderDraft(call_id=f"c-{number}-{id(kw)}", caller_number=number, request_type="投诉", category_code="noise",
                   category_name="噪声扰民", district="朝阳区", street="望京街道", address="望京西路1号",
                   title="夜间施工", content="晚上十一点还在施工", transcript=[("caller", "晚上十一点还在施工")])
    for k, v in kw.items():
        setattr(d, k, v)
    return d


async def online(h: Any, *agents: str) -> None:
    for i, a in enumerate(agents):
        await h.agents.set_presence(a, "available", 1000.0 + i)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def test_order_committed_then_popped_then_bridged(backend: str, make_handoff: Factory) -> None:
    from tests.bridge.conftest import PG_URL, unique_schema

    engine = FakeEngine({"sip:a1001@agents": AgentBehaviour(answer_after=0.05)})
    prompts = FakePrompts.transfer({"transfer.notice": 0.1, "hold.music": 0.2, "whisper.agent": 0.1})
    h = make_handoff(PG_URL, unique_schema(), engine=engine, prompts=prompts) if backend == "postgresql" else \
        make_handoff(engine=engine, prompts=prompts)

    async def go() -> None:
        await h.start()
        try:
            await online(h, "a1001")
            earlier = await h.create_order(draft(category_code="water", category_name="供水"))
            assert not earlier.repeat_caller and not earlier.journaled
            ref = await h.create_order(draft())
            assert ref.repeat_caller and ref.previous_orders == (earlier.order_no,)
            stored = h.store.get(ref.order_no)  # committed before any transfer starts
            assert stored["status"] == "new" and stored["due_at"] == ref.due_at and stored["call_count"] == 2
            events: list[tuple[str, Any]] = []
            h.hub.subscribe("a1001", lambda ev: events.append((ev.type, ev.data)))
            bridged_at: list[int] = []
            real_bridge = engine.bridge

            def bridge(a: Any, b: Any) -> Any:
                bridged_at.append(len(events))
                return real_bridge(a, b)

            engine.bridge = bridge  # type: ignore[method-assign]
            caller = FakeCall(caller="13900000001")
            out = await h.warm_transfer(caller, ref, draft())
            assert out.status == "bridged" and out.agent_id == "a1001"
            pops = [d for t, d in events[: bridged_at[0]] if t == "pop"]
            assert pops and pops[0]["order"]["order_no"] == ref.order_no  # desk had it before the bridge
            assert pops[0]["repeat_caller"] and pops[0]["call_count"] == 2
            assert [p["order_no"] for p in pops[0]["order"]["previous_orders"]] == [earlier.order_no]
            whisper = next(s for p, s in prompts.rendered if p == "whisper.agent")
            assert whisper["request_type"] == "投诉" and whisper["district"] == "朝阳区"
            assert "老户" in whisper["repeat_note"]
            after = h.store.get(ref.order_no)
            assert after["status"] == "assigned" and after["agent_id"] == "a1001"
            assert after["transfer_outcome"] == "bridged"
            caller.remote_hangup()
            await asyncio.wait_for(h.wait_done(caller.call_id), 5)
            assert engine.legs["sip:a1001@agents"].ended  # agent leg torn down with the caller
        finally:
            await h.close()
    asyncio.run(go())


def test_unreasonable_demand_recorded(make_handoff: Factory) -> None:
    h = make_handoff()

    async def go() -> None:
        ref = await h.record_unreasonable(draft(disposition="decline", rule_id="fengshui", request_type="求助"))
        with h.store.engine.connect() as c:
            row = c.execute(text("SELECT rule_id FROM unreasonable_demands WHERE order_no=:n"),
                            {"n": ref.order_no}).one()
        assert row[0] == "fengshui" and h.store.get(ref.order_no)["status"] == "closed"
        await h.close()
    asyncio.run(go())


@pytest.mark.services
def test_database_down_during_call_journal_then_replay(make_handoff: Factory, caplog: pytest.LogCaptureFixture) -> None:
    from tests.bridge.conftest import unique_schema

    async def go() -> None:
        proxy = await TcpProxy("127.0.0.1", 5432).start()
        engine = FakeEngine({"sip:a1001@agents": AgentBehaviour(answer_after=0.05)})
        # built off the loop: the proxy runs on this loop, and building connects synchronously
        h = await asyncio.to_thread(make_handoff, PG.format(port=proxy.port), unique_schema(), engine=engine)
        await h.start()
        try:
            await online(h, "a1001")
            before = await h.create_order(draft("13600000000"))
            assert not before.journaled
            await proxy.cut()  # PostgreSQL unreachable while the next caller is in the flow
            ref = await h.create_order(draft())
            assert ref.journaled and ref.order_no and ref.due_at
            assert [e["order_no"] for e in h.journal.pending()] == [ref.order_no]
            caller = FakeCall(caller="13900000001")
            out = await h.warm_transfer(caller, ref, draft())  # the call goes on: pop from the draft, bridge
            assert out.status == "bridged" and out.agent_id == "a1001"
            assert await h.replay_journal() == (0, 3)  # still down: order + 2 marks kept
            await proxy.restore()
            for _ in range(100):  # the background replayer brings it in
                if not h.journal.pending():
                    break
                await asyncio.sleep(0.1)
            assert h.journal.pending() == []
            got = await asyncio.to_thread(h.store.get, ref.order_no)  # (the proxy runs on this loop)
            assert got["content"] == "晚上十一点还在施工" and got["agent_id"] == "a1001" and got["status"] == "assigned"
            assert got["due_at"] == ref.due_at
            dup = {"order_no": ref.order_no, "call_id": got["call_id"], "caller_number": "1",
                   "call_time": got["call_time"], "request_type": "咨询"}
            assert (await asyncio.to_thread(h.store.create, dup)).created is False  # replay is idempotent
            caller.remote_hangup()
        finally:
            await h.close()
            await proxy.cut()
    with caplog.at_level(logging.WARNING):
        asyncio.run(go())
    assert "journaled" in caplog.text


@pytest.mark.services
def test_redis_down_falls_back_and_calls_continue(make_handoff: Factory, caplog: pytest.LogCaptureFixture) -> None:
    async def go() -> None:
        proxy = await TcpProxy("127.0.0.1", 6379).start()
        engine = FakeEngine({f"sip:{a}@agents": AgentBehaviour(answer_after=0.05) for a in ("a1001", "a1002")})
        h = make_handoff(redis_url=f"redis://127.0.0.1:{proxy.port}/15", engine=engine)
        await h.start()
        try:
            assert h.agents.name == "redis"
            await online(h, "a1001", "a1002")
            first = FakeCall(caller="13900000001")
            ref = await h.create_order(draft())
            assert (await h.warm_transfer(first, ref, draft())).agent_id == "a1001"
            await proxy.cut()  # Redis dies mid-shift
            second = FakeCall(caller="13900000002")
            ref2 = await h.create_order(draft("13900000002"))
            out = await h.warm_transfer(second, ref2, draft("13900000002"))
            assert out.status == "bridged" and out.agent_id == "a1002"  # a1001 is busy in the local mirror too
            assert h.agents.name == "memory(fallback)"
            first.remote_hangup()
            second.remote_hangup()
        finally:
            await proxy.cut()
            await h.close()
    with caplog.at_level(logging.WARNING):
        asyncio.run(go())
    assert "falling back to in-process" in caplog.text


def test_nobody_answers_callback_order(make_handoff: Factory) -> None:
    engine = FakeEngine({f"sip:{a}@agents": AgentBehaviour(answer_after=None) for a in ("a1001", "a1002", "a1003")})
    h = make_handoff(engine=engine, transfer={"ring_timeout_s": 0.2, "max_agents_tried": 2, "announce": True,
                                              "wait_for_free_agent_s": 5, "poll_interval_s": 0.1})

    async def go() -> None:
        await h.start()
        await online(h, "a1001", "a1002", "a1003")
        caller = FakeCall()
        ref = await h.create_order(draft())
        out = await h.warm_transfer(caller, ref, draft())
        assert out.status == "no_agent" and [u for _t, u in engine.dialled] == ["sip:a1001@agents",
                                                                                 "sip:a1002@agents"]
        await asyncio.wait_for(h.wait_done(caller.call_id), 5)
        o = h.store.get(ref.order_no)
        assert caller.ended and o["status"] == "callback_pending" and o["callback_requested"] is True
        assert [x["status"] for x in o["history"]] == ["new", "callback_pending"]
        await h.close()
    asyncio.run(go())


def test_nobody_free_hands_back_to_the_flow_when_it_announces(make_handoff: Factory) -> None:
    prompts = FakePrompts.transfer()
    h = make_handoff(prompts=prompts, transfer={"wait_for_free_agent_s": 0.5, "poll_interval_s": 0.1,
                                                "announce": False})

    async def go() -> None:
        await h.start()  # every agent offline
        caller = FakeCall()
        ref = await h.create_order(draft())
        out = await h.warm_transfer(caller, ref, draft())
        assert out.status == "no_agent" and not caller.ended  # the flow says sorry and promises the callback
        rendered = [p for p, _s in prompts.rendered]
        assert "transfer.notice" not in rendered and "transfer.no_agent_callback" not in rendered
        assert "hold.music" in rendered
        assert h.store.get(ref.order_no)["status"] == "callback_pending"
        await h.close()
    asyncio.run(go())


@pytest.mark.services
def test_database_down_at_start_migrates_and_replays_later(make_handoff: Factory) -> None:
    from tests.bridge.conftest import unique_schema

    async def go() -> None:
        proxy = await TcpProxy("127.0.0.1", 5432).start()
        port = proxy.port
        await proxy.cut()  # PostgreSQL unreachable when the IVR starts
        h = await asyncio.to_thread(make_handoff, PG.format(port=port), unique_schema())
        assert not h.migrated
        await h.start()
        try:
            ref = await h.create_order(draft())
            assert ref.journaled
            proxy.port = port
            await proxy.restore()
            for _ in range(100):
                if h.migrated and not h.journal.pending():
                    break
                await asyncio.sleep(0.1)
            got = await asyncio.to_thread(h.store.get, ref.order_no)
            assert got["caller_number"] == "13900000001" and got["due_at"] == ref.due_at
        finally:
            await h.close()
            await proxy.cut()
    asyncio.run(go())


def test_agent_resolved_through_the_engine_registrar(make_handoff: Factory) -> None:
    engine = FakeEngine({"sip:a1009@10.0.0.9:5060": AgentBehaviour(answer_after=0.05)},
                        registrar={"a1009": "sip:a1009@10.0.0.9:5060"})
    h = make_handoff(engine=engine, agents=[{"id": "a1009", "name": "赵六"}])  # no static SIP URI: registered phone

    async def go() -> None:
        await h.start()
        await online(h, "a1009")
        caller = FakeCall()
        ref = await h.create_order(draft())
        out = await h.warm_transfer(caller, ref, draft())
        assert out.status == "bridged" and engine.dialled[0][1] == "sip:a1009@10.0.0.9:5060"
        with h.store.engine.connect() as c:
            rec = c.execute(text("SELECT outcome, agent_id FROM call_records WHERE order_no=:n"),
                            {"n": ref.order_no}).one()
        assert tuple(rec) == ("bridged", "a1009")
        caller.remote_hangup()
        await h.close()
    asyncio.run(go())


def test_node_id_clash_takes_the_next_number(make_handoff: Factory, tmp_path: Any,
                                             caplog: pytest.LogCaptureFixture) -> None:
    h = make_handoff()

    async def go() -> None:
        first = await h.create_order(draft())
        (tmp_path / "seq" / "orderseq-01.ctr").unlink()  # as if a second node with the same node id started
        second = await h.create_order(draft("13700000000"))
        assert second.order_no != first.order_no and not second.journaled
        assert h.store.get(second.order_no)["caller_number"] == "13700000000"
        assert h.store.get(first.order_no)["caller_number"] == "13900000001"
        await h.close()
    asyncio.run(go())
    assert "configured on two IVR nodes" in caplog.text


def test_replay_renumbers_a_journaled_order_whose_number_was_taken(make_handoff: Factory) -> None:
    h = make_handoff()

    async def go() -> None:
        taken = await h.create_order(draft())  # stored by "the other node"
        entry = h._entry(draft("13700000000"))
        entry["order_no"] = taken.order_no  # journaled elsewhere with the same number while the DB was down
        h.journal.append(entry)
        h.journal.append({"kind": "mark", "order_no": taken.order_no, "status": "assigned", "note": None,
                          "fields": {"agent_id": "a1002"}, "at": entry["call_time"]})
        assert await h.replay_journal() == (2, 0)
        mine = h.store.search(caller_number="13700000000")
        assert len(mine) == 1 and mine[0]["order_no"] != taken.order_no and mine[0]["agent_id"] == "a1002"
        other = h.store.get(taken.order_no)
        assert other["caller_number"] == "13900000001" and other["agent_id"] is None  # untouched
        await h.close()
    asyncio.run(go())
