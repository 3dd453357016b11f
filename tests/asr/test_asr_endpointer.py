"""Endpointer state machine on virtual time: start/end, no-input, max length, barge-in, backchannels."""

from __future__ import annotations

from asr import endpointer as ep

F = ep.FRAME


def run(
    pattern: list[tuple[bool, float]], params: ep.Params, *, prompt: bool = False, prompt_ends: float | None = None
) -> list[ep.Action]:
    """Feed (voiced, seconds) segments from t=0; returns all actions."""
    state, _ = ep.step(ep.State(), ep.Prompt(prompt, 0.0))
    state, _ = ep.step(state, ep.Arm(params, 0.0))
    actions: list[ep.Action] = []
    t = 0.0
    for voiced, seconds in pattern:
        for _ in range(round(seconds / F)):
            if prompt_ends is not None and state.prompt_active and t >= prompt_ends - 1e-9:
                state, acts = ep.step(state, ep.Prompt(False, t))
                actions += acts
            state, acts = ep.step(state, ep.Frame(voiced, t))
            actions += acts
            t = round(t + F, 6)
    return actions


def kinds(actions: list[ep.Action]) -> list[str]:
    return [type(a).__name__ for a in actions]


def test_utterance_start_and_end_after_trailing_silence() -> None:
    acts = run([(False, 1.0), (True, 1.2), (False, 1.0)], ep.Params(end_silence=0.6))
    assert kinds(acts) == ["StartSpeech", "BargeIn", "EndSpeech"]
    start, end = acts[0], acts[2]
    assert isinstance(start, ep.StartSpeech) and abs(start.at - 1.0) < 1e-6
    assert isinstance(end, ep.EndSpeech) and abs(end.end - 2.2) < 1e-6 and end.reason == "silence"


def test_short_pause_inside_an_utterance_does_not_end_it() -> None:
    acts = run([(False, 0.5), (True, 0.5), (False, 0.4), (True, 0.5), (False, 1.0)], ep.Params(end_silence=0.6))
    ends = [a for a in acts if isinstance(a, ep.EndSpeech)]
    assert len(ends) == 1 and abs(ends[0].start - 0.5) < 1e-6 and abs(ends[0].end - 1.9) < 1e-6


def test_per_step_end_silence() -> None:
    pattern = [(False, 0.2), (True, 0.5), (False, 0.5), (True, 0.5), (False, 2.0)]
    assert len([a for a in run(pattern, ep.Params(end_silence=0.4)) if isinstance(a, ep.EndSpeech)]) == 1
    long_wait = run(pattern, ep.Params(end_silence=1.0))
    ends = [a for a in long_wait if isinstance(a, ep.EndSpeech)]
    assert len(ends) == 1 and abs(ends[0].end - 1.7) < 1e-6  # the 0.5 s pause did not end it


def test_no_input_timeout() -> None:
    acts = run([(False, 7.0)], ep.Params(no_input_timeout=5.0))
    assert kinds(acts) == ["NoInput"]
    assert isinstance(acts[0], ep.NoInput) and abs(acts[0].at - 5.0) < 1e-6


def test_no_input_counts_from_the_end_of_the_prompt() -> None:
    acts = run([(False, 9.0)], ep.Params(no_input_timeout=5.0), prompt=True, prompt_ends=3.0)
    assert isinstance(acts[0], ep.NoInput) and abs(acts[0].at - 8.0) < 1e-6


def test_tick_fires_no_input_without_audio() -> None:
    state, _ = ep.step(ep.State(), ep.Arm(ep.Params(no_input_timeout=2.0), 10.0))
    state, acts = ep.step(state, ep.Tick(11.0))
    assert acts == []
    state, acts = ep.step(state, ep.Tick(12.5))
    assert kinds(acts) == ["NoInput"]


def test_max_utterance_caps_endless_speech() -> None:
    acts = run([(False, 0.1), (True, 5.0)], ep.Params(max_utterance=3.0))
    end = [a for a in acts if isinstance(a, ep.EndSpeech)]
    assert len(end) == 1 and end[0].reason == "max" and abs(end[0].end - end[0].start - 3.0) < 1e-6


def test_barge_in_timing_on_virtual_time() -> None:
    """Barge-in fires as soon as the minimum speech is reached: within one frame, far under 200 ms."""
    params = ep.Params(min_barge_in_speech=0.35)
    acts = run([(False, 2.0), (True, 1.0), (False, 1.0)], params, prompt=True)
    barge = [a for a in acts if isinstance(a, ep.BargeIn)]
    assert len(barge) == 1
    assert 0.0 <= barge[0].at - (2.0 + 0.35) <= 0.2
    assert barge[0].at - (2.0 + 0.35) < F + 1e-6


def test_backchannel_does_not_cut_the_prompt() -> None:
    """嗯 (0.2 s) while a prompt plays: no barge-in, dropped, and real speech afterwards still works."""
    params = ep.Params(min_barge_in_speech=0.35, end_silence=0.5)
    acts = run([(False, 1.0), (True, 0.2), (False, 1.0), (True, 0.8), (False, 1.0)], params, prompt=True)
    assert kinds(acts) == ["StartSpeech", "Discard", "StartSpeech", "BargeIn", "EndSpeech"]


def test_short_answer_after_the_prompt_is_kept() -> None:
    """对 (0.2 s) once the prompt has ended is an answer, not a backchannel."""
    acts = run([(False, 1.0), (True, 0.2), (False, 1.0)], ep.Params(end_silence=0.5), prompt=False)
    assert kinds(acts) == ["StartSpeech", "EndSpeech"]


def test_barge_in_off_for_the_legal_notice() -> None:
    params = ep.Params(barge_in=False, end_silence=0.5)
    acts = run([(False, 0.5), (True, 2.0), (False, 1.0)], params, prompt=True)
    assert "BargeIn" not in kinds(acts)
    assert kinds(acts) == ["StartSpeech", "Discard"]


def test_clicks_shorter_than_onset_are_ignored() -> None:
    acts = run([(False, 0.5), (True, 0.02), (False, 0.5), (True, 0.02), (False, 7.0)], ep.Params(no_input_timeout=6.0))
    assert kinds(acts) == ["NoInput"]


def test_cancel_and_rearm() -> None:
    state, _ = ep.step(ep.State(), ep.Arm(ep.Params(), 0.0))
    state, acts = ep.step(state, ep.Frame(True, 0.0))
    state, acts = ep.step(state, ep.Frame(True, 0.02))
    state, acts = ep.step(state, ep.Frame(True, 0.04))
    assert kinds(acts) == ["StartSpeech"]
    state, _ = ep.step(state, ep.Cancel(0.06))
    state, acts = ep.step(state, ep.Frame(False, 10.0))
    assert state.phase == "idle" and acts == []
