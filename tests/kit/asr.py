"""The speech component's edges for its tests: a Vosk model, recogniser and VAD isolated by fakes, and helpers that
drive a real listener on virtual time."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from asr.api import SpeechEvent
from asr.listener import VoskListener
from asr.recognizer import RawResult, Recognizer
from asr.synth import frames


class FakeVad:
    """Any non-zero frame is speech."""

    name = "fake"

    def speech(self, frame: bytes) -> bool:
        return any(frame)

    def reset(self) -> None:
        pass


class FakeRecognizer:
    """Decodes every utterance as ``model.text``; raises while ``model.fail``."""

    def __init__(self, model: FakeModel) -> None:
        self.model = model
        self.grammar_mode = False
        self.bytes = 0

    def set_grammar(self, phrases: Sequence[str]) -> None:
        self.model.grammars.append(tuple(phrases))

    def accept(self, pcm8k: bytes) -> None:
        if self.model.fail:
            raise RuntimeError("decoder exploded")
        self.bytes += len(pcm8k)
        self.model.decoded += len(pcm8k)

    def final(self) -> RawResult:
        return RawResult(self.model.text, tuple((w, 0.9) for w in self.model.text.split()))

    def reset(self) -> None:
        self.bytes = 0


class FakeModel:
    """Knows every word; counts the bytes decoded and the grammars set."""

    path = "fake"
    unk: str | None = "[unk]"

    def __init__(self, text: str = "我要 投诉") -> None:
        self.text = text
        self.fail = False
        self.decoded = 0
        self.grammars: list[tuple[str, ...]] = []

    def has_word(self, word: str) -> bool:
        return True

    def new_recognizer(self, grammar: Sequence[str] | None) -> Recognizer:
        return FakeRecognizer(self)


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
