"""Raw decoder results → Recognition: unknown tokens, ITN per kind, hotwords, low-confidence flag."""

from __future__ import annotations

from asr.api import ListenSpec
from asr.confidence import confidence_of, to_recognition
from asr.recognizer import RawResult, join_words


def test_low_confidence_asks_for_confirmation() -> None:
    raw = RawResult("幺三八", (("幺", 0.4), ("三", 0.5), ("八", 0.6)))
    rec = to_recognition(raw, ListenSpec(kind="phone"), grammar=True, threshold=0.6)
    assert rec is not None and rec.low_confidence and rec.normalized == "138" and rec.confidence == 0.5


def test_confident_result_needs_no_confirmation() -> None:
    raw = RawResult("是的", (("是", 0.95), ("的", 0.9)))
    rec = to_recognition(raw, ListenSpec(kind="yes_no"), grammar=True, threshold=0.6)
    assert rec is not None and not rec.low_confidence and rec.text == "是的" and rec.grammar


def test_unknown_token_lowers_confidence_and_is_removed() -> None:
    raw = RawResult("[unk] 是", (("[unk]", 1.0), ("是", 1.0)))
    rec = to_recognition(raw, ListenSpec(kind="yes_no"), grammar=True, threshold=0.6)
    assert rec is not None and rec.text == "是" and rec.confidence == 0.5 and rec.low_confidence


def test_only_unknown_is_no_match() -> None:
    raw = RawResult("<UNK>", (("<UNK>", 1.0),))
    assert to_recognition(raw, ListenSpec(kind="yes_no"), grammar=True, threshold=0.6) is None
    assert to_recognition(RawResult(""), ListenSpec(), grammar=False, threshold=0.6) is None


def test_time_and_address_itn_and_hotwords() -> None:
    raw = RawResult("潮阳区 二十三 号楼", (("潮阳区", 0.9), ("二十三", 0.9), ("号楼", 0.9)))
    rec = to_recognition(raw, ListenSpec(kind="address"), grammar=False, threshold=0.6, hotwords=("朝阳区",))
    assert rec is not None and rec.text == "朝阳区二十三号楼" and rec.normalized == "朝阳区23号楼"
    when = to_recognition(RawResult("下午 三点 半"), ListenSpec(kind="time"), grammar=False, threshold=0.6)
    assert when is not None and when.normalized == "15:30" and when.confidence == 1.0


def test_join_words_and_confidence_helpers() -> None:
    assert join_words(" 我 要 投诉 ") == "我要投诉"
    assert join_words("안녕 하세요") == "안녕 하세요"
    assert confidence_of(()) == 1.0
    assert confidence_of((("a", 1.5), ("b", -1.0))) == 0.5
