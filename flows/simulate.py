"""``hotline flows simulate``: a text call through the real runner, and regression transcripts.

The caller's turns: words as typed, ``#123`` for keys (a trailing ``#`` is the terminator), an empty line or
``(silence)`` for no input, ``(nomatch)`` for unusable speech, ``(hangup)``.  Time is virtual: the runner's timers
(flows/runner.py) fire when a turn lets time pass — ``(silence)`` on a keypad-only question waits for its no-input
timer, ``(press 139)`` presses keys one by one (the entry ends by length, terminator or inter-digit timeout) and
``(wait 5)`` lets 5 seconds pass (inter-digit, no-input, watchdog ...).  Orders get simulated numbers and
transfers the outcome chosen with ``@agent`` / ``@transfer`` in a script (or the options).

Script format (tests/flows/scripts/*.txt)::

    @speech off              # options first: @speech on|off, @agent bridged|no_agent|failed,
    @caller 13800000000      #   @transfer transferred|failed, @orders ok|fail
    > 我家楼下着火了            # a caller turn
    ? play emergency.119     # must appear in the output since the previous turn (substring)
    ! play clarify.what      # must not appear there
    ?end transfer            # must appear in the end reason once the script is over
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from bridge.api import OrderDraft
from flows.check import CATALOGUE_DIR
from flows.events import (
    Action,
    CancelTimer,
    CreateOrder,
    Digits,
    DropPending,
    Event,
    Failed,
    Hangup,
    HangupCall,
    Key,
    Listen,
    NoInput,
    NoMatch,
    OrderCreated,
    Play,
    PromptDone,
    PromptStarted,
    Recognized,
    RecordUnreasonable,
    Started,
    StartTimer,
    StopListening,
    StopPlayback,
    TimerFired,
    Transfer,
    TransferDone,
    TransferOutcome,
    Warn,
)
from flows.runner import Context, State, new_call, step

TextOf = Callable[[str, Mapping[str, str]], str]


_TEXTS: dict[tuple[tuple[str, int], ...], dict[str, str]] = {}


def _load_texts(directory: Path) -> dict[str, str]:
    files = sorted(directory.glob("*.yaml")) if directory.is_dir() else []
    key = tuple((str(f), f.stat().st_mtime_ns) for f in files)
    if key in _TEXTS:
        return _TEXTS[key]
    texts: dict[str, str] = {}
    for file in files:
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            continue
        for pid, entry in (data.get("prompts") or {}).items() if isinstance(data, dict) else []:
            if isinstance(entry, dict) and isinstance(entry.get("text"), str):
                texts[str(pid)] = entry["text"]
    _TEXTS.clear()
    _TEXTS[key] = texts
    return texts


def catalogue_texts(directory: Path = CATALOGUE_DIR) -> TextOf:
    """Prompt text from the catalogue files (the simulator needs no TTS); unknown ids show as [id]."""
    texts = _load_texts(directory)

    def text_of(prompt_id: str, slots: Mapping[str, str]) -> str:
        template = texts.get(prompt_id)
        if template is None:
            return "[" + " ".join([prompt_id, *(f"{k}={v}" for k, v in slots.items())]) + "]"
        try:
            return template.format_map(dict(slots))
        except (KeyError, ValueError):
            return template

    return text_of


@dataclass
class SimOptions:
    speech: bool = True
    caller: str = "13800000000"
    agent: TransferOutcome = "bridged"
    transfer: TransferOutcome = "transferred"
    orders_fail: bool = False
    max_call_seconds: float | None = None  # None: the context's limit


@dataclass
class Simulator:
    ctx: Context
    options: SimOptions = field(default_factory=SimOptions)
    text_of: TextOf = field(default_factory=catalogue_texts)
    call_id: str = "sim-call"
    state: State = field(init=False)
    output: list[str] = field(default_factory=list)
    orders: list[tuple[str, OrderDraft]] = field(default_factory=list)  # (order_no, draft) incl. unreasonable
    transfers: list[Transfer] = field(default_factory=list)
    listening: Listen | None = None
    now: float = 0.0  # virtual seconds since the start
    timers: dict[str, tuple[float, int]] = field(default_factory=dict)  # armed timer -> (due, token)

    def __post_init__(self) -> None:
        if self.options.max_call_seconds is not None:
            limits = replace(self.ctx.limits, max_call_seconds=self.options.max_call_seconds)
            self.ctx = replace(self.ctx, limits=limits)
        self.state = new_call(self.ctx)

    @property
    def finished(self) -> bool:
        return self.state.finished

    def start(self) -> list[str]:
        return self.send(Started(self.call_id, self.options.caller, self.options.speech))

    def turn(self, line: str) -> list[str]:
        """One caller turn in the simulator syntax."""
        text = line.strip()
        if text in ("", "(silence)"):
            if "no_input" in self.timers:  # a keypad-only question: its no-input timer fires
                return self.wait(self.timers["no_input"][0] - self.now)
            return self.send(NoInput())  # the recognizer's no-input
        if text.startswith("(wait ") and text.endswith(")"):
            return self.wait(float(text[6:-1]))
        if text.startswith("(press ") and text.endswith(")"):
            return [line for key in text[7:-1].strip() for line in self.send(Key(key))]
        if text == "(nomatch)":
            return self.send(NoMatch())
        if text == "(hangup)":
            return self.send(Hangup("caller"))
        if text.startswith("#") and len(text) > 1:
            keys = text[1:]
            terminated = keys.endswith("#")
            return self.send(Digits(keys.rstrip("#"), terminated))
        return self.send(Recognized(text, text, 0.9, False))

    def wait(self, seconds: float) -> list[str]:
        """Let ``seconds`` of virtual time pass: the timers due on the way fire in order."""
        until = self.now + max(0.0, seconds)
        produced: list[str] = []
        while self.timers and not self.state.finished:
            name, (due, token) = min(self.timers.items(), key=lambda item: item[1][0])
            if due > until:
                break
            del self.timers[name]
            self.now = max(self.now, due)
            produced += self.send(TimerFired(name, token), keep_listening=True)
        self.now = until
        return produced

    def send(self, event: Event, keep_listening: bool = False) -> list[str]:
        produced: list[str] = []
        was_finished = self.state.finished
        if isinstance(event, Recognized | Digits | NoInput | NoMatch) and self.listening is None:
            produced.append("(nobody is listening: input ignored)")
        if not isinstance(event, Key) and not keep_listening:
            self.listening = None
        queue: deque[Event] = deque([event])
        while queue:
            self.state, actions = step(self.state, queue.popleft())
            for action in actions:
                line = self._describe(action)
                if line:
                    produced.append(line)
                queue.extend(self._execute(action))
        if self.state.phase != "listening":
            self.listening = None
        if self.state.finished and not was_finished:
            produced.append(f"end {self.state.end_reason}")
        self.output += produced
        return produced

    def _execute(self, action: Action) -> list[Event]:
        if isinstance(action, Play):  # audio at once, played to the end
            return [PromptStarted(action.play_id), PromptDone(action.play_id, True)]
        if isinstance(action, Listen):
            self.listening = action
        elif isinstance(action, StartTimer):
            self.timers[action.name] = (self.now + action.seconds, action.token)
        elif isinstance(action, CancelTimer):
            self.timers.pop(action.name, None)
        elif isinstance(action, CreateOrder | RecordUnreasonable):
            if self.options.orders_fail:
                return [Failed("order store unavailable (simulated)")]
            order_no = f"SIM{len(self.orders) + 1:04d}"
            self.orders.append((order_no, action.draft))
            return [OrderCreated(order_no)] if not self.state.finished else []
        elif isinstance(action, Transfer):
            self.transfers.append(action)
            return [TransferDone(self.options.agent if action.kind == "agent" else self.options.transfer)]
        return []

    def _describe(self, action: Action) -> str:
        """The output line of an action; "" for timers (they show as what they cause)."""
        if isinstance(action, StartTimer | CancelTimer | StopListening):
            return ""
        if isinstance(action, DropPending):
            return "drop prompts not yet rendered"
        if isinstance(action, Warn):
            return f"warning {action.message}"
        if isinstance(action, Play):
            flag = "" if action.barge_in else " (no barge-in)"
            return f"play {action.prompt_id}{flag}: {self.text_of(action.prompt_id, action.slots)}"
        if isinstance(action, Listen):
            keys = ""
            if action.keypad is not None:
                keys = f" keys<={action.keypad.max_digits}{action.keypad.terminator or ''}"
            return f"listen {action.spec.kind}{'' if action.speech else ' (keypad only)'}{keys}"
        if isinstance(action, CreateOrder | RecordUnreasonable):
            d = action.draft
            kind = "unreasonable" if isinstance(action, RecordUnreasonable) else "order"
            fields = {"disposition": d.disposition, "type": d.request_type, "category": d.category_code,
                      "urgency": d.urgency, "rule": d.rule_id, "channel": d.channel, "district": d.district,
                      "address": d.address, "time": d.incident_time, "phone": d.contact_number,
                      "callback": d.callback_requested}
            shown = " ".join(f"{k}={v}" for k, v in fields.items() if v not in (None, "", False))
            return f"{kind} {shown} content={json.dumps(d.content, ensure_ascii=False)}"
        if isinstance(action, Transfer):
            outcome = self.options.agent if action.kind == "agent" else self.options.transfer
            return f"transfer {action.kind} {action.target} -> {outcome}"
        if isinstance(action, HangupCall):
            return f"hangup {action.reason}"
        if isinstance(action, StopPlayback):
            return "stop playback"
        return repr(action)


# ---- scripts ----------------------------------------------------------------------------------------------


@dataclass
class ScriptResult:
    ok: bool
    transcript: list[str]
    failures: list[str]


def _options(lines: list[tuple[int, str]]) -> SimOptions:
    options = SimOptions()
    for number, line in lines:
        key, _, value = line[1:].partition(" ")
        value = value.strip()
        if key == "speech":
            options.speech = value != "off"
        elif key == "caller":
            options.caller = value
        elif key == "agent":
            options.agent = value  # type: ignore[assignment]
        elif key == "transfer":
            options.transfer = value  # type: ignore[assignment]
        elif key == "orders":
            options.orders_fail = value == "fail"
        elif key == "max_call_seconds":
            options.max_call_seconds = float(value)
        else:
            raise ValueError(f"line {number}: unknown option @{key}")
    return options


def run_script(text: str, make_ctx: Callable[[], Context], **kwargs: Any) -> ScriptResult:
    lines = [(n, raw.strip()) for n, raw in enumerate(text.splitlines(), 1)]
    lines = [(n, line) for n, line in lines if line and not line.startswith("#")]
    sim = Simulator(make_ctx(), _options([(n, x) for n, x in lines if x.startswith("@")]), **kwargs)
    failures: list[str] = []
    transcript: list[str] = []
    recent = sim.start()
    transcript += recent
    for number, line in lines:
        if line.startswith(">"):
            turn = line[1:].strip()
            transcript.append(f"> {turn}")
            recent = sim.turn(turn)
            transcript += recent
        elif line.startswith("?end"):
            if line[4:].strip() not in sim.state.end_reason:
                failures.append(f"line {number}: end reason {sim.state.end_reason!r} lacks {line[4:].strip()!r}")
        elif line.startswith("?"):
            if not any(line[1:].strip() in out for out in recent):
                failures.append(f"line {number}: expected {line[1:].strip()!r} in: {recent}")
        elif line.startswith("!"):
            if any(line[1:].strip() in out for out in recent):
                failures.append(f"line {number}: did not expect {line[1:].strip()!r}")
        elif not line.startswith("@"):
            failures.append(f"line {number}: cannot read {line!r}")
    return ScriptResult(not failures, transcript, failures)
