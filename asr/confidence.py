"""From a raw decoder result to the flow's :class:`~asr.api.Recognition`: unknown tokens, ITN, confidence flag."""

from __future__ import annotations

from asr.api import ListenSpec, Recognition
from asr.hotwords import apply_hotwords
from asr.itn import Kind, normalize
from asr.recognizer import UNK_TOKENS, RawResult, join_words

ITN_KIND: dict[str, Kind] = {"phone": "phone", "digits": "phone", "address": "house", "time": "time"}


def confidence_of(words: tuple[tuple[str, float], ...]) -> float:
    """Mean word confidence, unknown tokens counting 0 (1.0 when the decoder gave no word list)."""
    if not words:
        return 1.0
    scores = [0.0 if w in UNK_TOKENS else max(0.0, min(1.0, c)) for w, c in words]
    return sum(scores) / len(scores)


def needs_confirmation(confidence: float, threshold: float) -> bool:
    return confidence < threshold


def to_recognition(
    raw: RawResult, spec: ListenSpec, *, grammar: bool, threshold: float, hotwords: tuple[str, ...] = ()
) -> Recognition | None:
    """None when nothing usable was heard (empty, or only the unknown token)."""
    kept = [w for w, _ in raw.words if w not in UNK_TOKENS]
    if raw.words:
        text = join_words(" ".join(kept))
    else:
        text = join_words(" ".join(t for t in raw.text.split() if t not in UNK_TOKENS))
    if not text:
        return None
    confidence = confidence_of(raw.words)
    if not grammar and (hotwords or spec.hotwords):
        text = apply_hotwords(text, tuple(spec.hotwords) + tuple(hotwords))
    normalized = normalize(text, ITN_KIND.get(spec.kind, "free"))
    return Recognition(
        text=text,
        normalized=normalized,
        confidence=round(confidence, 3),
        low_confidence=needs_confirmation(confidence, threshold),
        alternatives=raw.alternatives,
        words=raw.words,
        grammar=grammar,
    )
