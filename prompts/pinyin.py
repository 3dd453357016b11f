"""Chinese text → tone-numbered pinyin for espeak-ng's ``cmn-latn-pinyin`` voice (see prompts/README.md).

pypinyin picks readings by phrase (银行 yin2 hang2, 重庆 chong2 qing4) where espeak-ng's own character
dictionary reads character by character (yin2 xing2, zhong4 qing4); neutral tones are written ``5`` because
the voice reads a bare syllable (``de``) as first tone; 一/不 and third-tone sandhi are applied.
"""

from __future__ import annotations

import re
from importlib.metadata import version

from pypinyin import Style, lazy_pinyin

PYPINYIN_VERSION = version("pypinyin")

_PAUSES = str.maketrans({"，": ",", "、": ",", "；": ";", "：": ",", "。": ".", "？": "?", "！": "!", "…": "."})
_SYLLABLE = re.compile(r"^[a-z]+[1-5]$")


def to_pinyin(text: str) -> str:
    """``您好，请稍候。`` → ``nin2 hao3, qing3 shao1 hou4.`` (non-Chinese runs become pauses)."""
    out: list[str] = []
    for item in lazy_pinyin(text, style=Style.TONE3, neutral_tone_with_five=True, tone_sandhi=True, errors="default"):
        if _SYLLABLE.match(item):
            out.append(item)
            continue
        marks = "".join(ch for ch in item.translate(_PAUSES) if ch in ",;.?!")
        if marks:
            out.append(marks[0])
    joined = " ".join(out)
    return re.sub(r" ([,;.?!])", r"\1", joined).strip(" ,;")
