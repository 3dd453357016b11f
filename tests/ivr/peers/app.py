"""Test application for real-peer tests: plays a tone, records digits and caller audio, transfers, bridges.

Keys during a call: ``9`` blind-transfers (REFER) to ``agent``; ``8`` dials ``agent`` and bridges the caller
with it; ``*`` stops the tone and plays a short beep; ``0`` hangs up.  Every call's story is kept in
:attr:`PeerApp.calls` (and appended as JSON lines to ``log_path`` when set, for
``hotline serve --app tests.ivr.peers.app:build`` runs).
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ivr.app import Call, CallEngine, DialFailed, DigitEvent, HangupEvent, PlaybackFinished


def tone(freq: float, seconds: float, amplitude: float = 0.4) -> bytes:
    t = np.arange(int(seconds * 8000)) / 8000
    return bytes((np.sin(2 * np.pi * freq * t) * amplitude * 32767).astype("<i2").tobytes())


@dataclass
class CallRecord:
    call_id: str
    caller: str
    called: str
    digits: list[tuple[str, str]] = field(default_factory=list)  # (digit, source)
    audio_frames: int = 0
    audio_rms: list[float] = field(default_factory=list)
    transfer: dict[str, Any] | None = None
    bridged: bool = False
    dial_error: str | None = None
    hangup: tuple[str, bool] | None = None
    playbacks: list[tuple[int, bool]] = field(default_factory=list)  # PlaybackFinished (id, completed)


class PeerApp:
    def __init__(
        self,
        engine: CallEngine,
        *,
        agent: str | None = None,
        tone_hz: float = 440.0,
        tone_seconds: float = 30.0,
        log_path: str | None = None,
    ) -> None:
        self.engine = engine
        self.agent = agent
        self.tone_hz = tone_hz
        self.tone_seconds = tone_seconds
        self.log_path = Path(log_path) if log_path else None
        self.calls: list[CallRecord] = []
        self.lock = threading.Lock()

    def _log(self, record: CallRecord, what: str, **data: Any) -> None:
        if self.log_path is not None:
            with open(self.log_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({"call_id": record.call_id, "event": what, **data}) + "\n")

    async def __call__(self, call: Call) -> None:
        record = CallRecord(call.call_id, call.caller, call.called)
        with self.lock:
            self.calls.append(record)
        self._log(record, "start", caller=call.caller, called=call.called)

        def sink(frame: bytes) -> None:
            record.audio_frames += 1
            if record.audio_frames % 10 == 0:
                samples = np.frombuffer(frame, dtype="<i2").astype(np.float64)
                record.audio_rms.append(float(np.sqrt(np.mean(samples**2))))

        call.set_audio_sink(sink)
        call.play(tone(self.tone_hz, self.tone_seconds))
        while True:
            event = await call.next_event()
            if isinstance(event, HangupEvent):
                record.hangup = (event.reason, event.by_remote)
                self._log(record, "hangup", reason=event.reason, by_remote=event.by_remote, frames=record.audio_frames)
                return
            if isinstance(event, PlaybackFinished):
                record.playbacks.append((event.playback_id, event.completed))
                continue
            if isinstance(event, DigitEvent):
                record.digits.append((event.digit, event.source))
                self._log(record, "digit", digit=event.digit, source=event.source)
                if event.digit == "*":  # cut the tone short, play a 0.3 s beep instead
                    call.stop_playback(force=True)
                    call.play(tone(1000.0, 0.3))
                if event.digit == "0":
                    await call.hangup()
                    record.hangup = ("local", False)
                    return
                if event.digit == "9" and self.agent:
                    call.stop_playback(force=True)
                    result = await call.transfer(self.agent)
                    record.transfer = {
                        "accepted": result.accepted,
                        "succeeded": result.succeeded,
                        "status": result.status,
                    }
                    self._log(record, "transfer", **record.transfer)
                    if result.succeeded:
                        await call.hangup("transferred")
                        return
                if event.digit == "8" and self.agent:
                    await self._bridge(call, record)
                    return

    async def _bridge(self, call: Call, record: CallRecord) -> None:
        assert self.agent is not None
        call.stop_playback(force=True)
        try:
            agent = await self.engine.dial(self.agent, caller_id=call.caller or "12345", timeout=10)
        except DialFailed as exc:
            record.dial_error = str(exc)
            self._log(record, "dial_failed", error=str(exc))
            return
        bridge = self.engine.bridge(call, agent)
        record.bridged = True
        self._log(record, "bridged")
        done = [asyncio.ensure_future(self._until_hangup(call)), asyncio.ensure_future(self._until_hangup(agent))]
        await asyncio.wait(done, return_when=asyncio.FIRST_COMPLETED)
        bridge.unbridge()
        for task in done:
            task.cancel()
        await agent.hangup()
        await call.hangup()
        record.hangup = ("bridge_ended", True)

    @staticmethod
    async def _until_hangup(call: Call) -> None:
        while not isinstance(await call.next_event(), HangupEvent):
            pass


def build(engine: CallEngine) -> PeerApp:
    """Factory for ``hotline serve --app tests.ivr.peers.app:build`` (env HOTLINE_TEST_AGENT, HOTLINE_TEST_LOG)."""
    return PeerApp(engine, agent=os.environ.get("HOTLINE_TEST_AGENT"), log_path=os.environ.get("HOTLINE_TEST_LOG"))
