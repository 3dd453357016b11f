"""Map a Chinese answer to a yes/no question: ``yes_no(text) -> True | False | None`` (None = unclear)."""

from __future__ import annotations

import re

NO_PHRASES = (
    "不是",
    "不对",
    "错了",
    "不用",
    "不要",
    "不行",
    "不需要",
    "不可以",
    "没有",
    "不好",
    "不确定",
    "不同意",
    "算了",
    "否",
    "别",
    "不",
)
YES_PHRASES = (
    "是的",
    "是",
    "对的",
    "对",
    "好的",
    "好",
    "没错",
    "可以",
    "行",
    "需要",
    "要",
    "确认",
    "确定",
    "同意",
    "正确",
    "嗯对",
    "没问题",
    "对头",
    "有",
)
_PRE_YES = ("没错", "不错", "没问题")  # contain a negation but mean yes
FILLERS = ("嗯", "啊", "呃", "哦", "噢", "那个", "就是说", "这个", "吧", "呀", "啦", "了", "的", "嘛", "呢")
# questions back ("是不是", "对不对") are unclear, not a no
_QUESTION = re.compile(r"(是不是|对不对|好不好|要不要|行不行|可不可以|有没有)")
_PUNCT = re.compile(r"[\s，。！？、,.!?~…]+")


def _strip(text: str) -> str:
    return _PUNCT.sub("", text)


def yes_no(text: str) -> bool | None:
    """True for 是/对/好的/没错/可以/嗯对…, False for 不是/不对/错了/不用/不要…, None when unclear or mixed."""
    s = _strip(text)
    if not s or _QUESTION.search(s):
        return None
    positive = False
    for phrase in _PRE_YES:
        if phrase in s:
            positive = True
            s = s.replace(phrase, " ")
    negative = False
    for phrase in NO_PHRASES:
        if phrase in s:
            negative = True
            s = s.replace(phrase, " ")
    for phrase in YES_PHRASES:
        if phrase in s:
            positive = True
            s = s.replace(phrase, " ")
    if negative and positive:
        return None
    if not negative and not positive:
        return None
    rest = s.replace(" ", "")
    for filler in FILLERS:
        rest = rest.replace(filler, "")
    if len(rest) > 6:
        return None  # a long answer about something else: let the flow ask again
    return positive
