"""The warm-transfer driver over fake Call/CallEngine on virtual time (instant, deterministic)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from bridge import transfer_sm as sm
from bridge.agents import MemoryAgentState
from bridge.transfer import TransferDriver
from tests.kit.call import AgentBehaviour, FakeCall, FakeEngine
from tests.kit.prompts import FakePrompts

Run = Callable[[Coroutine[Any, Any, Any]], Any]


class Rig:
    def __init__(self, behaviours: dict[str, AgentBehaviour], available: tuple[str, ...] = ("a1", "a2")) -> None:
        self.engine = FakeEngine({f"sip:{k}@agents": v for k, v in behaviours.items()})
        self.prompts = FakePrompts.transfer()
        self.agents = MemoryAgentState()
        self.available = available
        self.pops: list[tuple[float, str]] = []
        self.marks: list[sm.MarkOrder] = []
        self.caller = FakeCall(caller="13900000001")

    async def setup(self) -> TransferDriver:
        for i, a in enumerate(["a1", "a2", "a3"]):
            await self.agents.register(a, [])
            if a in self.available:
                await self.agents.set_presence(a, "available", float(i))

        async def resolve(agent_id: str) -> str:
            return f"sip:{agent_id}@agents"

        async def pop(agent_id: str) -> None:
            self.pops.append((asyncio.get_running_loop().time(), agent_id))

        async def mark(m: sm.MarkOrder) -> None:
            self.marks.append(m)

        return TransferDriver(self.caller, self.engine, self.prompts, self.agents, resolve, pop, mark,
                              whisper_slots={"request_type": "投诉", "category": "噪声", "district": "朝阳区",
                                             "urgency": "一般", "repeat_note": ""},
                              settings=sm.Settings(max_agents=3, wait_s=20, poll_s=1, choice_s=8),
                              ring_timeout_s=15, render_in_thread=False, wall_clock=lambda: 500.0)

    def heard(self, call: FakeCall) -> list[str]:
        return [label for _t, label in call.heard]


def test_happy_path_notice_hold_whisper_pop_then_bridge(vrun: Run) -> None:
    rig = Rig({"a1": AgentBehaviour(answer_after=3.0)})

    async def go() -> None:
        d = await rig.setup()
        fin = await d.run()
        assert fin == sm.Finish("bridged", "a1")
        leg = rig.engine.legs["sip:a1@agents"]
        assert rig.heard(rig.caller)[:2] == ["transfer.notice", "hold.music"]
        assert rig.heard(leg) == ["whisper.agent"]  # the whisper reaches the agent only
        assert "whisper.agent" not in rig.heard(rig.caller)
        bridge = rig.engine.bridges[0]
        assert bridge.a is rig.caller and bridge.b is leg
        assert rig.pops[0][0] <= d.metrics.bridged and d.metrics.bridged - d.metrics.whisper_started >= 2.5
        assert d.metrics.setup_s is not None and d.metrics.setup_s < 0.5  # ring time (3 s) not counted
        assert sm.MarkOrder("assigned", "bridged", "a1") in rig.marks
        assert (await rig.agents.snapshot())["a1"].state == "talking"
        leg.remote_hangup()  # agent hangs up first → caller offered retry/callback
        await asyncio.sleep(1)
        assert not bridge.active and rig.heard(rig.caller)[-1] == "transfer.agent_unavailable_retry"
        rig.caller.press("2")
        await asyncio.wait_for(d.done.wait(), 30)
        assert rig.heard(rig.caller)[-1] == "callback.promise" and rig.caller.ended
        assert rig.marks[-1].status == "callback_pending"
        assert (await rig.agents.snapshot())["a1"].state == "idle"
    vrun(go())


def test_no_answer_goes_to_next_agent(vrun: Run) -> None:
    rig = Rig({"a1": AgentBehaviour(answer_after=None), "a2": AgentBehaviour(answer_after=2.0)})

    async def go() -> None:
        d = await rig.setup()
        t0 = asyncio.get_running_loop().time()
        fin = await d.run()
        assert fin.status == "bridged" and fin.agent_id == "a2"
        (t1, u1), (t2, u2) = rig.engine.dialled
        assert (u1, u2) == ("sip:a1@agents", "sip:a2@agents") and t2 - t1 >= 15 and t1 - t0 < 1
        assert rig.heard(rig.caller).count("hold.music") >= 4  # hold music loops while it rings
        assert (await rig.agents.snapshot())["a1"].state == "idle"
    vrun(go())


def test_nobody_free_callback_and_polite_end(vrun: Run) -> None:
    rig = Rig({}, available=())

    async def go() -> None:
        d = await rig.setup()
        fin = await d.run()
        assert fin.status == "no_agent"
        await asyncio.wait_for(d.done.wait(), 60)
        assert rig.heard(rig.caller)[-1] == "transfer.no_agent_callback" and rig.caller.ended
        assert rig.marks == [sm.MarkOrder("callback_pending", "no_agent", None, "no agent free")]
        assert rig.engine.dialled == []
    vrun(go())


def test_agent_freed_while_waiting_is_taken(vrun: Run) -> None:
    rig = Rig({"a1": AgentBehaviour(answer_after=1.0)}, available=())

    async def go() -> None:
        d = await rig.setup()
        loop = asyncio.get_running_loop()
        loop.call_later(5, lambda: asyncio.ensure_future(rig.agents.set_presence("a1", "available", 600.0)))
        fin = await d.run()
        assert fin == sm.Finish("bridged", "a1") and rig.engine.dialled[0][0] >= loop.time() - 10
    vrun(go())


def test_caller_hangs_up_while_agent_rings(vrun: Run) -> None:
    rig = Rig({"a1": AgentBehaviour(answer_after=10.0)})

    async def go() -> None:
        d = await rig.setup()
        asyncio.get_running_loop().call_later(4, rig.caller.remote_hangup)
        fin = await d.run()
        assert fin.status == "caller_hung_up"
        await asyncio.wait_for(d.done.wait(), 30)
        await asyncio.sleep(10)
        assert rig.engine.bridges == [] and "sip:a1@agents" not in rig.engine.legs  # dial cancelled
        assert any(m.status == "abandoned" for m in rig.marks)
        assert (await rig.agents.snapshot())["a1"].state == "idle"
    vrun(go())


def test_caller_hangs_up_during_whisper_tears_down_agent_leg(vrun: Run) -> None:
    rig = Rig({"a1": AgentBehaviour(answer_after=1.0)})

    async def go() -> None:
        d = await rig.setup()
        asyncio.get_running_loop().call_later(2.0, rig.caller.remote_hangup)  # answered at 1 s, whisper 2.5 s
        fin = await d.run()
        assert fin.status == "caller_hung_up"
        await asyncio.wait_for(d.done.wait(), 30)
        assert rig.engine.legs["sip:a1@agents"].ended and rig.engine.bridges == []
    vrun(go())
