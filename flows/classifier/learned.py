"""The learned half of the classifier: complement naive Bayes over character 1–3-grams and tone-less pinyin
1–2-grams, trained at start-up on labelled caller sentences (no model download, no training step to run).

Training data are operator-editable files:
- ``examples.txt``: ``label<TAB>text`` lines (``#`` comments), labels ``emergency:<rule>``, ``accept:<category>``,
  ``redirect:<rule>``, ``decline:<rule>``, ``clarify``;
- ``training/*.jsonl``: the corpus format (``text``, ``disposition``, ``category``, ``rule``), one object a line.

Complement NB (Rennie et al., 2003) is used because it stays well-behaved with many small, uneven classes and trains
in one counting pass. Pinyin features make it robust to homophone ASR errors (着伙/着火, 没气/煤气). Training takes
about a second for a few thousand sentences and is shared by every classifier built from the same files.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pypinyin import Style, lazy_pinyin

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE / "examples.txt"
TRAINING_DIR = HERE / "training"
ALPHA = 0.3  # additive smoothing; chosen by leave-one-author-out accuracy (bench/classifier_accuracy.py --cross)


def features(norm: str) -> set[str]:
    """Character 1–3-grams (with start/end marks) and pinyin 1–2-grams of a normalised utterance."""
    marked = f"^{norm}$"
    out = {"c" + marked[i : i + k] for k in (1, 2, 3) for i in range(len(marked) - k + 1)} - {"c^", "c$", "c^$"}
    split_chars: Any = list  # digits and letters: one "syllable" each
    syllables = ["^", *lazy_pinyin(norm, style=Style.NORMAL, errors=split_chars), "$"]
    out.update("p" + s for s in syllables[1:-1])
    out.update(f"p{a}_{b}" for a, b in itertools.pairwise(syllables))
    return out


def disposition_of(label: str) -> str:
    return label.split(":", 1)[0]


def read_examples(path: Path) -> list[tuple[str, str]]:
    """``(text, label)`` pairs of one examples.txt or corpus .jsonl file (bad lines are logged and skipped)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        log.warning("classifier examples %s unreadable: %s", path, exc)
        return []
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        if path.suffix == ".jsonl":
            try:
                row = json.loads(line)
                disposition = str(row["disposition"])
                key = row.get("rule") if disposition in ("emergency", "redirect", "decline") else row.get("category")
                text = str(row["text"])
            except (ValueError, KeyError, TypeError):
                log.warning("%s:%d: not a corpus line, skipped", path, n)
                continue
            out.append((text, f"{disposition}:{key}" if key else disposition))
        else:
            label, sep, text = line.partition("\t")
            if sep and text.strip() and label.strip():
                out.append((text.strip(), label.strip()))
            else:
                log.warning("%s:%d: not label<TAB>text, skipped", path, n)
    return out


def default_sources() -> list[Path]:
    return [EXAMPLES, *sorted(TRAINING_DIR.glob("*.jsonl"))]


@dataclass(frozen=True)
class Prediction:
    label: str  # "accept:water", "redirect:litigation", "emergency:fire", "clarify" …
    disposition: str
    share: float  # posterior mass of ``disposition`` (all its labels together)
    by_disposition: dict[str, float]
    best_of: dict[str, str]  # the most likely label of each disposition
    evidence: tuple[str, ...]  # the n-grams that weigh most for ``label``, as ``≈起诉``


class LearnedModel:
    """Complement NB; :meth:`predict` is pure and thread-safe."""

    def __init__(self, labels: Sequence[str], vocab: dict[str, int], weights: np.ndarray,
                 prepare: Callable[[str], str]) -> None:
        self.labels = list(labels)
        self.vocab = vocab
        self.weights = weights  # (features, labels): log of the complement's feature probability, negated
        self._prepare = prepare
        self._dispositions = sorted({disposition_of(lb) for lb in self.labels})
        self._member = np.array([[disposition_of(lb) == d for lb in self.labels] for d in self._dispositions],
                                dtype=np.float64)

    @classmethod
    def train(cls, examples: Iterable[tuple[str, str]], prepare: Callable[[str], str],
              alpha: float = ALPHA) -> LearnedModel | None:
        rows = [(features(prepare(text)), label) for text, label in examples]
        rows = [(f, lb) for f, lb in rows if f]
        if not rows:
            return None
        labels = sorted({lb for _, lb in rows})
        vocab: dict[str, int] = {}
        for feats, _ in rows:
            for f in feats:
                vocab.setdefault(f, len(vocab))
        counts = np.zeros((len(vocab), len(labels)), dtype=np.float64)
        lab_index = {lb: i for i, lb in enumerate(labels)}
        for feats, lb in rows:
            counts[[vocab[f] for f in feats], lab_index[lb]] += 1.0
        complement = counts.sum(axis=1, keepdims=True) - counts  # each feature's count outside the label
        denom = complement.sum(axis=0, keepdims=True) + alpha * len(vocab)
        weights = -np.log((complement + alpha) / denom)
        return cls(labels, vocab, weights.astype(np.float32), prepare)

    def predict(self, text: str, temperature: float = 1.0) -> Prediction | None:
        """None when the utterance shares no feature with the training sentences. ``temperature`` flattens the
        posterior (NB's independence assumption makes it far too sure of itself)."""
        return self.predict_prepared(self._prepare(text), temperature)

    def predict_prepared(self, norm: str, temperature: float = 1.0) -> Prediction | None:
        """:meth:`predict` for text already prepared (normalised) the way the model's training text was."""
        feats = [f for f in features(norm) if f in self.vocab]
        if not feats:
            return None
        idx = np.fromiter((self.vocab[f] for f in feats), dtype=np.int64, count=len(feats))
        scores = self.weights[idx].astype(np.float64).sum(axis=0)
        post = np.exp((scores - scores.max()) / temperature)
        post /= post.sum()
        best = int(post.argmax())
        shares = self._member @ post
        by_disposition = {d: float(s) for d, s in zip(self._dispositions, shares, strict=True)}
        label = self.labels[best]
        # evidence: the features that favour ``label`` most over the average label (character n-grams only)
        lift = self.weights[idx, best] - self.weights[idx].mean(axis=1)
        order = np.argsort(-lift)
        evidence = tuple(f"≈{feats[i][1:]}" for i in order if feats[i].startswith("c") and len(feats[i]) >= 3
                         and "^" not in feats[i] and "$" not in feats[i] and lift[i] > 0)[:4]
        best_of: dict[str, str] = {}
        for i in np.argsort(-post):
            best_of.setdefault(disposition_of(self.labels[i]), self.labels[i])
        disposition = disposition_of(label)
        return Prediction(label, disposition, by_disposition[disposition], by_disposition, best_of, evidence)


_CACHE: dict[str, LearnedModel | None] = {}
_LOCK = threading.Lock()


def load_model(sources: Sequence[Path], prepare: Callable[[str], str], fingerprint: str,
               alpha: float = ALPHA) -> LearnedModel | None:
    """The model trained on ``sources``, shared by classifiers with the same data and text preparation
    (``fingerprint`` names the preparation, e.g. a hash of the policy's rewrite rules)."""
    h = hashlib.sha256(f"{fingerprint}|{alpha}".encode())
    for path in sources:
        h.update(str(path).encode())
        try:
            h.update(path.read_bytes())
        except OSError:
            h.update(b"<missing>")
    key = h.hexdigest()
    with _LOCK:
        if key not in _CACHE:
            examples = [ex for path in sources for ex in read_examples(path)]
            _CACHE[key] = LearnedModel.train(examples, prepare, alpha)
        return _CACHE[key]


__all__ = ["EXAMPLES", "TRAINING_DIR", "LearnedModel", "Prediction", "default_sources", "features", "load_model"]
