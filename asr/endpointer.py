"""Endpointing and barge-in as a pure state machine on injected time: ``step(state, event) -> (state, actions)``.

Input is the VAD's verdict per 20 ms frame with the frame's start time; output says when an utterance starts
(decode from here, with pre-roll), when it is long enough to stop the prompt (barge-in), when it ends (trailing
silence or the length cap), when it is only a backchannel spoken over a prompt (嗯/啊/对/好 shorter than
``min_barge_in_speech``: dropped, the prompt goes on), and when nobody spoke (no-input timeout, counted from the
end of the prompt when the listener is told about prompts, else from arming).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

FRAME = 0.02

Phase = Literal["idle", "waiting", "speech", "done"]


@dataclass(frozen=True)
class Params:
    no_input_timeout: float = 6.0
    end_silence: float = 0.8
    max_utterance: float = 20.0
    barge_in: bool = True
    min_barge_in_speech: float = 0.35
    onset: float = 0.06  # voiced run that counts as the start of speech


@dataclass(frozen=True)
class State:
    phase: Phase = "idle"
    params: Params = Params()
    timer_from: float = 0.0  # no-input reference
    prompt_active: bool = False
    run_start: float | None = None  # start of the voiced run before onset
    speech_start: float = 0.0
    last_voiced: float = 0.0
    voiced: float = 0.0  # voiced seconds in this utterance
    barged: bool = False


# events
@dataclass(frozen=True)
class Arm:
    params: Params
    now: float


@dataclass(frozen=True)
class Frame:
    voiced: bool
    now: float  # start of the frame
    duration: float = FRAME


@dataclass(frozen=True)
class Tick:
    now: float


@dataclass(frozen=True)
class Prompt:
    active: bool
    now: float


@dataclass(frozen=True)
class Cancel:
    now: float


Event = Arm | Frame | Tick | Prompt | Cancel


# actions
@dataclass(frozen=True)
class StartSpeech:
    at: float


@dataclass(frozen=True)
class BargeIn:
    at: float


@dataclass(frozen=True)
class EndSpeech:
    start: float
    end: float
    reason: Literal["silence", "max"]


@dataclass(frozen=True)
class Discard:
    """The utterance was a backchannel over a prompt (or barge-in is off): forget it, keep waiting."""

    start: float
    end: float


@dataclass(frozen=True)
class NoInput:
    at: float


Action = StartSpeech | BargeIn | EndSpeech | Discard | NoInput


def _no_input(state: State, now: float) -> tuple[State, list[Action]]:
    if state.phase == "waiting" and not state.prompt_active and state.run_start is None:
        if now - state.timer_from >= state.params.no_input_timeout:
            return replace(state, phase="done"), [NoInput(now)]
    return state, []


def _frame(state: State, ev: Frame) -> tuple[State, list[Action]]:
    p = state.params
    end = ev.now + ev.duration
    if state.phase == "waiting":
        if ev.voiced:
            run_start = ev.now if state.run_start is None else state.run_start
            if end - run_start >= p.onset - 1e-9:
                state = replace(
                    state,
                    phase="speech",
                    run_start=None,
                    speech_start=run_start,
                    last_voiced=end,
                    voiced=end - run_start,
                    barged=False,
                )
                actions: list[Action] = [StartSpeech(run_start)]
                return _after_voiced(state, end, actions)
            return replace(state, run_start=run_start), []
        return _no_input(replace(state, run_start=None), end)
    if state.phase == "speech":
        if ev.voiced:
            state = replace(state, last_voiced=end, voiced=state.voiced + ev.duration)
            return _after_voiced(state, end, [])
        if end - state.last_voiced >= p.end_silence - 1e-9:
            return _finish(state, end)
        return _cap(state, end, [])
    return state, []


def _after_voiced(state: State, now: float, actions: list[Action]) -> tuple[State, list[Action]]:
    p = state.params
    if p.barge_in and not state.barged and state.voiced >= p.min_barge_in_speech - 1e-9:
        state = replace(state, barged=True)
        actions.append(BargeIn(now))
    return _cap(state, now, actions)


def _cap(state: State, now: float, actions: list[Action]) -> tuple[State, list[Action]]:
    if now - state.speech_start >= state.params.max_utterance - 1e-9:
        actions.append(EndSpeech(state.speech_start, now, "max"))
        return replace(state, phase="done"), actions
    return state, actions


def _finish(state: State, now: float) -> tuple[State, list[Action]]:
    p = state.params
    short = state.voiced < p.min_barge_in_speech - 1e-9
    if state.prompt_active and (short or not p.barge_in):
        discard = Discard(state.speech_start, state.last_voiced)
        return replace(state, phase="waiting", run_start=None, voiced=0.0, barged=False), [discard]
    return replace(state, phase="done"), [EndSpeech(state.speech_start, state.last_voiced, "silence")]


def step(state: State, event: Event) -> tuple[State, list[Action]]:
    """Advance the endpointer by one event."""
    if isinstance(event, Arm):
        return State(phase="waiting", params=event.params, timer_from=event.now, prompt_active=state.prompt_active), []
    if isinstance(event, Cancel):
        return replace(state, phase="idle", run_start=None), []
    if isinstance(event, Prompt):
        if event.active == state.prompt_active:
            return state, []
        if not event.active:
            # the no-input timer runs from the end of the prompt
            return replace(state, prompt_active=False, timer_from=event.now), []
        return replace(state, prompt_active=True), []
    if isinstance(event, Tick):
        if state.phase == "speech":
            if event.now - state.last_voiced >= state.params.end_silence - 1e-9:
                return _finish(state, event.now)
            return _cap(state, event.now, [])
        return _no_input(state, event.now)
    return _frame(state, event)
