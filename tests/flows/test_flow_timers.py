"""The runner's timers on virtual time: pure ``step()`` calls, no session, no event loop.

A small driver plays the executor's part: prompts take ``prompt_seconds`` (queued at once unless ``stuck``),
``StartTimer`` / ``CancelTimer`` arm and disarm, and time only moves when the test says so.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from pathlib import Path

from flows.events import (
    Action,
    CancelTimer,
    DropPending,
    Event,
    Key,
    Listen,
    NoInput,
    Play,
    PromptDone,
    PromptStarted,
    Recognized,
    Rendering,
    StartTimer,
    StopListening,
    StopPlayback,
    TimerFired,
    Transfer,
    Warn,
)
from flows.loader import load_flow, parse_flow
from flows.runner import Context, Limits, State, new_call, step
from flows.simulate import SimOptions, Simulator
from tests.kit.classifier import FakeClassifier

FLOW = parse_flow("""\
flow: timers
start: code
on_error: sorry
nodes:
  code:
    type: collect
    prompt: ask.phone_keypad
    store: code
    listen: {kind: digits, no_input_timeout: 7}
    keypad: {max_digits: 6, terminator: "#", inter_digit_timeout: 5, first_digit_timeout: 10}
    retries: 1
    fallback: agent
    next: bye
  agent: {type: transfer, kind: agent, prompt: transfer.notice, on_fail: bye}
  sorry: {type: say, prompt: error.system, barge_in: false, next: agent}
  bye: {type: hangup, prompt: goodbye}
""", "timers.yaml")


@dataclass
class Driver:
    """The executor's part on virtual time."""

    flow: object = FLOW
    speech: bool = False
    limits: Limits = field(default_factory=Limits)
    prompt_seconds: float = 2.0
    stuck: tuple[str, ...] = ()  # prompt ids whose audio never renders
    now: float = 0.0
    log: list[tuple[float, Action]] = field(default_factory=list)
    state: State = field(init=False)
    _due: list[tuple[float, int, Event]] = field(default_factory=list)
    _seq: int = 0
    _playing_until: float = 0.0
    _rendering: bool = False  # prompts render one after the other
    _waiting: list[Play] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.state = new_call(Context(self.flow, FakeClassifier(), limits=self.limits))  # type: ignore[arg-type]

    def start(self) -> None:
        from flows.events import Started

        self.send(Started("c1", "13800000000", self.speech))

    def send(self, event: Event) -> None:
        self.state, actions = step(self.state, event)
        for action in actions:
            self.log.append((self.now, action))
            if isinstance(action, Play):
                self._waiting.append(action)
            elif isinstance(action, StartTimer):
                self._at(self.now + action.seconds, TimerFired(action.name, action.token), timer=action.name)
            elif isinstance(action, CancelTimer):
                self._due = [d for d in self._due if not (isinstance(d[2], TimerFired) and d[2].name == action.name)]
                heapq.heapify(self._due)
            elif isinstance(action, DropPending):
                self._waiting.clear()
                self._rendering = False
        self._render_next()

    def _render_next(self) -> None:
        if self._rendering or not self._waiting:
            return
        play = self._waiting.pop(0)
        self._rendering = True
        self.send(Rendering(play.play_id))
        if play.prompt_id in self.stuck:
            return
        self._rendering = False
        start = max(self.now, self._playing_until)
        self._playing_until = start + self.prompt_seconds
        self._at(self._playing_until, PromptDone(play.play_id, True))
        self.send(PromptStarted(play.play_id))

    def _at(self, when: float, event: Event, timer: str | None = None) -> None:
        if timer is not None:  # a restarted timer replaces the armed one
            self._due = [d for d in self._due if not (isinstance(d[2], TimerFired) and d[2].name == timer)]
            heapq.heapify(self._due)
        self._seq += 1
        heapq.heappush(self._due, (when, self._seq, event))

    def advance(self, seconds: float) -> None:
        until = self.now + seconds
        while self._due and self._due[0][0] <= until and not self.state.finished:
            when, _, event = heapq.heappop(self._due)
            self.now = max(self.now, when)
            self.send(event)
        self.now = until

    def played(self) -> list[tuple[float, str]]:
        return [(t, a.prompt_id) for t, a in self.log if isinstance(a, Play)]

    def timers(self, name: str) -> list[tuple[float, float]]:
        """(when started, seconds) of every start of timer ``name``."""
        return [(t, a.seconds) for t, a in self.log if isinstance(a, StartTimer) and a.name == name]


def test_keypad_no_input_reprompts_then_falls_to_the_fallback() -> None:
    run = Driver()
    run.start()
    # the question's prompt plays 0-2 s; its no-input timer (first_digit_timeout 10) runs from its end
    assert run.timers("no_input") == []
    run.advance(2.0)
    assert run.timers("no_input") == [(2.0, 10.0)]
    run.advance(9.9)
    assert [p for _, p in run.played()] == ["ask.phone_keypad"]  # 12 s: nothing yet
    run.advance(0.1)
    assert run.played()[1:] == [(12.0, "reprompt.no_input"), (12.0, "ask.phone_keypad")]
    assert run.state.attempts == 1
    run.advance(4.0)
    assert run.timers("no_input")[-1] == (16.0, 10.0)  # from the end of both prompts
    run.advance(10.0)
    assert run.played()[-1] == (26.0, "transfer.notice") and run.state.node == "agent"
    run.advance(2.0)
    assert isinstance(run.log[-1][1], Transfer) and run.log[-1][0] == 28.0


def test_a_key_stops_the_question_and_cancels_its_no_input_timer() -> None:
    run = Driver()
    run.start()
    run.advance(1.0)  # during the question's prompt
    run.send(Key("4"))
    after_key = [a for t, a in run.log if t == 1.0]
    assert StopPlayback() in after_key and StopListening() in after_key
    run.advance(30.0)  # no no-input: the entry ends by its inter-digit timeout instead
    assert run.state.vars["code"] == "4" and run.played()[-1] == (6.0, "goodbye")


def test_inter_digit_timeout_ends_digit_collection() -> None:
    run = Driver()
    run.start()
    run.advance(3.0)
    for key in "42":
        run.send(Key(key))
        run.advance(1.0)
    assert run.timers("inter_digit") == [(3.0, 5.0), (4.0, 5.0)]  # restarted by each key
    assert "code" not in run.state.vars
    run.advance(3.9)  # 8.9 s: 4.9 s after the last key
    assert "code" not in run.state.vars
    run.advance(0.1)
    assert run.state.vars["code"] == "42" and run.played()[-1] == (9.0, "goodbye")


def test_the_terminator_or_the_length_ends_the_entry_without_waiting() -> None:
    run = Driver()
    run.start()
    run.advance(3.0)
    for key in "7#":
        run.send(Key(key))
    assert run.state.vars["code"] == "7" and run.played()[-1] == (3.0, "goodbye")
    assert any(isinstance(a, CancelTimer) and a.name == "inter_digit" for _, a in run.log)


def test_keys_pressed_before_the_question_opens_answer_it() -> None:
    run = Driver(flow=load_flow(Path(__file__).resolve().parents[2] / "flows" / "definitions" / "hotline.yaml"))
    run.start()
    run.send(Key("3"))  # during the greeting: kept for the first question (the keypad menu)
    run.advance(30.0)
    assert ("ask.phone_keypad" in [p for _, p in run.played()]) and run.state.vars.get("request_type") == "投诉"


def test_the_recognizer_keeps_its_own_no_input_timer() -> None:
    run = Driver(speech=True)
    run.start()
    listens = [a for _, a in run.log if isinstance(a, Listen)]
    assert listens and listens[0].speech and listens[0].spec.no_input_timeout == 7.0
    run.advance(60.0)
    assert run.timers("no_input") == [] and len(run.played()) == 1  # it waits for the recognizer's NoInput
    run.send(NoInput())
    assert [p for _, p in run.played()][1:] == ["reprompt.no_input", "ask.phone_keypad"]


def test_watchdog_sends_an_overlong_call_to_the_error_path() -> None:
    run = Driver(limits=Limits(max_call_seconds=20.0))
    run.start()
    assert run.timers("watchdog") == [(0.0, 20.0)]  # from the first prompt's rendering
    run.advance(19.9)
    assert "error.system" not in [p for _, p in run.played()]
    run.advance(0.1)
    assert run.played()[-1] == (20.0, "error.system") and run.state.vars["error"] == "call too long"
    assert run.timers("no_input")  # the question it left had one: cancelled with it
    assert CancelTimer("no_input") in [a for t, a in run.log if t == 20.0]


def test_render_deadline_warns_then_takes_the_error_path() -> None:
    run = Driver(limits=Limits(render_timeout=90.0, render_warning=15.0), stuck=("ask.phone_keypad",))
    run.start()
    assert run.timers("render") == [(0.0, 90.0)] and run.timers("render_slow") == [(0.0, 15.0)]
    run.advance(15.0)
    assert [a for t, a in run.log if isinstance(a, Warn)] and run.played() == [(0.0, "ask.phone_keypad")]
    run.advance(74.9)
    assert len(run.played()) == 1  # a slow synthesis is waited for
    run.advance(0.1)
    at_90 = [a for t, a in run.log if t == 90.0]
    assert DropPending() in at_90 and run.played()[-1] == (90.0, "error.system")
    assert at_90.index(DropPending()) < next(i for i, a in enumerate(at_90) if isinstance(a, Play))
    assert "not rendered within 90 s" in run.state.vars["error"]


def test_a_prompt_rendered_in_time_cancels_its_deadline() -> None:
    run = Driver()
    run.start()
    started = [a for _, a in run.log if isinstance(a, StartTimer) and a.name == "render"]
    cancelled = [a for _, a in run.log if isinstance(a, CancelTimer) and a.name == "render"]
    assert len(started) == len(cancelled) == 1 and "render" not in run.state.timers
    run.advance(200.0)  # never fires
    assert "error" not in run.state.vars


def test_a_timer_answered_late_is_ignored() -> None:
    """A TimerFired for a start that was cancelled or restarted since (already queued) changes nothing."""
    run = Driver()
    run.start()
    run.advance(2.0)
    token = run.state.timers["no_input"]
    run.send(Key("1"))  # cancels no_input
    before = run.state
    run.send(TimerFired("no_input", token))
    assert run.state == before
    run.send(Recognized("x"))  # keys being entered: the recognizer is not asked
    assert run.state.keys == "1"


def test_simulate_covers_timeouts_on_virtual_time() -> None:
    """``hotline flows simulate``: silence on a keypad-only question fires its no-input timer, ``(press …)`` and
    ``(wait …)`` end an entry by its inter-digit timeout, ``@max_call_seconds`` arms a short watchdog."""
    sim = Simulator(Context(FLOW, FakeClassifier()), SimOptions(speech=False))
    sim.start()
    out = sim.turn("(silence)")
    assert sim.now == 10.0 and [line.split()[1].rstrip(":") for line in out if line.startswith("play")] == [
        "reprompt.no_input", "ask.phone_keypad"]
    sim.turn("(press 42)")
    assert "code" not in sim.state.vars
    out = sim.turn("(wait 5)")
    assert sim.state.vars["code"] == "42" and any(line.startswith("play goodbye") for line in out)

    sim = Simulator(Context(FLOW, FakeClassifier()), SimOptions(speech=True, max_call_seconds=30))
    sim.start()
    out = sim.turn("(wait 31)")
    assert any(line.startswith("play error.system") for line in out) and sim.state.vars["error"] == "call too long"
