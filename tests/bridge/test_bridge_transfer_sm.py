"""The pure warm-transfer state machine: transitions and their actions."""

from __future__ import annotations

from bridge import transfer_sm as sm


def run(events: list[sm.Event], settings: sm.Settings | None = None) -> tuple[sm.State, list[sm.Action]]:
    s = sm.State(settings or sm.Settings())
    out: list[sm.Action] = []
    for ev in events:
        s, acts = sm.step(s, ev)
        out += acts
    return s, out


def kinds(actions: list[sm.Action]) -> list[str]:
    return [type(a).__name__ for a in actions]


def test_happy_path_pops_and_whispers_before_bridge() -> None:
    s, acts = run([sm.Start(), sm.AgentClaimed("a1"), sm.AgentAnswered("a1"), sm.PopDone(), sm.WhisperDone()])
    k = kinds(acts)
    assert k[:2] == ["PlayCaller", "StartHold"] and acts[0] == sm.PlayCaller("transfer.notice")
    assert k.index("ScreenPop") < k.index("Bridge") and k.index("Whisper") < k.index("Bridge")
    assert s.phase == "bridged" and acts[-1] == sm.Finish("bridged", "a1")
    assert sm.MarkOrder("assigned", "bridged", "a1") in acts


def test_bridge_waits_for_both_pop_and_whisper() -> None:
    s, acts = run([sm.Start(), sm.AgentClaimed("a1"), sm.AgentAnswered("a1"), sm.WhisperDone()])
    assert s.phase == "whisper" and "Bridge" not in kinds(acts)


def test_no_answer_moves_to_next_agent_excluding_tried() -> None:
    s, acts = run([sm.Start(), sm.AgentClaimed("a1"), sm.DialFailedEv("a1", 0, "timeout")])
    assert sm.ReleaseAgent("a1") in acts and acts[-1] == sm.Claim(("a1",))
    s, acts2 = sm.step(s, sm.AgentClaimed("a2"))
    assert acts2 == [sm.Dial("a2")]


def test_max_agents_then_callback_and_polite_end() -> None:
    st = sm.Settings(max_agents=2)
    s, acts = run([sm.Start(), sm.AgentClaimed("a1"), sm.DialFailedEv("a1", 0), sm.AgentClaimed("a2"),
                   sm.DialFailedEv("a2", 486)], st)
    assert s.phase == "closing"
    assert sm.PlayCaller("transfer.no_agent_callback", notify_done=True) in acts
    assert any(isinstance(a, sm.MarkOrder) and a.status == "callback_pending" for a in acts)
    s, acts = sm.step(s, sm.CallerPromptDone())
    assert kinds(acts) == ["HangupCaller", "Finish"] and acts[-1].status == "no_agent"  # type: ignore[union-attr]


def test_nobody_free_polls_until_wait_expires() -> None:
    s, acts = run([sm.Start(), sm.NoAgentFree()])
    assert s.phase == "waiting" and sm.StartTimer("poll", 1.0) in acts
    s, acts = sm.step(s, sm.TimerFired("poll"))
    assert acts == [sm.Claim(())]
    s, acts = sm.step(s, sm.TimerFired("wait"))
    assert s.phase == "closing" and sm.PlayCaller("transfer.no_agent_callback", notify_done=True) in acts


def test_caller_hangs_up_while_dialing_cancels_and_marks() -> None:
    s, acts = run([sm.Start(), sm.AgentClaimed("a1"), sm.CallerHungUp()])
    assert sm.CancelDial() in acts and sm.ReleaseAgent("a1") in acts
    assert any(isinstance(a, sm.MarkOrder) and a.status == "abandoned" for a in acts)
    assert s.phase == "done" and acts[-1] == sm.Finish("caller_hung_up", "a1", "caller hung up while dialing")


def test_caller_hangs_up_during_whisper_tears_agent_leg_down() -> None:
    _s, acts = run([sm.Start(), sm.AgentClaimed("a1"), sm.AgentAnswered("a1"), sm.CallerHungUp()])
    assert sm.HangupAgent() in acts and sm.ReleaseAgent("a1") in acts and "Bridge" not in kinds(acts)


def test_agent_hangs_up_first_offers_retry_then_retries() -> None:
    s, acts = run([sm.Start(), sm.AgentClaimed("a1"), sm.AgentAnswered("a1"), sm.PopDone(), sm.WhisperDone(),
                   sm.AgentHungUp()])
    assert s.phase == "offer" and sm.Unbridge() in acts
    assert sm.PlayCaller("transfer.agent_unavailable_retry") in acts
    s, acts = sm.step(s, sm.CallerDigit("1"))
    assert s.phase == "claiming" and sm.StartHold() in acts and acts[-1] == sm.Claim(())


def test_agent_hangs_up_then_timeout_means_callback() -> None:
    s, acts = run([sm.Start(), sm.AgentClaimed("a1"), sm.AgentAnswered("a1"), sm.AgentHungUp(),
                   sm.TimerFired("choice")])
    assert s.phase == "closing" and sm.PlayCaller("callback.promise", notify_done=True) in acts
    assert any(isinstance(a, sm.MarkOrder) and a.status == "callback_pending" for a in acts)


def test_stale_events_are_ignored() -> None:
    s, acts = run([sm.Start(), sm.AgentClaimed("a1"), sm.AgentAnswered("zz"), sm.DialFailedEv("zz", 0)])
    assert s.phase == "dialing" and acts[-1] == sm.Dial("a1")
    s2, acts2 = sm.step(sm.State(phase="done"), sm.Start())
    assert acts2 == [] and s2.phase == "done"


def test_flow_announces_no_agent_returns_at_once() -> None:
    st = sm.Settings(announce=False)
    s, acts = run([sm.Start(), sm.NoAgentFree(), sm.TimerFired("wait")], st)
    assert "PlayCaller" not in kinds(acts) and "HangupCaller" not in kinds(acts)
    assert s.phase == "done" and acts[-1] == sm.Finish("no_agent", None, "no agent free")
    s, acts = run([sm.Start(), sm.AgentClaimed("a1"), sm.AgentAnswered("a1"), sm.AgentHungUp(),
                   sm.CallerDigit("2")], st)
    assert s.phase == "done" and isinstance(acts[-1], sm.Finish) and acts[-1].status == "no_agent"
    assert sm.PlayCaller("transfer.agent_unavailable_retry") in acts  # the retry offer is ours


def test_after_bridge_we_voice_the_callback_even_when_the_flow_announces() -> None:
    st = sm.Settings(announce=False)
    s, acts = run([sm.Start(), sm.AgentClaimed("a1"), sm.AgentAnswered("a1"), sm.PopDone(), sm.WhisperDone(),
                   sm.AgentHungUp(), sm.TimerFired("choice")], st)
    # the flow already got "bridged" and waits for the hang-up: the caller must not be left in silence
    assert s.phase == "closing" and sm.PlayCaller("callback.promise", notify_done=True) in acts
    s, acts = sm.step(s, sm.CallerPromptDone())
    assert sm.HangupCaller() in acts
