"""Events into and actions out of the flow runner (``flows.runner.step``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from asr.api import ListenSpec
from bridge.api import OrderDraft
from flows.model import KeypadConf, TransferKind

# ---- events -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    call_id: str
    caller: str
    speech: bool = True  # False: no ASR model, the call runs on the keypad only


@dataclass(frozen=True)
class Recognized:
    text: str
    normalized: str = ""
    confidence: float = 1.0
    low_confidence: bool = False


@dataclass(frozen=True)
class Digits:
    digits: str  # without the terminator
    terminated: bool = False  # ended by the terminator key


@dataclass(frozen=True)
class NoInput:
    pass


@dataclass(frozen=True)
class NoMatch:
    text: str = ""


@dataclass(frozen=True)
class PromptDone:
    play_id: int
    completed: bool = True


@dataclass(frozen=True)
class Hangup:
    reason: str = "caller"


@dataclass(frozen=True)
class OrderCreated:
    order_no: str
    journaled: bool = False
    late: bool = False  # a write the session had stopped waiting for: the number only, never a step's answer


TransferOutcome = Literal["bridged", "transferred", "no_agent", "caller_hung_up", "agent_hung_up", "failed"]


@dataclass(frozen=True)
class TransferDone:
    outcome: TransferOutcome


@dataclass(frozen=True)
class Failed:
    """A dependency failed while executing the last action (prompt audio, order store, transfer ...)."""

    detail: str


@dataclass(frozen=True)
class Key:
    """One key the caller pressed; the runner collects a question's entry (terminator, length, inter-digit timer)."""

    digit: str


@dataclass(frozen=True)
class BargeIn:
    """The recognizer heard the caller start speaking."""


@dataclass(frozen=True)
class Rendering:
    """The session began rendering a prompt's audio (prompts render one after the other): its deadline runs."""

    play_id: int


@dataclass(frozen=True)
class PromptStarted:
    """A prompt's audio is queued on the call (rendered): its render deadline is over."""

    play_id: int


@dataclass(frozen=True)
class TimerFired:
    """A timer started by :class:`StartTimer` expired (``token`` names the start it answers)."""

    name: str
    token: int = 0


Event = (Started | Recognized | Digits | NoInput | NoMatch | PromptDone | Hangup | OrderCreated | TransferDone
         | Failed | Key | BargeIn | Rendering | PromptStarted | TimerFired)

# ---- actions ----------------------------------------------------------------------------------------------

_NO_SLOTS: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class Play:
    play_id: int
    prompt_id: str
    slots: Mapping[str, str] = field(default_factory=lambda: _NO_SLOTS)
    barge_in: bool = True


@dataclass(frozen=True)
class Listen:
    """The question is open: arm the recognizer now (its no-input timer stretched by the prompt still queued).

    The runner emits it once the question's prompt is queued (barge-in) or has been played (no barge-in)."""

    spec: ListenSpec
    keypad: KeypadConf | None  # None: keys are not collected for this step (global keys still work)
    speech: bool = True  # False in DTMF-only mode


@dataclass(frozen=True)
class StopPlayback:
    """Stop interruptible audio, including prompts not yet queued (barge-in, first key)."""


@dataclass(frozen=True)
class DropPending:
    """Give up every prompt not yet queued on the call (its render deadline passed); audio playing goes on."""


@dataclass(frozen=True)
class StopListening:
    """Cancel the recognizer of the current question (keys are being entered instead)."""


@dataclass(frozen=True)
class StartTimer:
    """Start (or restart) timer ``name``; after ``seconds`` on the session clock it comes back as ``TimerFired``."""

    name: str
    seconds: float
    token: int = 0


@dataclass(frozen=True)
class CancelTimer:
    name: str


@dataclass(frozen=True)
class Warn:
    """Something for the operator's log (the runner does no I/O)."""

    message: str


@dataclass(frozen=True)
class Transfer:
    kind: TransferKind
    target: str  # channel target (number / SIP URI) for emergency and redirect; queue name for agent
    draft: OrderDraft | None = None  # what the agent gets (the order is created before)


@dataclass(frozen=True)
class CreateOrder:
    draft: OrderDraft


@dataclass(frozen=True)
class RecordUnreasonable:
    draft: OrderDraft


@dataclass(frozen=True)
class HangupCall:
    reason: str = "normal"


Action = (Play | Listen | StopPlayback | Transfer | CreateOrder | RecordUnreasonable | HangupCall | DropPending
          | StopListening | StartTimer | CancelTimer | Warn)
