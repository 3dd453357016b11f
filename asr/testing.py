"""Helpers to drive a listener on virtual time (tests and benchmarks of this and other components)."""

from __future__ import annotations

import asyncio

from asr.api import SpeechEvent
from asr.listener import VoskListener
from asr.synth import frames


def drive(listener: VoskListener, pcm: bytes, start: float = 0.0) -> float:
    """Feed ``pcm`` in 20 ms frames on virtual time from ``start``; returns the time after the last frame."""
    now = start
    for frame in frames(pcm):
        listener.feed(frame, now)
        now = round(now + 0.02, 6)
    return now


def collect(listener: VoskListener, timeout: float = 30.0) -> list[SpeechEvent]:
    """Wait until decoding is done, then take every queued event through the async ``next_event``."""
    if not listener.wait_decoded(timeout):
        raise TimeoutError("decoding did not finish")

    async def take() -> list[SpeechEvent]:
        out: list[SpeechEvent] = []
        while True:
            try:
                out.append(await asyncio.wait_for(listener.next_event(), 0.05))
            except TimeoutError:
                return out

    return asyncio.run(take())
