"""The contract between the call engine and the application (flows, speech, agents).

Everything above the call engine talks to calls only through these types; tests provide fakes of them.
Audio inside the application is always 16-bit signed little-endian mono PCM at 8 kHz, in 20 ms frames
(160 samples, 320 bytes; ``audio.pcm``).  The engine converts to and from G.711 / G.722 on the wire.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from audio.pcm import FRAME_BYTES as FRAME_BYTES
from audio.pcm import FRAME_MS as FRAME_MS
from audio.pcm import FRAME_SAMPLES as FRAME_SAMPLES
from audio.pcm import SAMPLE_RATE as SAMPLE_RATE

AudioSink = Callable[[bytes], None]
"""Receives one 20 ms PCM16 frame of the remote party's audio (already de-jittered, in order)."""


@dataclass(frozen=True)
class DigitEvent:
    """A key the remote party pressed: RFC 4733 telephone-event or SIP INFO (dtmf-relay / dtmf)."""

    digit: str  # "0".."9", "*", "#", "A".."D"
    source: Literal["rfc4733", "info"]
    duration_ms: int = 0


@dataclass(frozen=True)
class HangupEvent:
    """The call ended: remote BYE, CANCEL, timeout, transport failure, or local hang-up."""

    reason: str
    by_remote: bool


@dataclass(frozen=True)
class PlaybackFinished:
    """A queued playback ended, fully played (``completed``) or stopped early."""

    playback_id: int
    completed: bool


@dataclass(frozen=True)
class TransferResult:
    """Outcome of a blind transfer (REFER): ``accepted`` after 202, ``succeeded`` after NOTIFY 2xx."""

    accepted: bool
    succeeded: bool
    status: int
    reason: str = ""


CallEvent = DigitEvent | HangupEvent | PlaybackFinished


@dataclass
class Playback:
    """Handle of audio queued with :meth:`Call.play`."""

    playback_id: int
    done: asyncio.Future[bool] = field(repr=False)  # True when played to the end, False when stopped


@runtime_checkable
class Call(Protocol):
    """One established call leg (incoming from a caller, or outgoing to an agent)."""

    @property
    def call_id(self) -> str: ...

    @property
    def caller(self) -> str:
        """The calling party's number / user part of From (the citizen's number on an incoming call)."""
        ...

    @property
    def called(self) -> str:
        """User part of the request URI / To (e.g. ``12345``)."""
        ...

    @property
    def ended(self) -> bool: ...

    def play(self, pcm: bytes, *, interruptible: bool = True) -> Playback:
        """Queue PCM16 8 kHz audio after anything already queued; returns at once."""
        ...

    def stop_playback(self, *, force: bool = False) -> None:
        """Stop and drop queued audio that is interruptible (all of it with ``force``) within one frame."""
        ...

    def set_audio_sink(self, sink: AudioSink | None) -> None:
        """Deliver the remote party's audio frames to ``sink`` (None stops delivery)."""
        ...

    async def next_event(self) -> CallEvent:
        """Next digit / playback / hang-up event; after hang-up keeps returning the HangupEvent."""
        ...

    async def transfer(self, target: str) -> TransferResult:
        """Blind transfer with REFER to ``target`` (SIP URI or number)."""
        ...

    async def hangup(self, reason: str = "normal") -> None: ...


class Bridge(Protocol):
    """Two legs joined inside the engine: audio relayed both ways, DTMF passed through."""

    @property
    def active(self) -> bool: ...

    def unbridge(self) -> None: ...


class DialFailed(Exception):
    """An outgoing call was not answered: ``status`` is the final SIP status (0 for timeout / no route)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


class CallEngine(Protocol):
    """What the application may ask of the engine besides handling a single call."""

    async def dial(
        self, target: str, *, caller_id: str = "12345", timeout: float = 20.0, early_audio: bool = False
    ) -> Call:
        """Place an outgoing call (UAC); returns the answered leg or raises :class:`DialFailed`."""
        ...

    def bridge(self, a: Call, b: Call) -> Bridge: ...


CallHandler = Callable[[Call], Awaitable[None]]
"""The application: called once per answered incoming call; the call is hung up when it returns."""
