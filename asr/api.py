"""What the flow engine sees of speech recognition; it never imports Vosk.

Audio fed in is the call's PCM16 8 kHz 20 ms frames.  ``feed`` never blocks the event loop: decoding runs in a
bounded thread pool and its results come back through :meth:`Listener.next_event`.
Time is injected (``now`` in seconds on the call's clock) so endpointing and barge-in replay on virtual time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable


@dataclass(frozen=True)
class ListenSpec:
    """How to listen for one question (from the flow step)."""

    grammar: tuple[str, ...] | None = None  # phrases for grammar mode; None = free-form
    hotwords: tuple[str, ...] = ()  # place / department names to favour
    no_input_timeout: float = 6.0  # seconds without speech start -> NoInput
    end_silence: float = 0.8  # trailing silence that ends an utterance
    max_utterance: float = 20.0  # hard cap on one utterance
    barge_in: bool = True  # may caller speech stop the prompt that is playing?
    min_barge_in_speech: float = 0.35  # seconds of speech before it counts as barge-in (backchannels are shorter)
    kind: Literal["free", "yes_no", "digits", "menu", "phone", "address", "time"] = "free"


@dataclass(frozen=True)
class Recognition:
    text: str  # raw recognized text (Chinese, spaces between words removed)
    normalized: str  # after ITN: digits as digits (幺三八… -> 138…)
    confidence: float  # 0..1
    low_confidence: bool  # the flow should confirm or offer the keypad
    alternatives: tuple[str, ...] = ()
    words: tuple[tuple[str, float], ...] = ()  # (word, confidence)
    grammar: bool = False


@dataclass(frozen=True)
class SpeechStarted:
    at: float


@dataclass(frozen=True)
class BargeIn:
    """Speech long/loud enough to stop the prompt (only when the spec allows barge-in)."""

    at: float


@dataclass(frozen=True)
class Recognized:
    result: Recognition
    speech_start: float
    speech_end: float


@dataclass(frozen=True)
class NoInput:
    at: float


@dataclass(frozen=True)
class NoMatch:
    """Speech was heard but nothing usable came out (empty text or nothing in the grammar)."""

    at: float
    text: str = ""


SpeechEvent = SpeechStarted | BargeIn | Recognized | NoInput | NoMatch


class Listener(Protocol):
    """Per-call speech input."""

    def listen(self, spec: ListenSpec, now: float) -> None:
        """Arm for one question; the no-input timer starts at ``now``."""
        ...

    def cancel(self) -> None: ...

    def feed(self, frame: bytes, now: float) -> None: ...

    async def next_event(self) -> SpeechEvent: ...

    def close(self) -> None: ...


@runtime_checkable
class PromptAwareListener(Listener, Protocol):
    """Optional extension (asr listeners implement it): prompts and clock ticks.

    ``set_prompt(True, now)`` while a prompt plays: an utterance shorter than ``min_barge_in_speech`` (a backchannel
    such as 嗯/啊/对/好), or any utterance when the spec has ``barge_in=False``, is dropped instead of recognized, and
    the no-input timer only starts at ``set_prompt(False, now)``.  ``tick(now)`` lets timers fire when no audio comes.
    Use: ``if isinstance(listener, PromptAwareListener): listener.set_prompt(True, now)``.
    """

    def set_prompt(self, playing: bool, now: float) -> None: ...

    def tick(self, now: float) -> None: ...


@dataclass(frozen=True)
class SpeechStatus:
    available: bool  # False: DTMF mode (no model, or model failed to load)
    mode: Literal["speech", "dtmf"]
    model_path: str | None = None
    reason: str = ""  # why speech is unavailable, said in logs and to the caller as "please use the keypad"
    missing_words: dict[str, list[str]] = field(default_factory=dict)


class SpeechService(Protocol):
    """One per process: owns the model and the recognizer pool."""

    @property
    def status(self) -> SpeechStatus: ...

    def open_listener(self) -> Listener:
        """A listener for one call; in DTMF mode it only reports NoInput when asked to listen."""
        ...

    def close(self) -> None: ...
