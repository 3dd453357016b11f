"""Keyword matcher over characters and tone-less pinyin: every hit carries its label, term, spans and quality.

Quality: 1.0 exact characters, 0.8 same pinyin (heteronyms of the utterance's characters count), 0.6 fuzzy
pinyin (zh/z, n/l, -ng/-n …, only for literals of four or more syllables). A two-character pinyin-only match
that is itself a known word (pypinyin's phrase list, e.g. 大家 for 打架) is not a match.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import product

from flows.classifier.terms import Term, normalise_literal
from flows.classifier.text import Prepared, fuzzy, is_known_word, literal_syllables

CHAR, PINYIN, FUZZY = 1.0, 0.8, 0.6
# Characters an ASR substitution rarely produces inside a content word; a pinyin-only two-character match that
# needs one of them (着是≈肇事, 个事≈鸽子) is far more likely to straddle two words.
_FUNCTION_CHARS = frozenset("是个的了在有这那就也都和与我你他她它们吗呢吧啊不一说要会能去来给把被还又很太")


@dataclass(frozen=True)
class Hit:
    label: str
    term: Term
    spans: tuple[tuple[int, int], ...]
    quality: float
    matched: str

    @property
    def weight(self) -> float:
        return self.term.weight * self.quality

    @property
    def start(self) -> int:
        return min(s for s, _ in self.spans)

    @property
    def end(self) -> int:
        return max(e for _, e in self.spans)

    @property
    def evidence(self) -> str:
        """The matched words, with the keyword when the match went through pinyin (``着伙≈着火``)."""
        if self.quality >= CHAR:
            return self.matched
        return f"{self.matched}≈{self.term.source.split('^')[0].lstrip('~')}"


@dataclass(frozen=True)
class _Lit:
    chars: str
    syl: tuple[str, ...]
    fsyl: tuple[str, ...]
    pinyin: bool
    fuzzy: bool

    @classmethod
    def of(cls, text: str, term: Term) -> _Lit:
        chars = normalise_literal(text)
        syl = literal_syllables(chars)
        n = len(chars)
        content = sum(c not in _FUNCTION_CHARS for c in chars)  # 烧了 is one syllable of evidence, not two
        ok = term.pinyin and n >= max(2, term.pinyin_min) and content >= 2
        return cls(chars, syl, tuple(fuzzy(s) for s in syl), ok, ok and n >= 4)

    def at(self, utt: Prepared, i: int) -> float:
        n = len(self.chars)
        if i + n > len(utt.text):
            return 0.0
        if utt.text.startswith(self.chars, i):
            return CHAR
        if self.pinyin and all(self.syl[j] in utt.readings[i + j] for j in range(n)):
            if self._suspect(utt.text[i : i + n]):
                return 0.0
            return PINYIN
        if self.fuzzy and all(self.fsyl[j] in utt.fuzzy[i + j] for j in range(n)):
            return FUZZY
        return 0.0

    def _suspect(self, chars: str) -> bool:
        """A pinyin-only match that swaps in a function character, or a two-character one that is a known word."""
        if len(chars) == 2 and is_known_word(chars):
            return True
        return any(c != k and c in _FUNCTION_CHARS for c, k in zip(chars, self.chars, strict=True))


@dataclass(frozen=True)
class _Compiled:
    label: str
    term: Term
    groups: tuple[tuple[tuple[_Lit, ...], ...], ...]


class Matcher:
    """All keyword hits of many labelled terms in one utterance."""

    def __init__(self, entries: Iterable[tuple[str, Term]], gap: int = 8) -> None:
        self.gap = gap
        self._terms: list[_Compiled] = []
        self._by_chars: dict[str, list[tuple[int, _Lit]]] = defaultdict(list)
        self._by_syl: dict[tuple[str, ...], list[tuple[int, _Lit]]] = defaultdict(list)
        self._by_fuzzy: dict[tuple[str, ...], list[tuple[int, _Lit]]] = defaultdict(list)
        for label, term in entries:
            groups = tuple(
                tuple(tuple(_Lit.of(alt, term) for alt in part) for part in group) for group in term.groups
            )
            idx = len(self._terms)
            self._terms.append(_Compiled(label, term, groups))
            for lit in groups[0][0]:
                self._by_chars[lit.chars[:2]].append((idx, lit))
                if lit.pinyin:
                    self._by_syl[lit.syl[:2]].append((idx, lit))
                if lit.fuzzy:
                    self._by_fuzzy[lit.fsyl[:2]].append((idx, lit))

    def find(self, utt: Prepared) -> list[Hit]:
        text = utt.text
        n = len(text)
        hits: list[Hit] = []
        seen: set[tuple[int, int]] = set()
        for i in range(n):
            cands: list[tuple[int, _Lit]] = []
            cands += self._by_chars.get(text[i], ())
            if i + 1 < n:
                cands += self._by_chars.get(text[i : i + 2], ())
                for key in product(utt.readings[i], utt.readings[i + 1]):
                    cands += self._by_syl.get(key, ())
                for key in product(utt.fuzzy[i], utt.fuzzy[i + 1]):
                    cands += self._by_fuzzy.get(key, ())
            for idx, lit in cands:
                if (idx, i) in seen:
                    continue
                q = lit.at(utt, i)
                if not q:
                    continue
                hit = self._complete(idx, utt, i, i + len(lit.chars), q)
                if hit is not None:
                    seen.add((idx, i))
                    hits.append(hit)
        return hits

    def _find_part(self, part: tuple[_Lit, ...], utt: Prepared, lo: int, hi: int) -> tuple[int, int, float] | None:
        for i in range(max(lo, 0), min(hi, len(utt.text) - 1) + 1):
            best: tuple[int, int, float] | None = None
            for lit in part:
                q = lit.at(utt, i)
                if q and (best is None or q > best[2]):
                    best = (i, i + len(lit.chars), q)
            if best is not None:
                return best
        return None

    def _match_seq(
        self, parts: tuple[tuple[_Lit, ...], ...], utt: Prepared, first: tuple[int, int, float] | None, gap: int
    ) -> list[tuple[int, int, float]] | None:
        spans: list[tuple[int, int, float]] = []
        if first is None:
            found = self._find_part(parts[0], utt, 0, len(utt.text))
            if found is None:
                return None
            first = found
        spans.append(first)
        for part in parts[1:]:
            prev_end = spans[-1][1]
            found = self._find_part(part, utt, prev_end, prev_end + gap)
            if found is None:
                return None
            spans.append(found)
        return spans

    def _complete(self, idx: int, utt: Prepared, start: int, end: int, q: float) -> Hit | None:
        comp = self._terms[idx]
        gap = self.gap if comp.term.gap is None else comp.term.gap
        spans = self._match_seq(comp.groups[0], utt, (start, end, q), gap)
        if spans is None:
            return None
        for group in comp.groups[1:]:
            more = self._match_seq(group, utt, None, gap)
            if more is None:
                return None
            spans += more
        quality = min(s[2] for s in spans)
        matched = "…".join(utt.text[s:e] for s, e, _ in spans)
        return Hit(comp.label, comp.term, tuple((s, e) for s, e, _ in spans), quality, matched)
