"""Text preparation for matching: normalisation and per-character tone-less pinyin readings (with heteronyms)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from pypinyin import Style, lazy_pinyin, pinyin
from pypinyin.constants import PHRASES_DICT

_KEEP = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fffa-z0-9]")
_FUZZY_INITIALS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"), ("f", "h"), ("r", "l"))
_FUZZY_FINALS = (("ing", "in"), ("eng", "en"), ("ang", "an"), ("uan", "uan"))


def is_han(ch: str) -> bool:
    return "\u3400" <= ch <= "\u4dbf" or "\u4e00" <= ch <= "\u9fff"


BREAK = "|"  # where a pause (space) or a sentence mark stood, in :func:`normalise` with ``breaks=True``
STOP = "#"  # … where that mark ended a sentence (。！？；)
_STOP_MARKS = frozenset("。！？；!?;")


def normalise(text: str, drop_chars: str = "", *, breaks: bool = False) -> str:
    """Half-width, lower case, only Han characters, ASCII letters and digits; ``drop_chars`` removed. With
    ``breaks`` a :data:`BREAK` marks each run of spaces and punctuation between two kept characters."""
    out: list[str] = []
    gap = ""
    for ch in text:
        code = ord(ch)
        if 0xFF01 <= code <= 0xFF5E:
            ch = chr(code - 0xFEE0)
        ch = ch.lower()
        if _KEEP.match(ch):
            if ch in drop_chars:
                continue
            if gap and out:
                out.append(gap)
            gap = ""
            out.append(ch)
        elif breaks:
            gap = STOP if gap == STOP or ch in _STOP_MARKS else BREAK
    return "".join(out)


def split_breaks(marked: str) -> tuple[str, frozenset[int], frozenset[int]]:
    """The text without :data:`BREAK`/:data:`STOP` marks, the positions (between two characters) where any stood,
    and those where a sentence ended."""
    out: list[str] = []
    at: set[int] = set()
    stops: set[int] = set()
    for ch in marked:
        if ch in (BREAK, STOP):
            at.add(len(out))
            if ch == STOP:
                stops.add(len(out))
        else:
            out.append(ch)
    return "".join(out), frozenset(at), frozenset(stops)


@lru_cache(maxsize=20000)
def readings(ch: str) -> frozenset[str]:
    """All tone-less readings of one character (the character itself when it is not Han)."""
    if not is_han(ch):
        return frozenset((ch,))
    found = pinyin(ch, style=Style.NORMAL, heteronym=True, errors="ignore")
    syllables = {s for group in found for s in group if s}
    return frozenset(syllables or {ch})


@lru_cache(maxsize=20000)
def fuzzy(syllable: str) -> str:
    """Collapse the confusions typical of regional Mandarin and ASR (zh/z, ch/c, sh/s, n/l, f/h, -ng/-n)."""
    s = syllable
    for a, b in _FUZZY_INITIALS:
        if s.startswith(a):
            s = b + s[len(a) :]
            break
    for a, b in _FUZZY_FINALS:
        if s.endswith(a):
            s = s[: -len(a)] + b
            break
    return s


@lru_cache(maxsize=20000)
def fuzzy_readings(ch: str) -> frozenset[str]:
    return frozenset(fuzzy(s) for s in readings(ch))


def literal_syllables(literal: str) -> tuple[str, ...]:
    """Contextual tone-less pinyin of a keyword literal, one syllable per character."""
    split_chars: Any = list  # non-Han runs: one syllable per character
    flat = lazy_pinyin(literal, style=Style.NORMAL, errors=split_chars)
    if len(flat) == len(literal):
        return tuple(flat)
    return tuple(min(readings(ch)) for ch in literal)


@lru_cache(maxsize=1)
def _words() -> tuple[frozenset[str], frozenset[str]]:
    """Two- and three-character words of jieba's dictionary (only its word list is used, not the segmenter)."""
    try:
        import jieba
    except ImportError:  # pypinyin's phrase list still covers the commonest collisions
        return frozenset(), frozenset()
    path = Path(jieba.__file__).resolve().parent / "dict.txt"
    two: set[str] = set()
    three: set[str] = set()
    try:
        with path.open(encoding="utf-8") as f:
            for line in f:
                word = line.split(" ", 1)[0]
                if len(word) == 2:
                    two.add(word)
                elif len(word) == 3:
                    three.add(word)
    except OSError:
        pass
    return frozenset(two), frozenset(three)


def is_known_word(chars: str) -> bool:
    """True when ``chars`` is a dictionary word, so a pinyin-only match there is a different word (大家 ≠ 打架)."""
    return chars in PHRASES_DICT or chars in _words()[0]


def straddles(text: str, i: int) -> bool:
    """Whether the two characters at ``i`` belong to different words of ``text`` (公共|自行车: 共自 ≠ 工资)."""
    two, three = _words()
    around = (text[i - 1 : i + 1] if i > 0 else "", text[i + 1 : i + 3])
    longer = (text[i : i + 3], text[i - 1 : i + 2] if i > 0 else "", text[i - 2 : i + 1] if i > 1 else "",
              text[i + 1 : i + 4])
    return any(len(w) == 2 and w in two for w in around) or any(len(w) == 3 and w in three for w in longer)


@lru_cache(maxsize=1)
def _segmenter() -> Any:
    """jieba's dictionary segmenter (loaded once, about a second), or None when jieba is not installed."""
    try:
        import jieba
    except ImportError:
        return None
    jieba.setLogLevel(60)
    tok = jieba.Tokenizer()
    tok.initialize()
    return tok


def word_bounds(text: str) -> frozenset[int] | None:
    """Positions between two words of ``text`` (dictionary segmentation, no HMM guessing), or None without jieba."""
    tok = _segmenter()
    if tok is None:
        return None
    return frozenset(b for _w, a, e in tok.tokenize(text, HMM=False) for b in (a, e))


# A sentence mark that speech recognition never writes: text with one of these was typed (web, app message).
_TYPED_MARKS = frozenset("，。！？；：、“”‘’【】《》（）…")


def looks_typed(text: str) -> bool:
    """Whether ``text`` was typed rather than recognised from speech (it carries Chinese sentence punctuation)."""
    return any(ch in _TYPED_MARKS for ch in text)


@dataclass(frozen=True)
class Prepared:
    """An utterance ready for matching. ``speech`` False (typed text) turns pinyin matching off: a homophone is
    an ASR error, and typed text has none."""

    text: str
    readings: tuple[frozenset[str], ...]
    fuzzy: tuple[frozenset[str], ...]
    speech: bool = True
    breaks: frozenset[int] = frozenset()  # positions where a pause or sentence mark stood (see split_breaks)
    stops: frozenset[int] = frozenset()  # … where a sentence ended: the parts of an A+B keyword stay inside one

    @classmethod
    def of(cls, normalised: str, *, speech: bool = True, breaks: frozenset[int] = frozenset(),
           stops: frozenset[int] = frozenset()) -> Prepared:
        return cls(
            normalised,
            tuple(readings(ch) for ch in normalised),
            tuple(fuzzy_readings(ch) for ch in normalised),
            speech,
            breaks,
            stops,
        )

    def crosses_pause(self, start: int, end: int) -> bool:
        """Whether a pause or any mark stands between ``start`` and ``end`` (ends included)."""
        return bool(self.breaks) and any(start <= b <= end for b in self.breaks)

    def crosses_stop(self, start: int, end: int) -> bool:
        """Whether a sentence ends between ``start`` and ``end`` (高血压。… 人: no 压人 across two sentences)."""
        return bool(self.stops) and any(start <= b <= end for b in self.stops)

    def crosses_break(self, start: int, end: int) -> bool:
        """Whether a pause or sentence mark stands inside ``start:end`` (难打 我打了: 打我 is no one hitting me)."""
        return bool(self.breaks) and any(start < b < end for b in self.breaks)

    @cached_property
    def _bounds(self) -> frozenset[int] | None:
        return word_bounds(self.text)

    def word_aligned(self, start: int, end: int) -> bool:
        """Whether ``start``/``end`` fall between words: a pinyin-only match must not cut a word of the utterance
        (街道|花家地: 道花 is not 刀划; 好像|超过: 像超 is not 想跳). Segmented only when asked."""
        bounds = self._bounds
        return bounds is None or (start in bounds and end in bounds)
