"""The session driver on a fake call with scripted caller turns, on virtual time (fakes isolate the edges)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from asr.api import PromptAwareListener
from flows.events import Play, Transfer
from flows.loader import load_flow, parse_flow
from flows.runner import ChannelRoute, Context
from flows.session import CallReport, SessionDeps, run_call_report
from ivr.app import FRAME_BYTES
from ivr.clock import LoopClock, VirtualClock
from tests.kit.call import FakeCall
from tests.kit.caller import ScriptedCaller, Turn
from tests.kit.classifier import FakeClassifier
from tests.kit.handoff import FakeHandoff
from tests.kit.prompts import FakePrompts
from tests.kit.speech import FakeSpeech

HOTLINE = load_flow(Path(__file__).resolve().parents[2] / "flows" / "definitions" / "hotline.yaml")
ROUTES = {c: ChannelRoute(True, f"sip:{c}@psap") for c in ("110", "119", "120", "122")}


class Run:
    def __init__(self, turns: list[Turn], *, speech: bool = True, handoff: FakeHandoff | None = None,
                 prompts: FakePrompts | None = None, refer_ok: bool = True) -> None:
        self.clock = VirtualClock()
        self.call = FakeCall(self.clock, refer_ok=refer_ok)
        self.speech = FakeSpeech(speech)
        self.caller = ScriptedCaller(self.call, self.speech, turns, self.clock)
        self.handoff = handoff or FakeHandoff()
        self.deps = SessionDeps(prompts=prompts or FakePrompts(), handoff=self.handoff,
                                contexts=lambda: Context(HOTLINE, FakeClassifier(), ROUTES), speech=self.speech,
                                clock=self.clock, observer=self.caller.observe,
                                render_in_thread=False)
        self.report: CallReport = asyncio.run(asyncio.wait_for(run_call_report(self.call, self.deps), 20))

    @property
    def prompts(self) -> list[str]:
        return [a.prompt_id for a in self.caller.actions if isinstance(a, Play)]

    @property
    def transfers(self) -> list[Transfer]:
        return [a for a in self.caller.actions if isinstance(a, Transfer)]


def test_emergency_call_orders_first_then_refers_to_119() -> None:
    run = Run([("say", "仓库着火了")])
    assert run.prompts == ["greeting", "recording_notice", "open_question", "emergency.119"]
    (kind, draft), = run.handoff.orders
    assert kind == "order" and draft.urgency == "emergency" and draft.channel == "119"
    assert run.call.referred == ["sip:119@psap"] and run.report.end_reason.startswith("transfer")
    assert ("caller", "仓库着火了") in draft.transcript and ("ivr", "[greeting]") in draft.transcript
    assert (8000, False) in run.call.played  # the legal notice cannot be interrupted


def test_accept_call_collects_order_with_spoken_and_keyed_answers() -> None:
    run = Run([("say", "路灯坏了"), ("say", "城东区幸福街道五号楼"), ("say", "昨天晚上"), ("say", "整条路都黑"),
               ("keys", "13812345678#"), ("say", "对")])
    (_kind, draft), = run.handoff.orders
    assert (draft.category_code, draft.district, draft.street, draft.contact_number) == (
        "street_lights", "城东区", "幸福街道", "13812345678")
    assert draft.address == "城东区幸福街道5号楼" and draft.incident_time == "昨天晚上"
    assert run.handoff.transfers[0][0] == run.report.orders[0].order_no
    assert run.prompts[-2:] == ["order.created", "transfer.notice"]
    assert run.call.ended and "bridged" in run.report.end_reason


def test_dtmf_only_whole_call_by_keypad() -> None:
    run = Run([("keys", "2"), ("keys", "13912345678#"), ("keys", "1")], speech=False)
    assert run.prompts[:4] == ["greeting", "recording_notice", "asr_unavailable", "menu.keypad"]
    (_kind, draft), = run.handoff.orders
    assert (draft.request_type, draft.contact_number, draft.category_code) == ("咨询", "13912345678", "other")
    assert run.handoff.transfers and "bridged" in run.report.end_reason


def test_no_input_goes_to_keypad_menu_then_agent_on_virtual_time() -> None:
    run = Run([("silence", "")] * 6, speech=False)
    assert run.prompts.count("menu.keypad") == 3 and run.prompts[-1] == "transfer.notice"
    assert run.handoff.transfers
    # three menu rounds of a 6 s first-key timeout, counted after the prompts: virtual time, an instant test
    assert 3 * 6 < run.clock.now() < 3 * 6 + 10


def test_speech_silence_reaches_the_keypad_then_key_zero_an_agent() -> None:
    run = Run([("silence", ""), ("silence", ""), ("keys", "0")])
    assert run.prompts[:6] == ["greeting", "recording_notice", "open_question", "reprompt.no_input",
                               "open_question", "menu.keypad"]
    assert run.handoff.transfers


def test_caller_hangs_up_mid_flow_and_the_order_is_still_created() -> None:
    run = Run([("say", "路灯坏了"), ("say", "城东区幸福街道"), ("hangup", "")])
    (_kind, draft), = run.handoff.orders
    assert draft.address == "城东区幸福街道" and draft.callback_requested
    assert run.report.end_reason.startswith("caller hung up") and not run.handoff.transfers


def test_barge_in_stops_the_prompt() -> None:
    run = Run([("barge", "路灯坏了"), ("hangup", "")])
    assert run.call.stops >= 1 and run.prompts[-1] == "ask.address"


def test_decline_disagreement_by_key_goes_to_agent_with_the_unreasonable_record() -> None:
    run = Run([("say", "那栋楼坏了我家风水"), ("keys", "1")])
    (kind, draft), = run.handoff.orders
    assert kind == "unreasonable" and draft.rule_id == "fengshui" and draft.disposition == "decline"
    assert run.handoff.transfers[0][0] == run.report.orders[0].order_no


def test_failed_refer_for_an_emergency_goes_to_an_agent() -> None:
    run = Run([("say", "有人拿刀")], refer_ok=False)
    assert "transfer.failed" in run.prompts and run.handoff.transfers


def test_broken_prompt_plays_the_system_error_and_reaches_an_agent() -> None:
    run = Run([("say", "路灯坏了")], prompts=FakePrompts(broken=("ask.address",)))
    assert "error.system" in run.prompts and run.handoff.transfers


def test_order_store_down_is_not_a_crash() -> None:
    run = Run([("say", "路灯坏了"), ("say", "城东区"), ("say", "今天"), ("say", "黑"), ("keys", "13812345678#"),
               ("say", "对")], handoff=FakeHandoff(fail_orders=True))
    assert "error.system" in run.prompts and run.call.ended


def test_all_prompts_broken_still_ends_the_call_cleanly() -> None:
    run = Run([], prompts=FakePrompts(broken=("*",)), handoff=FakeHandoff(agent_status="no_agent"))
    assert run.call.ended and run.report.end_reason


def test_no_agent_gives_a_callback_promise_and_goodbye() -> None:
    run = Run([("keys", "0")], handoff=FakeHandoff(agent_status="no_agent"))
    assert run.prompts[-3:] == ["transfer.no_agent_callback", "callback.promise", "goodbye"]
    assert run.call.hangup_reason == "normal"


def test_caller_audio_reaches_the_listener() -> None:
    clock = VirtualClock()
    call = FakeCall(clock)
    speech = FakeSpeech(True)
    caller = ScriptedCaller(call, speech, [("hangup", "")], clock)

    async def go() -> None:
        deps = SessionDeps(prompts=FakePrompts(), handoff=FakeHandoff(),
                           contexts=lambda: Context(HOTLINE, FakeClassifier(), ROUTES), speech=speech, clock=clock,
                           observer=caller.observe, render_in_thread=False)
        task = asyncio.ensure_future(run_call_report(call, deps))
        await asyncio.sleep(0)
        assert call.sink is not None
        call.sink(b"\0" * FRAME_BYTES)
        await asyncio.wait_for(task, 10)

    asyncio.run(go())
    assert speech.listener.frames == 1 and speech.listener.closed and call.sink is None


def test_real_loop_clock_and_prompt_rendering_in_a_thread() -> None:
    """The production settings (loop clock, audio rendered off the loop) on a short keypad call."""
    clock = LoopClock()
    call = FakeCall(clock)
    speech = FakeSpeech(False)
    caller = ScriptedCaller(call, speech, [("keys", "0")], clock, think=0.05)
    handoff = FakeHandoff()
    deps = SessionDeps(prompts=FakePrompts(seconds=0.02), handoff=handoff, speech=speech, clock=clock,
                       contexts=lambda: Context(HOTLINE, FakeClassifier(), ROUTES), observer=caller.observe)
    report = asyncio.run(asyncio.wait_for(run_call_report(call, deps), 20))
    assert handoff.transfers and "bridged" in report.end_reason


class RaisingTransfer(FakeHandoff):
    async def warm_transfer(self, call: object, order: object, draft: object) -> object:  # type: ignore[override]
        raise RuntimeError("agent side down")


def test_warm_transfer_exception_becomes_a_callback_promise() -> None:
    run = Run([("keys", "0")], handoff=RaisingTransfer())
    assert run.prompts[-3:] == ["transfer.no_agent_callback", "callback.promise", "goodbye"]


def test_watchdog_sends_an_overlong_call_to_the_error_path() -> None:
    clock = VirtualClock()
    call = FakeCall(clock)
    speech = FakeSpeech(False)
    caller = ScriptedCaller(call, speech, [], clock)
    handoff = FakeHandoff()
    deps = SessionDeps(prompts=FakePrompts(), handoff=handoff, speech=speech, clock=clock, max_call_seconds=3.0,
                       contexts=lambda: Context(HOTLINE, FakeClassifier(), ROUTES), observer=caller.observe,
                       render_in_thread=False)
    asyncio.run(asyncio.wait_for(run_call_report(call, deps), 20))
    played = [a.prompt_id for a in caller.actions if isinstance(a, Play)]
    assert "error.system" in played and handoff.transfers


def test_listening_starts_after_a_prompt_that_may_not_be_interrupted() -> None:
    flow = parse_flow("""\
flow: t
start: q
nodes:
  q: {type: ask, prompt: open_question, barge_in: false, store: utterance, fallback: bye, next: bye}
  bye: {type: hangup, prompt: goodbye}
""", "t.yaml")
    clock = VirtualClock()
    call = FakeCall(clock)
    speech = FakeSpeech(True)
    caller = ScriptedCaller(call, speech, [("say", "你好")], clock)
    deps = SessionDeps(prompts=FakePrompts(seconds=2.0), handoff=FakeHandoff(), speech=speech, clock=clock,
                       contexts=lambda: Context(flow, FakeClassifier(), ROUTES), observer=caller.observe,
                       render_in_thread=False)
    asyncio.run(asyncio.wait_for(run_call_report(call, deps), 20))
    (armed_at, spec), = speech.listener.armed_at
    assert armed_at == 2.0 and spec.no_input_timeout == 6.0 and (32000, False) in call.played
    # a barge-in prompt arms at once, its no-input timer stretched by the prompt still to play
    run = Run([("hangup", "")])
    _, first_spec = run.speech.listener.armed_at[0]
    assert first_spec.barge_in and first_spec.no_input_timeout > 8.0


def test_no_valid_flow_at_all_still_hands_the_caller_to_an_agent() -> None:
    def broken() -> Context:
        raise RuntimeError("flow file invalid")

    clock = VirtualClock()
    call = FakeCall(clock)
    handoff = FakeHandoff()
    deps = SessionDeps(prompts=FakePrompts(), handoff=handoff, contexts=broken, clock=clock, render_in_thread=False)
    report = asyncio.run(asyncio.wait_for(run_call_report(call, deps), 20))
    assert handoff.orders and handoff.transfers and report.end_reason == "system error, agent bridged"
    assert call.played and call.ended


def test_keys_pressed_during_the_greeting_answer_the_menu() -> None:
    clock = VirtualClock()
    call = FakeCall(clock)
    speech = FakeSpeech(False)
    caller = ScriptedCaller(call, speech, [("keys", "13912345678#"), ("keys", "1")], clock)
    handoff = FakeHandoff()
    deps = SessionDeps(prompts=FakePrompts(), handoff=handoff, speech=speech, clock=clock,
                       contexts=lambda: Context(HOTLINE, FakeClassifier(), ROUTES), observer=caller.observe,
                       render_in_thread=False)
    call.press("3")  # before the first prompt has even played

    async def go() -> None:
        caller.turns.insert(0, ("silence", ""))  # the menu is answered by the early key, not by this turn
        await run_call_report(call, deps)

    asyncio.run(asyncio.wait_for(go(), 20))
    (_, draft), = handoff.orders
    assert draft.request_type == "投诉" and draft.contact_number == "13912345678"


def test_prompt_aware_listener_is_told_when_prompts_play_and_end() -> None:
    """Backchannels over a prompt are dropped by the listener only if it knows a prompt is playing."""
    flow = parse_flow("""\
flow: t
start: hello
nodes:
  hello: {type: say, prompt: greeting, next: q}
  q: {type: ask, prompt: open_question, store: utterance, fallback: bye, next: bye}
  bye: {type: hangup, prompt: goodbye}
""", "t.yaml")
    clock = VirtualClock()
    call = FakeCall(clock)
    speech = FakeSpeech(True)
    caller = ScriptedCaller(call, speech, [("say", "你好")], clock)
    deps = SessionDeps(prompts=FakePrompts(seconds=2.0), handoff=FakeHandoff(), speech=speech, clock=clock,
                       contexts=lambda: Context(flow, FakeClassifier(), ROUTES), observer=caller.observe,
                       render_in_thread=False)
    asyncio.run(asyncio.wait_for(run_call_report(call, deps), 20))
    marks = speech.listener.prompt_marks
    # the greeting plays 0-2 s, then the question from 2 s (the caller answers over it at 3 s, then goodbye)
    assert marks[:3] == [(True, 0.0), (False, 2.0), (True, 2.0)]
    assert (True, 3.0) in marks
    assert isinstance(speech.listener, PromptAwareListener)
