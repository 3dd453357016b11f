"""Chinese text → tone-numbered pinyin for espeak-ng's ``cmn-latn-pinyin`` voice (see prompts/README.md).

pypinyin picks readings by phrase (银行 yin2 hang2, 重庆 chong2 qing4) where espeak-ng's own character
dictionary reads character by character (yin2 xing2, zhong4 qing4); neutral tones are written ``5`` because
the voice reads a bare syllable (``de``) as first tone; 一/不 and third-tone sandhi are applied (pypinyin's, and
for 一 the rule it misses: yi2 before a fourth tone, yi4 before the others, yi1 in digit strings and at the end).
"""

from __future__ import annotations

import re
from importlib.metadata import version

from pypinyin import Style, lazy_pinyin

PYPINYIN_VERSION = version("pypinyin") + "+yi1"

_PAUSES = str.maketrans({"，": ",", "、": ",", "；": ";", "：": ",", "。": ".", "？": "?", "！": "!", "…": "."})
_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_DIGIT_CHARS = set("零幺一二三四五六七八九十两")


def _yi_sandhi(chars: str, syllables: list[str]) -> list[str]:
    out = list(syllables)
    for i, ch in enumerate(chars):
        if ch != "一" or out[i] != "yi1" or i + 1 >= len(chars):
            continue
        prev, nxt = (chars[i - 1] if i else ""), chars[i + 1]
        if prev in _DIGIT_CHARS or nxt in _DIGIT_CHARS or prev == nxt or prev == "第":
            continue
        tone = out[i + 1][-1:]
        out[i] = "yi2" if tone == "4" else "yi4" if tone in "123" else out[i]
    return out


def to_pinyin(text: str) -> str:
    """``您好，请稍候。`` → ``nin2 hao3, qing3 shao1 hou4.`` (anything not Chinese becomes a pause or nothing)."""
    out: list[str] = []
    pos = 0
    for m in _HAN_RUN.finditer(text):
        out.extend(_pauses(text[pos : m.start()]))
        run = m.group(0)
        syllables = lazy_pinyin(run, style=Style.TONE3, neutral_tone_with_five=True, tone_sandhi=True)
        if len(syllables) == len(run):
            syllables = _yi_sandhi(run, syllables)
        out.extend(s for s in syllables if re.fullmatch(r"[a-z]+[1-5]", s))
        pos = m.end()
    out.extend(_pauses(text[pos:]))
    joined = " ".join(out)
    return re.sub(r" ([,;.?!])", r"\1", joined).strip(" ,;")


def _pauses(chunk: str) -> list[str]:
    marks = "".join(ch for ch in chunk.translate(_PAUSES) if ch in ",;.?!")
    return [marks[0]] if marks else []
