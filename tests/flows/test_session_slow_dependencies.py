"""Dependencies slower than the session's guard: a slow TTS and an order write that outlives its guard.

The CI flake of tests/system/test_system_call.py: the order was in the database, but order.created took longer
than the 15 s guard to synthesize, so the caller heard error.system (an apology for a failure that did not
happen) instead of the order number.  And an order write the guard gave up on was cancelled mid-way (a database
error after that point was never journaled) while the flow wrote a second order for the agent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from bridge.api import OrderDraft, OrderRef
from flows.events import CreateOrder, Digits, Failed, OrderCreated, Play, PromptDone, Started
from flows.loader import load_flow
from flows.runner import ChannelRoute, Context, new_call, step
from flows.session import CallReport, SessionDeps, run_call_report
from ivr.clock import Clock, LoopClock, VirtualClock
from tests.kit.call import FakeCall
from tests.kit.caller import ScriptedCaller
from tests.kit.classifier import FakeClassifier
from tests.kit.handoff import FakeHandoff
from tests.kit.prompts import FakePrompts
from tests.kit.speech import FakeSpeech

HOTLINE = load_flow(Path(__file__).resolve().parents[2] / "flows" / "definitions" / "hotline.yaml")
ROUTES = {c: ChannelRoute(True, f"sip:{c}@psap") for c in ("110", "119", "120", "122")}
KEYPAD_CALL = [("keys", "1"), ("keys", "13912345678#"), ("keys", "1")]  # menu 1, contact number, "信息正确"


class SlowPrompts(FakePrompts):
    """Synthesis of ``slow`` takes ``seconds`` of real time (a loaded machine, a stalled TTS worker)."""

    def __init__(self, slow: str, seconds: float) -> None:
        super().__init__(seconds=0.02)
        self.slow, self.slow_seconds = slow, seconds

    def audio(self, prompt_id: str, slots: Mapping[str, str] | None = None) -> bytes:
        if prompt_id == self.slow:
            time.sleep(self.slow_seconds)
        return super().audio(prompt_id, slots)


class SlowOrders(FakeHandoff):
    """Each order write takes ``seconds`` on the session's clock; counts writes begun and finished."""

    def __init__(self, clock: Clock, seconds: float, caller_leaves: FakeCall | None = None) -> None:
        super().__init__()
        self.clock, self.seconds, self.caller_leaves = clock, seconds, caller_leaves
        self.begun = self.finished = 0
        self.began_at = 0.0

    async def create_order(self, draft: OrderDraft) -> OrderRef:
        self.begun += 1
        self.began_at = self.clock.now()
        if self.caller_leaves is not None:  # the caller hangs up as soon as the write has begun
            self.caller_leaves.remote_hangup()
        await self.clock.sleep(self.seconds)
        self.finished += 1
        return await super().create_order(draft)


def keypad_call(deps_for: dict[str, object], clock: Clock, *, think: float = 1.0, call: FakeCall | None = None,
                settle: float = 0.0, marks: dict[str, float] | None = None,
                ) -> tuple[CallReport, FakeCall, list[object]]:
    """The keypad call of tests/system; ``settle``: seconds on the clock to let run after the session ended
    (``marks``: when it ended and how many orders its report had then)."""
    call = call or FakeCall(clock)
    speech = FakeSpeech(False)
    caller = ScriptedCaller(call, speech, list(KEYPAD_CALL), clock, think=think)
    deps = SessionDeps(speech=speech, clock=clock, contexts=lambda: Context(HOTLINE, FakeClassifier(), ROUTES),
                       observer=caller.observe, **deps_for)  # type: ignore[arg-type]

    async def go() -> CallReport:
        report = await run_call_report(call, deps)
        if marks is not None:
            marks.update(ended=clock.now(), orders=len(report.orders))
        await clock.sleep(settle)
        return report

    return asyncio.run(asyncio.wait_for(go(), 30)), call, caller.actions


def plays(actions: list[object]) -> list[str]:
    return [a.prompt_id for a in actions if isinstance(a, Play)]


def test_a_slow_synthesis_is_waited_for_not_turned_into_a_system_error() -> None:
    """order.created takes 4x the guard to render: the caller hears it late, never the error.system apology."""
    prompts = SlowPrompts("order.created", 0.4)
    handoff = FakeHandoff()
    report, call, actions = keypad_call({"prompts": prompts, "handoff": handoff, "dependency_timeout": 0.1},
                                        LoopClock(), think=0.05)
    played = plays(actions)
    assert "error.system" not in played and "error.system" not in prompts.rendered_ids
    assert played[played.index("order.created") + 1] == "transfer.notice"  # the flow went on as on a fast day
    assert len(call.played) == len(played)  # every prompt the flow asked for reached the caller
    (order,) = report.orders
    assert [no for no, _ in handoff.transfers] == [order.order_no] and "bridged" in report.end_reason


def test_a_synthesis_beyond_the_render_limit_still_takes_the_error_path() -> None:
    """A bound remains (the TTS kills a stuck worker itself; this is the backstop for any prompt source)."""
    prompts = SlowPrompts("order.created", 1.2)
    report, _, actions = keypad_call({"prompts": prompts, "handoff": FakeHandoff(), "dependency_timeout": 0.1,
                                      "render_timeout": 0.5}, LoopClock(), think=0.05)
    played = plays(actions)
    assert played[played.index("order.created") + 1] == "error.system"  # then an agent, with the order
    assert len(report.orders) == 1 and "bridged" in report.end_reason


@pytest.mark.parametrize("write_s", [15.2, 20.0])
def test_an_order_write_outliving_its_guard_is_neither_cancelled_nor_written_twice(write_s: float) -> None:
    """The write takes longer than the 15 s guard: the flow takes its error path (error.system, then agent), the
    write goes on, and the agent gets that order — picked up when it lands (15.2 s, during the apology) or waited
    for by the agent's order step (20 s) — instead of a second order."""
    clock = VirtualClock()
    handoff = SlowOrders(clock, write_s)
    report, _, actions = keypad_call({"prompts": FakePrompts(), "handoff": handoff, "render_in_thread": False},
                                     clock)
    assert handoff.begun == handoff.finished == 1  # not cancelled, not repeated
    (order,) = report.orders
    assert [no for no, _ in handoff.transfers] == [order.order_no] and "bridged" in report.end_reason
    assert "error.system" in plays(actions)  # 15 s without an answer is the flow's error path
    # landed during the apology: the flow knew the order before the agent step, which wrote nothing
    assert sum(isinstance(a, CreateOrder) for a in actions) == (1 if write_s < 15.5 else 2)


def test_an_order_write_outlives_the_call_that_gave_up_on_it() -> None:
    """The caller hangs up while a 40 s write runs: the session ends after its guard, the write is not cancelled
    with it (it would have been lost: neither stored nor journaled) and lands in the call's report."""
    clock = VirtualClock()
    call = FakeCall(clock)
    handoff = SlowOrders(clock, 40.0, caller_leaves=call)
    marks: dict[str, float] = {}
    report, _, _ = keypad_call({"prompts": FakePrompts(), "handoff": handoff, "render_in_thread": False}, clock,
                               call=call, settle=60.0, marks=marks)
    assert marks["ended"] < handoff.began_at + 40.0 and marks["orders"] == 0  # the session had already given up
    assert handoff.begun == handoff.finished == 1 and len(handoff.orders) == 1
    assert [o.order_no for o in report.orders] == ["F0001"]


def test_an_order_write_outliving_its_guard_on_the_loop_clock() -> None:
    """The same with production settings (loop clock, audio rendered in a thread): a 0.25 s write, 0.2 s guards
    (loop timers fire in deadline order: the first guard before the write lands, the agent step's after)."""
    handoff = SlowOrders(LoopClock(), 0.25)
    report, _, actions = keypad_call({"prompts": FakePrompts(seconds=0.02), "handoff": handoff,
                                      "dependency_timeout": 0.2}, LoopClock(), think=0.05, settle=0.5)
    assert handoff.begun == handoff.finished == 1
    (order,) = report.orders
    assert [no for no, _ in handoff.transfers] == [order.order_no] and "error.system" in plays(actions)


def test_runner_takes_a_late_order_number_but_never_as_the_answer_of_an_order_step() -> None:
    """The runner's half: a late ``OrderCreated`` only sets ``order_no`` (first one wins), even during an order
    step; the error path then hands the caller to an agent with that order instead of writing another."""
    state, actions = step(new_call(Context(HOTLINE, FakeClassifier(), ROUTES)), Started("c", "13800000000", False))
    keys = ["1", "13912345678", "1"]
    while state.phase != "order":
        if state.phase == "listening":
            state, actions = step(state, Digits(keys.pop(0), True))
        else:
            state, actions = step(state, PromptDone(state.play_seq))
    assert isinstance(actions[-1], CreateOrder) and state.node == "accept_order"
    state, actions = step(state, OrderCreated("N1", late=True))
    assert (state.phase, state.node, actions, state.vars["order_no"]) == ("order", "accept_order", [], "N1")
    state, actions = step(state, Failed("CreateOrder: TimeoutError()"))  # the step's own guard gave up
    assert [a.prompt_id for a in actions if isinstance(a, Play)] == ["error.system"]
    state, _ = step(state, OrderCreated("N2", late=True))
    state, actions = step(state, PromptDone(state.play_seq))
    assert state.node == "agent_transfer" and state.vars["order_no"] == "N1"
    assert not any(isinstance(a, CreateOrder) for a in actions)


def test_the_virtual_clock_lets_the_end_of_busy_work_run_before_time_moves() -> None:
    """Work in a thread (a database write) holds virtual time; when it ends during the clock's idle round, what it
    unblocks runs a full round before the clock jumps (else a call stalled past the write could jump to its 1800 s
    watchdog: seen in tests/flows/test_session_bridge.py as a rare flake)."""

    async def go() -> list[tuple[str, float]]:
        clock = VirtualClock()
        fired: list[tuple[str, float]] = []

        async def far() -> None:
            await clock.sleep(100)
            fired.append(("far", clock.now()))

        async def after_write() -> None:
            async with clock.busy():
                for _ in range(20):
                    await asyncio.sleep(0)
            for _ in range(25):  # the session's steps between the write and its next prompt
                await asyncio.sleep(0)
            await clock.sleep(1)
            fired.append(("next prompt", clock.now()))

        await asyncio.gather(far(), after_write())
        return fired

    assert asyncio.run(go()) == [("next prompt", 1.0), ("far", 100.0)]
