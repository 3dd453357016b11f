"""Whole calls through the session with the real work-order hand-off on the real PostgreSQL (and SQLite)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from bridge.models import UnreasonableRecord
from flows.events import Play
from flows.loader import load_flow
from flows.runner import ChannelRoute, Context
from flows.session import CallReport, SessionDeps, run_call_report
from ivr.clock import LoopClock, VirtualClock
from tests.kit.call import AgentBehaviour, FakeCall, FakeEngine
from tests.kit.caller import ScriptedCaller, Turn
from tests.kit.classifier import FakeClassifier
from tests.kit.handoff import BusyHandoff
from tests.kit.prompts import FakePrompts
from tests.kit.speech import FakeSpeech

HOTLINE = load_flow(Path(__file__).resolve().parents[2] / "flows" / "definitions" / "hotline.yaml")
ROUTES = {c: ChannelRoute(True, f"sip:{c}@psap") for c in ("110", "119", "120", "122")}
PG_URL = "postgresql+psycopg://127.0.0.1:5432/test"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def handoff(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    from bridge.db import drop_schema, make_engine
    from bridge.handoff import HotlineHandoff
    from config.bridge import BridgeConfig

    schema = f"t_flows_{uuid.uuid4().hex[:10]}" if request.param == "postgresql" else None
    url = PG_URL if schema else f"sqlite:///{tmp_path / 'orders.db'}"
    cfg = BridgeConfig.model_validate({"database_url": url, "db_schema": schema, "redis_url": None,
                                       "journal_path": str(tmp_path / "orders.journal"),
                                       "sequence_dir": str(tmp_path / "seq"),
                                       "transfer": {"wait_for_free_agent_s": 0.2, "poll_interval_s": 0.1}})
    h = HotlineHandoff.from_config(FakeEngine(), FakePrompts.transfer(), cfg)
    h.render_in_thread = False
    yield h
    h.store.engine.dispose()
    if schema:
        eng = make_engine(PG_URL, None)
        drop_schema(eng, schema)
        eng.dispose()


def call_with(handoff: Any, turns: list[Turn]) -> tuple[Any, FakeCall]:
    clock = VirtualClock()
    call = FakeCall(clock)
    speech = FakeSpeech(True)
    caller = ScriptedCaller(call, speech, turns, clock)
    deps = SessionDeps(prompts=FakePrompts(), handoff=BusyHandoff(handoff, clock), speech=speech, clock=clock,
                       observer=caller.observe, contexts=lambda: Context(HOTLINE, FakeClassifier(), ROUTES),
                       render_in_thread=False)
    report = asyncio.run(asyncio.wait_for(run_call_report(call, deps), 30))
    assert "error" not in report.end_reason and clock.now() < 100  # no watchdog or failure on the way
    return report, call


def test_emergency_order_is_stored_urgent_before_the_refer(handoff: Any) -> None:
    report, call = call_with(handoff, [("say", "仓库着火了")])
    stored = handoff.store.get(report.orders[0].order_no)
    assert (stored["urgency"], stored["redirect_channel"], stored["disposition"]) == ("emergency", "119", "emergency")
    assert call.referred == ["sip:119@psap"]


def test_decline_is_stored_as_unreasonable_with_the_rule(handoff: Any) -> None:
    report, _ = call_with(handoff, [("say", "那栋楼坏了我家风水"), ("say", "知道了")])
    stored = handoff.store.get(report.orders[0].order_no)
    assert (stored["rule_id"], stored["disposition"], stored["status"]) == ("fengshui", "decline", "closed")
    with Session(handoff.store.engine) as session:
        record = session.query(UnreasonableRecord).filter_by(order_no=stored["order_no"]).one()
    assert record.rule_id == "fengshui" and "风水" in record.content


def test_hang_up_mid_flow_still_stores_the_collected_order(handoff: Any) -> None:
    report, _ = call_with(handoff, [("say", "路灯坏了"), ("say", "城东区幸福街道五号楼"), ("hangup", "")])
    stored = handoff.store.get(report.orders[0].order_no)
    assert (stored["category_code"], stored["district"], stored["street"]) == ("street_lights", "城东区", "幸福街道")
    assert stored["callback_requested"] is True and stored["flow_version"] == HOTLINE.version


@pytest.fixture(scope="module")
def prompt_service(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from config.prompts import PromptsConfig
    from prompts.service import PromptService

    return PromptService.from_config(PromptsConfig(cache_dir=str(tmp_path_factory.mktemp("prompt-cache"))))


def test_keypad_call_with_the_real_prompts_classifier_and_order_store(prompt_service: Any, handoff: Any) -> None:
    """Real prompt service (catalogue + espeak-ng TTS), policy classifier, flow and work-order store; fake call."""
    from asr.service import DtmfOnlySpeechService
    from flows.setup import session_deps

    prompts = prompt_service
    clock = VirtualClock()
    call = FakeCall(clock)
    caller = ScriptedCaller(call, None, [("keys", "1"), ("keys", "13912345678#"), ("keys", "1")], clock)
    speech = DtmfOnlySpeechService("no speech model in this test")  # the speech component's keypad-only mode
    deps = session_deps(prompts, BusyHandoff(handoff, clock), speech)
    deps.clock, deps.observer, deps.render_in_thread = clock, caller.observe, False
    report = asyncio.run(asyncio.wait_for(run_call_report(call, deps), 120))
    stored = handoff.store.get(report.orders[0].order_no)
    assert (stored["contact_number"], stored["request_type"]) == ("13912345678", "求助")
    assert any("13912345678" in line["text"] or "1 3 9" in line["text"] for line in stored["transcript"])
    assert len(call.played) >= 8 and all(size > 1600 for size, _ in call.played)  # real audio, not silence stubs
    played = [a.prompt_id for a in caller.actions if isinstance(a, Play)]
    # no agent is registered: the hand-off tells the caller about the callback and ends the call
    assert played[-3:-1] == ["order.created", "transfer.notice"] and call.ended
    assert stored["status"] == "callback_pending"


@dataclass
class BridgedCall:
    """A keypad caller (key 0) on the real hand-off whose fake engine has one agent, a1, answering at once."""

    engine: Any
    handoff: Any
    call: FakeCall
    deps: SessionDeps

    @classmethod
    def make(cls, tmp_path: Path, **transfer: float) -> BridgedCall:
        from bridge.handoff import HotlineHandoff
        from config.bridge import BridgeConfig

        engine = FakeEngine(behaviours={"sip:a1@agents": AgentBehaviour(answer_after=0.05)})
        cfg = BridgeConfig.model_validate({
            "database_url": f"sqlite:///{tmp_path / 'orders.db'}", "redis_url": None,
            "journal_path": str(tmp_path / "orders.journal"), "sequence_dir": str(tmp_path / "seq"),
            "agents": [{"id": "a1", "name": "张敏", "sip_uri": "sip:a1@agents", "skills": ["general"]}],
            "transfer": {"ring_timeout_s": 2, "wait_for_free_agent_s": 1, "poll_interval_s": 0.1, **transfer}})
        short = {p: 0.05 for p in ("transfer.notice", "hold.music", "whisper.agent", "transfer.no_agent_callback",
                                   "callback.promise", "transfer.agent_unavailable_retry")}
        handoff = HotlineHandoff.from_config(engine, FakePrompts.transfer(short), cfg)
        handoff.render_in_thread = False
        clock = LoopClock()
        call = FakeCall(clock)
        speech = FakeSpeech(False)
        caller = ScriptedCaller(call, speech, [("keys", "0")], clock, think=0.05)
        deps = SessionDeps(prompts=FakePrompts(seconds=0.02), handoff=handoff, speech=speech, clock=clock,
                           contexts=lambda: Context(HOTLINE, FakeClassifier(), ROUTES), observer=caller.observe)
        return cls(engine, handoff, call, deps)

    async def start_until_bridged(self) -> asyncio.Task[CallReport]:
        await self.handoff.start()
        await self.handoff.agents.set_presence("a1", "available", 1000.0)  # the agent is logged in at the desk
        task = asyncio.ensure_future(run_call_report(self.call, self.deps))
        for _ in range(200):
            if self.engine.bridges:
                break
            await asyncio.sleep(0.02)
        assert self.engine.bridges and not task.done()  # bridged: the session waits while they talk
        return task


def test_agent_call_bridged_by_the_real_transfer_driver(tmp_path: Path) -> None:
    """Key 0 → order → the bridge's warm transfer dials a (fake) agent, whispers, bridges; the caller hangs up."""
    b = BridgedCall.make(tmp_path)

    async def go() -> CallReport:
        task = await b.start_until_bridged()
        b.call.remote_hangup("caller done")
        report = await asyncio.wait_for(task, 10)
        await b.handoff.close()
        return report

    report = asyncio.run(asyncio.wait_for(go(), 30))
    assert "bridged" in report.end_reason
    stored = b.handoff.store.get(report.orders[0].order_no)
    assert stored["agent_id"] == "a1"


def test_agent_hangs_up_first_and_the_callers_callback_key_reaches_the_hand_off(tmp_path: Path) -> None:
    """After the bridge the session leaves the caller's keys to the hand-off: agent gone → '2' = callback."""
    from ivr.app import DigitEvent, PlaybackFinished

    b = BridgedCall.make(tmp_path, agent_retry_prompt_timeout_s=30)

    async def go() -> CallReport:
        task = await b.start_until_bridged()
        next(iter(b.engine.legs.values())).remote_hangup()  # the agent hangs up first
        await asyncio.sleep(0.3)  # the retry / callback offer plays to the caller
        for _ in range(3):  # other events of the caller's leg come first (prompts ending) …
            b.call.events.put_nowait(PlaybackFinished(0, True))
            await asyncio.sleep(0.01)
        b.call.events.put_nowait(DigitEvent("2", "rfc4733"))  # … then the caller chooses a callback
        report = await asyncio.wait_for(task, 10)  # long before the 30 s choice timeout
        await b.handoff.close()
        return report

    started = time.monotonic()
    report = asyncio.run(asyncio.wait_for(go(), 30))
    assert time.monotonic() - started < 15
    stored = b.handoff.store.get(report.orders[0].order_no)
    assert stored["status"] == "callback_pending" and b.call.ended
