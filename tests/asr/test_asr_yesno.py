"""Yes/no mapping of Chinese answers."""

from __future__ import annotations

import pytest

from asr.yesno import yes_no


@pytest.mark.parametrize(
    "text",
    [
        "是",
        "是的",
        "对",
        "对的",
        "好的",
        "没错",
        "可以",
        "嗯对",
        "嗯，对的",
        "对对对",
        "好",
        "行",
        "不错",
        "没问题",
        "确认",
    ],
)
def test_yes(text: str) -> None:
    assert yes_no(text) is True


@pytest.mark.parametrize(
    "text", ["不是", "不对", "错了", "不用", "不要", "不是的", "不可以", "不好", "不不不", "不用了"]
)
def test_no(text: str) -> None:
    assert yes_no(text) is False


@pytest.mark.parametrize("text", ["", "嗯", "啊", "是不是", "对不对", "我要投诉噪音问题很严重", "对，不是"])
def test_unclear(text: str) -> None:
    assert yes_no(text) is None
