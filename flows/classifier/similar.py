"""Fallback for utterances no keyword explains: naive Bayes over character unigrams and bigrams, trained on the
labelled example sentences in flows/classifier/examples.txt (one ``label<TAB>text`` per line, ``#`` comments;
operators add lines there; no model download).

It only speaks when the keyword matcher found nothing; its answer is low-confidence and carries the shared
character pairs as evidence (``≈举报我…``), so the flow still confirms, clarifies or offers the keypad.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent / "examples.txt"


_FUNCTION = frozenset("我你他她它们的了是在有这那个一不就也都和与吗呢吧啊呀么要想说会能去来给把被还又很太对")


def features(text: str) -> list[str]:
    """Content characters and character pairs (pairs with a function character carry no topic)."""
    chars = [c for c in text if c not in _FUNCTION]
    pairs = [text[i : i + 2] for i in range(len(text) - 1) if not (_FUNCTION & set(text[i : i + 2]))]
    return [*chars, *pairs]


@dataclass(frozen=True)
class Guess:
    label: str  # "accept:water", "redirect:litigation", "emergency:fire", "clarify" …
    disposition_share: float  # posterior mass of the guessed label's disposition
    evidence: tuple[str, ...]


class Similar:
    def __init__(self, examples: Iterable[tuple[str, str]], prepare: Callable[[str], str], alpha: float = 0.5) -> None:
        self._prepare = prepare
        self._alpha = alpha
        self._counts: dict[str, Counter[str]] = defaultdict(Counter)
        for text, label in examples:
            self._counts[label].update(set(features(prepare(text))))
        vocab = {f for c in self._counts.values() for f in c}
        self._vocab = frozenset(vocab)
        self._logp: dict[str, dict[str, float]] = {}
        self._unseen: dict[str, float] = {}
        for label, counts in self._counts.items():
            denom = sum(counts.values()) + alpha * len(vocab)
            self._logp[label] = {f: math.log((n + alpha) / denom) for f, n in counts.items()}
            self._unseen[label] = math.log(alpha / denom)

    @classmethod
    def from_file(cls, prepare: Callable[[str], str], path: Path = EXAMPLES) -> Similar | None:
        """The fallback built from ``path``; None when the file is missing or empty (the matcher alone serves)."""
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError:
            return None
        examples = []
        for line in lines:
            label, sep, text = line.partition("\t")
            if sep and text.strip() and label.strip() and not label.startswith("#"):
                examples.append((text.strip(), label.strip()))
        return cls(examples, prepare) if examples else None

    def guess(self, text: str) -> Guess | None:
        feats = [f for f in set(features(self._prepare(text))) if f in self._vocab]
        if not feats:
            return None
        scores: dict[str, float] = {}
        for label, logp in self._logp.items():
            unseen = self._unseen[label]
            scores[label] = sum(logp.get(f, unseen) for f in feats)
        top = max(scores.values())
        post = {label: math.exp(s - top) for label, s in scores.items()}
        z = sum(post.values())
        best = max(post, key=lambda k: post[k])
        disposition = best.split(":", 1)[0]
        share = sum(p for k, p in post.items() if k.split(":", 1)[0] == disposition) / z
        counts = self._counts[best]
        shared = sorted((f for f in feats if len(f) == 2 and counts[f] > 0), key=lambda f: -counts[f])[:4]
        return Guess(best, share, tuple(f"≈{f}" for f in shared))
