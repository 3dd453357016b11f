"""Grammar building and vocabulary checks (vocabulary faked here; the real model is in test_asr_vosk)."""

from __future__ import annotations

from asr.api import ListenSpec
from asr.grammar import DIGIT_WORDS, NO_WORDS, YES_WORDS, check_vocabulary, compile_grammar, phrases_for, segment

VOCAB = {"是", "不", "对", "好", "的", "没错", "一", "二", "三", "幺", "两", "朝阳", "区", "人工"}


def has(word: str) -> bool:
    return word in VOCAB


def test_phrases_per_kind() -> None:
    yes_no = phrases_for(ListenSpec(kind="yes_no"))
    assert yes_no is not None and set(YES_WORDS) <= set(yes_no) and set(NO_WORDS) <= set(yes_no)
    assert phrases_for(ListenSpec(kind="phone")) == DIGIT_WORDS
    assert phrases_for(ListenSpec(kind="menu", grammar=("投诉", "咨询"))) == ("投诉", "咨询")
    assert phrases_for(ListenSpec(kind="free")) is None


def test_segment_into_vocabulary_words() -> None:
    assert segment("好的", has) == (["好", "的"], [])
    assert segment("朝阳区", has) == (["朝阳", "区"], [])
    assert segment("不对", has) == (["不", "对"], [])
    assert segment("海淀区", has) == (["区"], ["海", "淀"])


def test_compile_reports_missing_and_appends_unknown_token() -> None:
    g = compile_grammar(["是", "好的", "没错", "可以", "朝阳区"], has, "[unk]")
    assert g.phrases == ("是", "好 的", "没错", "朝阳 区", "[unk]")
    assert g.missing == ("可", "以")
    assert g.dropped == ("可以",)


def test_non_chinese_words_are_checked_whole() -> None:
    g = compile_grammar(["네", "아니요"], lambda w: w == "네", "<UNK>")
    assert g.phrases == ("네", "<UNK>") and g.missing == ("아니요",)


def test_check_vocabulary_groups() -> None:
    report = check_vocabulary({"digits": DIGIT_WORDS, "ok": ("是", "对")}, has)
    assert set(report) == {"digits"}
    assert "零" in report["digits"] and "一" not in report["digits"]
