"""EngineCall: one call leg as the application sees it (implements :class:`ivr.app.Call`)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from ivr.app import AudioSink, CallEvent, DigitEvent, HangupEvent, Playback, PlaybackFinished, TransferResult
from ivr.engine.model import CallKey, CallState, HangupCmd, TransferCmd
from ivr.media import MediaSession

if TYPE_CHECKING:
    from ivr.engine.engine import Engine


class EngineCall:
    """A call leg driven by the engine: its SIP state lives in the UA core (sans-IO), its audio in ``media``."""

    def __init__(self, engine: Engine, key: CallKey, media: MediaSession) -> None:
        self.engine = engine
        self.key = key  # (Call-ID, our tag): the leg in the UA core
        self._last_state: CallState | None = None
        self.forgotten = False  # the engine is done with it (media closed)
        self.media = media
        self.task: asyncio.Task[None] | None = None
        self.answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._events: asyncio.Queue[CallEvent] = asyncio.Queue()
        self._hangup: HangupEvent | None = None
        self._transfer: asyncio.Future[TransferResult] | None = None
        self.digits: list[DigitEvent] = []  # every digit received, for logs and tests
        self.started_at = engine.now()
        media.set_dtmf_handler(self._on_rfc4733)

    # ------------------------------------------------------------------ ivr.app.Call

    @property
    def state(self) -> CallState:
        """The SIP state of this leg (the last one, once the core has forgotten the call)."""
        current = self.engine.core.state_of(self.key)
        if current is not None:
            self._last_state = current
        assert self._last_state is not None, "call not started"
        return self._last_state

    @property
    def call_id(self) -> str:
        return self.key[0]

    @property
    def caller(self) -> str:
        return self.state.caller_user

    @property
    def called(self) -> str:
        return self.state.called_user

    @property
    def ended(self) -> bool:
        return self._hangup is not None

    @property
    def hangup_event(self) -> HangupEvent | None:
        return self._hangup

    def play(self, pcm: bytes, *, interruptible: bool = True) -> Playback:
        handle = self.media.play(pcm, interruptible=interruptible)
        handle.done.add_done_callback(lambda fut: self._playback_done(handle.playback_id, fut))
        return handle

    def stop_playback(self, *, force: bool = False) -> None:
        self.media.stop_playback(force=force)

    def set_audio_sink(self, sink: AudioSink | None) -> None:
        self.media.set_audio_sink(sink)

    async def next_event(self) -> CallEvent:
        if self._hangup is not None and self._events.empty():
            return self._hangup
        event = await self._events.get()
        if isinstance(event, HangupEvent):
            self._events.put_nowait(event)  # keep returning it
        return event

    async def transfer(self, target: str) -> TransferResult:
        if self.ended:
            return TransferResult(False, False, 0, "call ended")
        if self._transfer is not None and not self._transfer.done():
            return TransferResult(False, False, 0, "transfer already pending")
        self._transfer = asyncio.get_running_loop().create_future()
        self.engine.feed(self, TransferCmd(self.engine.now(), self.engine.refer_target(target)))
        return await self._transfer

    async def hangup(self, reason: str = "normal") -> None:
        if not self.ended:
            self.engine.feed(self, HangupCmd(self.engine.now(), reason))

    # ------------------------------------------------------------------ engine side

    def deliver(self, event: DigitEvent | HangupEvent | TransferResult) -> None:
        if isinstance(event, TransferResult):
            if self._transfer is not None and not self._transfer.done():
                self._transfer.set_result(event)
            return
        if isinstance(event, HangupEvent):
            if self._hangup is not None:
                return
            self._hangup = event
            if self._transfer is not None and not self._transfer.done():
                self._transfer.set_result(TransferResult(True, event.by_remote, 0, "call ended"))
        else:
            self.digits.append(event)
        self._events.put_nowait(event)

    def _on_rfc4733(self, digit: str, duration_ms: int) -> None:
        if not self.ended:
            self.deliver(DigitEvent(digit, "rfc4733", duration_ms))

    def _playback_done(self, playback_id: int, fut: asyncio.Future[bool]) -> None:
        completed = bool(fut.result()) if not fut.cancelled() and fut.exception() is None else False
        if not self.ended:
            self._events.put_nowait(PlaybackFinished(playback_id, completed))

    def __repr__(self) -> str:
        return f"<EngineCall {self.call_id}>"
