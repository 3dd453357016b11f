"""The speech service and its listener (asr.api) for session tests: events are put on ``listener.events``."""

from __future__ import annotations

import asyncio

from asr import api as speech_api
from asr.api import ListenSpec, SpeechStatus


class FakeListener:
    """Logs what the session armed and fed; its events come from ``events`` (put by the test or a ScriptedCaller)."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[speech_api.SpeechEvent] = asyncio.Queue()
        self.armed: ListenSpec | None = None
        self.armed_at: list[tuple[float, ListenSpec]] = []
        self.frames = 0
        self.closed = False
        self.prompt_marks: list[tuple[bool, float]] = []  # set_prompt(playing, now) calls

    def listen(self, spec: ListenSpec, now: float) -> None:
        self.armed = spec
        self.armed_at.append((now, spec))

    def set_prompt(self, playing: bool, now: float) -> None:
        self.prompt_marks.append((playing, now))

    def tick(self, now: float) -> None:
        pass

    def cancel(self) -> None:
        self.armed = None

    def feed(self, frame: bytes, now: float) -> None:
        self.frames += 1

    async def next_event(self) -> speech_api.SpeechEvent:
        return await self.events.get()

    def close(self) -> None:
        self.closed = True


class FakeSpeech:
    """One listener for the call; ``available=False``: keypad only."""

    def __init__(self, available: bool = True) -> None:
        self.listener = FakeListener()
        self._status = SpeechStatus(available, "speech" if available else "dtmf", reason="" if available else "test")

    @property
    def status(self) -> SpeechStatus:
        return self._status

    def open_listener(self) -> FakeListener:
        return self.listener

    def close(self) -> None:
        pass
