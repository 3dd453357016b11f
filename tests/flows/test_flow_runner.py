"""Whole simulated calls through the real runner and the real hotline flow (classifier isolated by a table)."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.events import Digits, Hangup, NoInput, PromptDone, Recognized, Started
from flows.loader import load_flow, parse_flow
from flows.runner import ChannelRoute, Context, new_call, step
from flows.simulate import SimOptions, Simulator
from tests.kit.classifier import FakeClassification, FakeClassifier

HOTLINE = Path(__file__).resolve().parents[2] / "flows" / "definitions" / "hotline.yaml"
EMERGENCY = {c: ChannelRoute(True, f"sip:{c}@psap") for c in ("110", "119", "120", "122")}


def make_sim(routes: dict[str, ChannelRoute] | None = None, **options: object) -> Simulator:
    ctx = Context(load_flow(HOTLINE), FakeClassifier(), {**EMERGENCY, **(routes or {})})
    sim = Simulator(ctx, SimOptions(**options))  # type: ignore[arg-type]
    sim.start()
    return sim


def played(lines: list[str]) -> list[str]:
    return [line.split()[1].rstrip(":") for line in lines if line.startswith("play ")]


def test_opening_plays_greeting_then_notice_without_barge_in_then_asks() -> None:
    sim = make_sim()
    assert played(sim.output) == ["greeting", "recording_notice", "open_question"]
    assert "play recording_notice (no barge-in)" in sim.output[1]
    assert sim.listening is not None and sim.listening.spec.kind == "free" and sim.listening.speech


@pytest.mark.parametrize(("words", "channel", "rule"), [
    ("仓库着火了", "119", "fire"), ("有人拿刀砍人", "110", "crime"), ("奶奶倒地叫不醒", "120", "medical"),
    ("两辆车撞车了", "122", "traffic_accident"), ("厨房有煤气味", "119", "gas_leak"),
])
def test_emergency_creates_urgent_order_then_transfers_at_once(words: str, channel: str, rule: str) -> None:
    sim = make_sim()
    out = sim.turn(words)
    assert out[0].startswith("order ") and "urgency=emergency" in out[0] and f"rule={rule}" in out[0]
    assert f"play emergency.{channel} (no barge-in)" in out[1]
    assert out[2] == f"transfer emergency sip:{channel}@psap -> transferred"
    assert sim.finished and sim.orders[0][1].urgency == "emergency" and sim.orders[0][1].channel == channel
    assert sim.transfers[0].kind == "emergency"


def test_emergency_confirmed_first_when_the_classifier_asks() -> None:
    sim = make_sim()
    assert played(sim.turn("楼道里好像有点烟")) == ["emergency.confirm.119"]
    assert not sim.orders
    out = sim.turn("是的")
    assert sim.orders and "transfer emergency sip:119@psap" in out[-2]


def test_emergency_denied_asks_what_happened_and_no_answer_still_transfers() -> None:
    sim = make_sim()
    sim.turn("楼道里好像有点烟")
    assert played(sim.turn("不是")) == ["clarify.what"]
    sim = make_sim()
    sim.turn("楼道里好像有点烟")
    sim.turn("(silence)")
    out = sim.turn("(silence)")  # no clear no: the emergency goes through
    assert any(line.startswith("transfer emergency") for line in out)


@pytest.mark.parametrize(("words", "channel", "rule"), [
    ("我要离婚", "court", "litigation"), ("我要申请仲裁", "arbitration", "labour_arbitration"),
    ("举报干部贪污", "12388", "official_misconduct"), ("我对罚款不服", "reconsideration", "admin_reconsideration"),
    ("我的信访件", "petition", "petition_case"), ("我请不起律师", "12348", "legal_aid"),
    ("网上买的东西商家不退", "12315", "consumer_dispute"), ("我在外地", "other_city_12345", "other_city"),
])
def test_each_redirect_explains_scope_and_channel(words: str, channel: str, rule: str) -> None:
    sim = make_sim()
    out = sim.turn(words)
    assert played(out) == ["scope.explanation", f"redirect.{channel}", "redirect.offer_agent"]
    assert not sim.finished  # the caller may still disagree
    assert played(sim.turn("知道了 谢谢")) == ["goodbye.after_redirect"]
    assert sim.finished and not sim.orders and not sim.transfers


@pytest.mark.parametrize("answer", ["不对 我说的不是这个", "(press 1)"])
def test_a_caller_who_disagrees_with_a_redirect_reaches_an_agent_with_an_order(answer: str) -> None:
    """Never turned away on a guess: 说"不对" or press 1 after the redirect, and an agent takes it (issue 9)."""
    sim = make_sim()
    sim.turn("我在外地")
    out = sim.turn(answer)
    assert "transfer.notice" in played(out) and out[-2] == "transfer agent default -> bridged"
    assert len(sim.orders) == 1 and sim.orders[0][1].disposition == "accept"


def test_a_caller_who_says_nothing_after_a_redirect_hears_goodbye() -> None:
    sim = make_sim()
    sim.turn("我要离婚")
    sim.turn("(silence)")
    out = sim.turn("(silence)")
    assert played(out)[-1] == "goodbye.after_redirect" and sim.finished and not sim.transfers


def test_redirect_transfers_where_the_city_config_says_so() -> None:
    sim = make_sim({"12315": ChannelRoute(True, "sip:12315@seat")})
    out = sim.turn("网上买的东西商家不退")
    assert played(out) == ["scope.explanation", "redirect.12315"]
    assert out[-2] == "transfer redirect sip:12315@seat -> transferred"


def test_failed_redirect_transfer_ends_like_a_spoken_redirect() -> None:
    sim = make_sim({"12315": ChannelRoute(True, "sip:12315@seat")}, transfer="failed")
    out = sim.turn("网上买的东西商家不退")
    assert played(out)[-1] == "redirect.offer_agent"
    assert played(sim.turn("好的")) == ["goodbye.after_redirect"]


def test_split_case_redirects_then_takes_the_in_scope_part() -> None:
    sim = make_sim()
    out = sim.turn("欠薪和离婚的事")
    assert played(out) == ["scope.explanation", "redirect.court", "ask.address"]
    for words in ("城东区幸福街道", "上个月", "老板跑了", "13912345678", "对"):
        out = sim.turn(words)
    draft = sim.orders[0][1]
    assert draft.disposition == "accept" and draft.category_code == "wages"


def test_decline_recorded_with_rule_and_disagreement_goes_to_agent() -> None:
    sim = make_sim()
    out = sim.turn("那栋楼坏了我家风水")
    assert out[0].startswith("unreasonable ") and "rule=fengshui" in out[0] and "disposition=decline" in out[0]
    assert played(out) == ["scope.explanation", "decline.fengshui", "decline.offer_agent"]
    out = sim.turn("不对")
    assert played(out) == ["transfer.notice"] and out[-2] == "transfer agent default -> bridged"
    assert len(sim.orders) == 1  # the agent gets the unreasonable record, no second order


def test_decline_accepted_says_goodbye() -> None:
    sim = make_sim()
    sim.turn("老人要土葬")
    out = sim.turn("知道了")
    assert played(out) == ["goodbye"] and sim.finished and not sim.transfers


def test_accept_collects_complete_order_then_agent() -> None:
    sim = make_sim()
    assert played(sim.turn("我家门口路灯坏了")) == ["ask.address"]
    assert played(sim.turn("朝阳区建国路街道幸福小区三号楼")) == ["ask.time"]
    assert played(sim.turn("昨天晚上八点")) == ["ask.description"]
    assert played(sim.turn("一整条街都是黑的")) == ["ask.phone"]
    assert sim.listening is not None and sim.listening.keypad is not None
    assert sim.listening.keypad.terminator == "#"
    out = sim.turn("幺三八 幺二三四 五六七八")
    assert played(out) == ["confirm.readback"] and "13812345678" in out[0]
    out = sim.turn("对的")
    assert played(out) == ["order.created", "transfer.notice"]
    (order_no, draft), = sim.orders
    assert "SIM0001" in out[1] or order_no == "SIM0001"
    assert (draft.disposition, draft.category_code, draft.category_name) == ("accept", "street_lights", "路灯")
    assert (draft.district, draft.street) == ("朝阳区", "建国路街道")
    assert draft.address == "朝阳区建国路街道幸福小区3号楼" and draft.incident_time == "昨天20:00"
    assert draft.contact_number == "13812345678" and draft.request_type == "求助"
    assert "路灯坏了" in draft.content and "一整条街都是黑的" in draft.content
    assert ("caller", "对的") in draft.transcript and draft.flow_version == sim.ctx.flow.version
    assert sim.transfers[-1].kind == "agent" and sim.finished


def test_phone_by_keypad_with_terminator_and_bad_number_reprompts_for_keys() -> None:
    sim = make_sim()
    for words in ("路灯坏了", "城东区", "今天", "很黑"):
        sim.turn(words)
    assert played(sim.turn("我也不知道")) == ["ask.phone_keypad", "ask.phone"]
    out = sim.turn("#13812345678#")
    assert played(out) == ["confirm.readback"]
    sim.turn("#1")
    assert sim.orders[0][1].contact_number == "13812345678"


def test_readback_rejected_collects_again_once() -> None:
    sim = make_sim()
    for words in ("路灯坏了", "城东区", "今天", "很黑", "13812345678"):
        sim.turn(words)
    assert played(sim.turn("不对")) == ["confirm.retry", "ask.address"]
    for words in ("城西区", "今天", "很黑", "13812345678"):
        sim.turn(words)
    sim.turn("#1")
    assert sim.orders[0][1].address == "城西区"


def test_no_input_goes_to_keypad_menu_then_agent() -> None:
    sim = make_sim()
    assert played(sim.turn("(silence)")) == ["reprompt.no_input", "open_question"]
    assert played(sim.turn("(silence)")) == ["menu.keypad"]
    assert played(sim.turn("(silence)")) == ["reprompt.no_input", "menu.keypad"]
    sim.turn("(silence)")
    out = sim.turn("(silence)")
    assert played(out) == ["transfer.notice"] and out[-2].startswith("transfer agent")
    assert sim.orders and sim.orders[0][1].content  # the agent still gets an order


def test_key_zero_and_the_word_agent_reach_an_agent_from_any_question() -> None:
    sim = make_sim()
    out = sim.turn("#0")
    assert out[-2].startswith("transfer agent")
    sim = make_sim()
    sim.turn("路灯坏了")
    out = sim.turn("转人工")
    assert out[-2].startswith("transfer agent")
    sim = make_sim()
    sim.turn("路灯坏了")
    assert played(sim.turn("人工湖边上")) == ["ask.time"]  # a place name is not a request for an agent


def test_no_agent_promises_a_callback_with_the_order_number() -> None:
    sim = make_sim(agent="no_agent")
    out = sim.turn("#0")
    assert played(out) == ["transfer.notice", "transfer.no_agent_callback", "callback.promise", "goodbye"]
    assert "SIM0001" in out[-3] or "SIM0001" in str(sim.orders)
    assert sim.orders[0][1].callback_requested is False  # the order was made before the transfer failed


def test_caller_hangs_up_mid_flow_and_the_collected_order_is_created() -> None:
    sim = make_sim()
    for words in ("路灯坏了", "城东区幸福街道"):
        sim.turn(words)
    out = sim.turn("(hangup)")
    assert out[0].startswith("order ") and sim.finished
    draft = sim.orders[0][1]
    assert draft.address == "城东区幸福街道" and draft.callback_requested and draft.category_code == "street_lights"
    assert sim.turn("还有人吗") == ["(nobody is listening: input ignored)"]


def test_hangup_before_any_content_creates_nothing() -> None:
    sim = make_sim()
    out = sim.turn("(hangup)")
    assert out == ["end caller hung up (caller)"] and not sim.orders


def test_dtmf_only_whole_call() -> None:
    sim = make_sim(speech=False)
    assert played(sim.output) == ["greeting", "recording_notice", "asr_unavailable", "menu.keypad"]
    assert sim.listening is not None and not sim.listening.speech
    assert played(sim.turn("#3")) == ["ask.phone_keypad"]
    assert played(sim.turn("#13912345678#")) == ["confirm.readback", "confirm.yes_no_keypad"]
    out = sim.turn("#1")
    assert played(out) == ["order.created", "transfer.notice"] and sim.finished
    draft = sim.orders[0][1]
    assert (draft.request_type, draft.category_code, draft.contact_number) == ("投诉", "other", "13912345678")
    assert "按键菜单" in draft.content


def test_dtmf_only_no_keys_reaches_an_agent() -> None:
    sim = make_sim(speech=False)
    for _ in range(3):
        sim.turn("(silence)")
    assert sim.transfers and sim.transfers[0].kind == "agent"


def test_clarify_asks_what_then_classifies_the_whole_story() -> None:
    sim = make_sim()
    assert played(sim.turn("我有个事")) == ["clarify.what"]
    assert played(sim.turn("我们那里路灯坏了")) == ["ask.address"]
    assert sim.ctx.classifier is not None
    assert sim.ctx.classifier.calls[-1] == "我有个事 我们那里路灯坏了"  # type: ignore[attr-defined]
    sim = make_sim()
    sim.turn("喂")
    assert played(sim.turn("嗯")) == ["clarify.where"]
    assert played(sim.turn("那个")) == ["menu.keypad"]


def test_order_store_failure_takes_the_error_path_not_a_crash() -> None:
    sim = make_sim(orders_fail=True)
    for words in ("路灯坏了", "城东区", "今天", "很黑", "13812345678"):
        sim.turn(words)
    out = sim.turn("对")
    assert "error.system" in played(out) and sim.finished
    assert out[-2] == "hangup error" or played(out)[-1] == "goodbye"


def test_emergency_transfers_even_when_the_order_store_fails() -> None:
    sim = make_sim(orders_fail=True)
    out = sim.turn("着火了")
    assert any(line.startswith("transfer emergency") for line in out)


def test_classifier_unavailable_or_broken_uses_the_keypad_menu() -> None:
    class Broken:
        def classify(self, text: str) -> object:
            raise RuntimeError("policy missing")

    for classifier in (None, Broken()):
        sim = Simulator(Context(load_flow(HOTLINE), classifier))  # type: ignore[arg-type]
        sim.start()
        assert played(sim.turn("路灯坏了")) == ["menu.keypad"]


def test_stale_prompt_done_after_barge_in_does_not_skip_a_prompt() -> None:
    flow = load_flow(HOTLINE)
    state, actions = step(new_call(Context(flow, FakeClassifier())), Started("c", "139", True))
    assert [type(a).__name__ for a in actions] == ["Play"]
    state, actions = step(state, PromptDone(1))
    state, actions = step(state, PromptDone(2))
    assert state.phase == "listening"
    state, actions = step(state, Recognized("我要离婚"))
    scope = state.play_seq
    state, _ = step(state, PromptDone(3, completed=False))  # the open question's prompt, stopped by barge-in
    assert state.node == "redirect" and state.wait_play == scope
    state, actions = step(state, Digits("5"))  # keys while a prompt plays that nobody listens to: ignored
    assert actions == [] and state.node == "redirect"
    state, actions = step(state, NoInput())
    assert actions == []
    state, actions = step(state, Hangup())
    assert state.finished and step(state, Recognized("x")) == (state, [])


def test_an_emergency_mentioned_mid_collection_goes_to_the_emergency_path() -> None:
    sim = make_sim()
    sim.turn("路灯坏了")
    sim.turn("城东区")
    out = sim.turn("哎呀等一下 楼下着火了")
    assert "urgency=emergency" in out[0] and any(line.startswith("transfer emergency sip:119") for line in out)
    assert "路灯坏了" in sim.orders[0][1].content and "着火" in sim.orders[0][1].content


def test_the_caller_can_give_the_calling_number_as_contact() -> None:
    sim = make_sim(caller="13600001111")
    for words in ("路灯坏了", "城东区", "今天", "很黑"):
        sim.turn(words)
    assert sim.listening is not None and "本机" in (sim.listening.spec.grammar or ())
    assert "13600001111" in sim.turn("就用这个号码")[0]


def test_a_classify_step_sets_the_variables_it_declares() -> None:
    from flows.runner import CLASSIFY_SETS

    sim = make_sim()
    before = set(sim.state.vars)
    sim.turn("路灯坏了")
    assert set(sim.state.vars) - before - {"utterance", "last_text"} == set(CLASSIFY_SETS)


def test_the_hang_up_order_rule_is_declared_in_the_flow() -> None:
    from flows.loader import parse_flow

    text = load_flow(HOTLINE).source
    flow = parse_flow(Path(text).read_text("utf-8").replace("order_when: {disposition: [accept, emergency]}",
                                                            "order_when: {disposition: [emergency]}"), "h.yaml")
    assert dict(load_flow(HOTLINE).hangup_order.when) == {"disposition": ("accept", "emergency")}
    sim = Simulator(Context(flow, FakeClassifier(), EMERGENCY))
    sim.start()
    sim.turn("路灯坏了")
    sim.turn("(hangup)")
    assert not sim.orders  # an accepted matter no longer qualifies under this flow's rule


@pytest.mark.parametrize("channel", [None, "", "999"])
def test_an_emergency_without_a_routable_channel_is_confirmed_then_reaches_the_default_channel(
        channel: str | None) -> None:
    """An emergency with no channel (or one no route knows) never plays ``emergency.`` nor transfers to nothing."""
    table = {"家里有老人": FakeClassification("", "emergency", None, channel, "fire", 0.95, "求助")}
    sim = Simulator(Context(load_flow(HOTLINE), FakeClassifier(table), EMERGENCY))
    sim.start()
    assert played(sim.turn("屋里只有十二度 家里有老人")) == ["emergency.confirm.110"]  # a guess: asked first
    out = sim.turn("是的")
    assert "play emergency.110 (no barge-in)" in "\n".join(out)
    assert [t.target for t in sim.transfers] == ["sip:110@psap"]


def test_a_transfer_whose_target_fills_empty_takes_its_on_fail_path_without_a_transfer() -> None:
    flow = parse_flow("""\
flow: tiny
start: hello
nodes:
  hello: {type: say, prompt: greeting, next: out}
  out: {type: transfer, kind: emergency, target: "{nowhere}", on_fail: failed}
  failed: {type: say, prompt: transfer.failed, next: agent}
  agent: {type: transfer, kind: agent, on_fail: bye}
  bye: {type: hangup, prompt: goodbye}
""", "tiny.yaml")
    sim = Simulator(Context(flow, None))
    sim.start()
    assert played(sim.output)[:2] == ["greeting", "transfer.failed"]
    assert [(t.kind, t.target) for t in sim.transfers] == [("agent", "default")]  # no emergency transfer to ""


def test_a_caller_who_hangs_up_at_the_redirect_offer_ends_cleanly_with_no_order() -> None:
    sim = make_sim()
    sim.turn("我要申请仲裁")
    sim.turn("(hangup)")
    assert sim.finished and not sim.orders and not sim.transfers
