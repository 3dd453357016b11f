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

from flows.classifier.text import Prepared, fuzzy, is_known_word, literal_syllables, straddles
from flows.terms import Term, normalise_literal

CHAR, PINYIN, FUZZY, PINYIN2 = 1.0, 0.8, 0.6, 0.5  # PINYIN2: two-syllable pinyin-only match
# Characters an ASR substitution rarely produces inside a content word; a pinyin-only two-character match that
# needs one of them (着是≈肇事, 个事≈鸽子) is far more likely to straddle two words.
_FUNCTION_CHARS = frozenset("是个的了在有这那就也都和与我你他她它们吗呢吧啊不一说要会能去来给把被还又很太才刚再更最")


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
    strict: bool

    @classmethod
    def of(cls, text: str, term: Term) -> _Lit:
        chars = normalise_literal(text)
        syl = literal_syllables(chars)
        n = len(chars)
        content = sum(c not in _FUNCTION_CHARS for c in chars)  # 烧了 is one syllable of evidence, not two
        ok = term.pinyin and n >= max(2, term.pinyin_min) and content >= 2
        return cls(chars, syl, tuple(fuzzy(s) for s in syl), ok, ok and n >= 4, term.strict)

    def at(self, utt: Prepared, i: int) -> float:
        n = len(self.chars)
        if i + n > len(utt.text) or utt.crosses_break(i, i + n):
            return 0.0
        if utt.text.startswith(self.chars, i):
            return CHAR
        if not utt.speech or not (self.pinyin or self.fuzzy):
            return 0.0
        q = self._by_sound(utt, i)
        return q if q and utt.word_aligned(i, i + n) else 0.0

    def _by_sound(self, utt: Prepared, i: int) -> float:
        n = len(self.chars)
        if self.pinyin and all(self.syl[j] in utt.readings[i + j] for j in range(n)):
            if self._suspect(utt.text[i : i + n]):
                return 0.0
            if n == 2:
                return 0.0 if self.strict and straddles(utt.text, i) else PINYIN2
            if i > 0 and is_known_word(utt.text[i - 1 : i + 1]):  # 酒店到了: 店到了 is not 电到了
                return 0.0
            if is_known_word(utt.text[i + n - 1 : i + n + 1]):  # 不想火化: 不想火 is not 不想活
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


_Occ = tuple[int, int, float]  # start, end, quality


@dataclass(frozen=True)
class _Compiled:
    label: str
    term: Term
    groups: tuple[tuple[frozenset[int], ...], ...]  # literal ids per part


class Matcher:
    """All keyword hits of many labelled terms in one utterance.

    Every distinct literal is located once per utterance (indexed by its first characters and first two
    syllables); terms are then assembled from those occurrences.
    """

    def __init__(self, entries: Iterable[tuple[str, Term]], gap: int = 8, clause_labels: tuple[str, ...] = ()) -> None:
        """``clause_labels``: label prefixes whose A+B parts must stay inside one clause (no pause or mark between
        them) and whose A&B parts inside one sentence: a turn-away must rest on one clear statement."""
        self.gap = gap
        self._clause_labels = clause_labels
        self._terms: list[_Compiled] = []
        self._lits: list[_Lit] = []
        lit_ids: dict[_Lit, int] = {}
        self._by_chars: dict[str, list[int]] = defaultdict(list)
        self._by_syl: dict[tuple[str, ...], list[int]] = defaultdict(list)
        self._by_fuzzy: dict[tuple[str, ...], list[int]] = defaultdict(list)
        self._starts: dict[int, list[int]] = defaultdict(list)  # literal id → terms whose first part holds it
        for label, term in entries:
            groups = []
            for group in term.groups:
                parts = []
                for part in group:
                    ids = []
                    for alt in part:
                        lit = _Lit.of(alt, term)
                        if lit not in lit_ids:
                            lit_ids[lit] = len(self._lits)
                            self._lits.append(lit)
                            self._index(lit, lit_ids[lit])
                        ids.append(lit_ids[lit])
                    parts.append(frozenset(ids))
                groups.append(tuple(parts))
            idx = len(self._terms)
            self._terms.append(_Compiled(label, term, tuple(groups)))
            for lid in groups[0][0]:
                self._starts[lid].append(idx)

    def _index(self, lit: _Lit, lid: int) -> None:
        self._by_chars[lit.chars[:2]].append(lid)
        if lit.pinyin:
            self._by_syl[lit.syl[:2]].append(lid)
        if lit.fuzzy:
            self._by_fuzzy[lit.fsyl[:2]].append(lid)

    def _occurrences(self, utt: Prepared) -> dict[int, list[_Occ]]:
        text = utt.text
        n = len(text)
        occ: dict[int, list[_Occ]] = defaultdict(list)
        for i in range(n):
            cands: set[int] = set(self._by_chars.get(text[i], ()))
            if i + 1 < n:
                cands.update(self._by_chars.get(text[i : i + 2], ()))
                for key in product(utt.readings[i], utt.readings[i + 1]):
                    cands.update(self._by_syl.get(key, ()))
                for key in product(utt.fuzzy[i], utt.fuzzy[i + 1]):
                    cands.update(self._by_fuzzy.get(key, ()))
            for lid in cands:
                lit = self._lits[lid]
                q = lit.at(utt, i)
                if q:
                    occ[lid].append((i, i + len(lit.chars), q))
        return occ

    def find(self, utt: Prepared) -> list[Hit]:
        occ = self._occurrences(utt)
        present = frozenset(occ)
        hits: list[Hit] = []
        todo = sorted({t for lid in occ for t in self._starts.get(lid, ())})
        for idx in todo:
            comp = self._terms[idx]
            gap = self.gap if comp.term.gap is None else comp.term.gap
            clause = comp.label.startswith(self._clause_labels) if self._clause_labels else False
            if not all(part & present for group in comp.groups for part in group):
                continue
            rest: list[_Occ] = []
            for group in comp.groups[1:]:
                chain = next(iter(self._chains(utt, group, occ, present, gap, clause)), None)
                if chain is None:
                    break
                rest += chain
            else:
                for chain in self._chains(utt, comp.groups[0], occ, present, gap, clause):
                    spans = chain + rest
                    if clause and rest and utt.crosses_stop(min(a for a, _, _ in spans), max(b for _, b, _ in spans)):
                        continue
                    quality = min(sp[2] for sp in spans)
                    matched = "…".join(utt.text[a:b] for a, b, _ in spans)
                    hits.append(Hit(comp.label, comp.term, tuple((a, b) for a, b, _ in spans), quality, matched))
        return hits

    @staticmethod
    def _part_occ(part: frozenset[int], occ: dict[int, list[_Occ]], present: frozenset[int]) -> list[_Occ]:
        found = [o for lid in (present & part) for o in occ[lid]]
        found.sort(key=lambda o: (o[0], -o[2], -(o[1] - o[0])))
        return found

    def _chains(self, utt: Prepared, parts: tuple[frozenset[int], ...], occ: dict[int, list[_Occ]],
                present: frozenset[int], gap: int, clause: bool = False) -> list[list[_Occ]]:
        """One chain per distinct start of the first part: each next part the earliest within ``gap``."""
        per_part = [self._part_occ(p, occ, present) for p in parts]
        chains = []
        seen_starts: set[int] = set()
        for first in per_part[0]:
            if first[0] in seen_starts:
                continue
            chain = [first]
            for options in per_part[1:]:
                prev_end = chain[-1][1]
                nxt = next((o for o in options if prev_end <= o[0] <= prev_end + gap
                            and not (utt.crosses_pause(prev_end, o[0]) if clause
                                     else utt.crosses_stop(prev_end, o[0]))), None)
                if nxt is None:
                    break
                chain.append(nxt)
            else:
                seen_starts.add(first[0])
                chains.append(chain)
        return chains
