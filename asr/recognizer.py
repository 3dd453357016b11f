"""The Vosk adapter behind a small interface (tests may fake :class:`Recognizer` to isolate an edge).

Facts this module respects (Vosk 0.3.45): after ``AcceptWaveform`` returns 1, ``Result()`` must be read or the
next utterance merges into this one; grammars go through ``json.dumps(..., ensure_ascii=False)`` (escaped words
are "missing" and silently dropped); ``SetGrammar`` on a free-form recognizer throws its graph cache away (measured
0.07 s → 1.0 s for the next pass), so free-form and grammar recognizers are never mixed (see :mod:`asr.pool`).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import soxr

_CJK_GAP = re.compile(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])")
UNK_TOKENS = ("[unk]", "<UNK>", "<unk>")


def join_words(text: str) -> str:
    """Remove the spaces Vosk puts between Chinese words (other scripts keep their spaces)."""
    return _CJK_GAP.sub("", text.strip())


@dataclass(frozen=True)
class RawResult:
    text: str  # joined (no spaces between Chinese words)
    words: tuple[tuple[str, float], ...] = ()
    alternatives: tuple[str, ...] = ()


class Recognizer(Protocol):
    grammar_mode: bool

    def set_grammar(self, phrases: Sequence[str]) -> None: ...

    def accept(self, pcm8k: bytes) -> None:
        """Decode PCM16 8 kHz audio of the current utterance."""
        ...

    def final(self) -> RawResult:
        """End the utterance and return its text; the recognizer is ready for the next one."""
        ...

    def reset(self) -> None: ...


class ModelHandle(Protocol):
    path: str
    unk: str | None

    def has_word(self, word: str) -> bool: ...

    def new_recognizer(self, grammar: Sequence[str] | None) -> Recognizer: ...


def _words(obj: dict[str, Any]) -> list[tuple[str, float]]:
    return [(str(w.get("word", "")), float(w.get("conf", 1.0))) for w in obj.get("result", []) or []]


class VoskModel:
    """One loaded ``vosk.Model`` (load once per process: ~2 s, ~500 MB for the Korean model)."""

    def __init__(self, path: str, *, rate: int = 8000, words: bool = True, max_alternatives: int = 0) -> None:
        import vosk

        vosk.SetLogLevel(-1)
        self.path = path
        self.rate = rate
        self._words = words
        self._max_alternatives = max_alternatives
        self._model = vosk.Model(model_path=path)  # never Model(lang=...): no downloads at run time
        self.unk = next((tok for tok in UNK_TOKENS if self.has_word(tok)), None)
        self._lock = threading.Lock()
        self.constructions = 0  # recognizers built (each builds its own graph cache on first use)

    def has_word(self, word: str) -> bool:
        return int(self._model.vosk_model_find_word(word)) >= 0

    def new_recognizer(self, grammar: Sequence[str] | None) -> VoskRecognizer:
        with self._lock:
            self.constructions += 1
        return VoskRecognizer(
            self._model, self.rate, grammar, words=self._words, max_alternatives=self._max_alternatives
        )


class VoskRecognizer:
    """A streaming ``KaldiRecognizer`` fed 8 kHz audio (resampled here when the model runs at 16 kHz)."""

    def __init__(
        self, model: Any, rate: int, grammar: Sequence[str] | None, *, words: bool = True, max_alternatives: int = 0
    ) -> None:
        import vosk

        self.grammar_mode = grammar is not None
        if grammar is not None:
            self._rec = vosk.KaldiRecognizer(model, float(rate), _grammar_json(grammar))
        else:
            self._rec = vosk.KaldiRecognizer(model, float(rate))
        self._rec.SetWords(words)
        if max_alternatives:
            self._rec.SetMaxAlternatives(max_alternatives)
        self._rate = rate
        self._resampler: soxr.ResampleStream | None = None
        self._segments: list[dict[str, Any]] = []

    def set_grammar(self, phrases: Sequence[str]) -> None:
        if not self.grammar_mode:
            raise ValueError("free-form recognizer: SetGrammar would discard its warm graph cache")
        if not phrases:
            raise ValueError("empty grammar (Vosk crashes on it)")
        self._rec.SetGrammar(_grammar_json(phrases))

    def _resample(self, pcm8k: bytes, last: bool = False) -> bytes:
        if self._rate == 8000:
            return pcm8k
        if self._resampler is None:
            self._resampler = soxr.ResampleStream(8000, self._rate, 1, dtype="int16")
        samples = np.frombuffer(pcm8k, dtype=np.int16)
        return bytes(self._resampler.resample_chunk(samples, last=last).tobytes())

    def accept(self, pcm8k: bytes) -> None:
        if len(pcm8k) % 2:
            pcm8k = pcm8k[:-1]
        data = self._resample(pcm8k)
        if data and self._rec.AcceptWaveform(data):
            self._segments.append(json.loads(self._rec.Result()))

    def final(self) -> RawResult:
        if self._rate != 8000 and self._resampler is not None:
            tail = self._resample(b"", last=True)
            if tail and self._rec.AcceptWaveform(tail):
                self._segments.append(json.loads(self._rec.Result()))
            self._resampler = None
        self._segments.append(json.loads(self._rec.FinalResult()))
        segments, self._segments = self._segments, []
        return _combine(segments)

    def reset(self) -> None:
        self._rec.Reset()
        self._segments = []
        self._resampler = None


def _grammar_json(phrases: Sequence[str]) -> str:
    return json.dumps(list(phrases), ensure_ascii=False)


def _combine(segments: list[dict[str, Any]]) -> RawResult:
    texts: list[str] = []
    words: list[tuple[str, float]] = []
    alternatives: list[str] = []
    for seg in segments:
        alts = seg.get("alternatives")
        if alts:
            best = alts[0]
            texts.append(str(best.get("text", "")))
            words.extend(_words(best))
            if len(segments) == 1:
                alternatives = [join_words(str(a.get("text", ""))) for a in alts[1:]]
        else:
            texts.append(str(seg.get("text", "")))
            words.extend(_words(seg))
    text = join_words(" ".join(t for t in texts if t))
    return RawResult(text=text, words=tuple(words), alternatives=tuple(a for a in alternatives if a))
