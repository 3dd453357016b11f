"""Favour configured place and department names in free-form results.

The small Vosk models cannot be biased at decode time without rebuilding their graph, so names are restored
after decoding: a stretch of the result that sounds exactly like a hotword (same toneless pinyin) but is written
with other characters (e.g. 朝阳区 heard as 潮阳区) is replaced by the hotword.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from pypinyin import lazy_pinyin


@lru_cache(maxsize=4096)
def _sound(text: str) -> tuple[str, ...]:
    return tuple(lazy_pinyin(text))


def apply_hotwords(text: str, hotwords: Iterable[str]) -> str:
    """``text`` with homophones of hotwords replaced by the hotwords (longest names first)."""
    for word in sorted({w for w in hotwords if w}, key=len, reverse=True):
        n = len(word)
        if n < 2 or len(text) < n or word in text:
            continue
        target = _sound(word)
        i = 0
        while i + n <= len(text):
            window = text[i : i + n]
            if window != word and _sound(window) == target:
                text = text[:i] + word + text[i + n :]
                i += n
            else:
                i += 1
    return text
