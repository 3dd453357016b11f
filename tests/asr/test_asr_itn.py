"""Chinese ITN: spoken numbers to digits for phone numbers, house numbers, times and free text."""

from __future__ import annotations

import pytest

from asr.itn import normalize, number_value, phone_digits


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("幺三八幺二三四五六七八", "phone", "13812345678"),
        ("幺八六 一二三四 五六七八", "phone", "18612345678"),
        ("幺三八1234五六七八", "phone", "13812345678"),  # mixed spoken and written digits
        ("零幺零 六二三四 五六七八", "phone", "01062345678"),
        ("二十三号楼", "house", "23号楼"),
        ("二十三号楼三单元五零二", "house", "23号楼3单元502"),
        ("我住3号楼二零一", "house", "我住3号楼201"),
        ("两号楼", "house", "2号楼"),
        ("三四号楼", "house", "34号楼"),
        ("一百零五号", "house", "105号"),
        ("下午三点半", "time", "15:30"),
        ("晚上八点十五分", "time", "20:15"),
        ("三点一刻", "time", "3:15"),
        ("凌晨十二点", "time", "0:00"),
        ("中午十二点", "time", "12:00"),
        ("早上七点", "free", "7:00"),
        ("明天下午两点", "free", "明天14:00"),
        ("两百", "free", "200"),
        ("一百二", "free", "120"),
        ("两千五", "free", "2500"),
        ("一万两千", "free", "12000"),
        ("二零二四年三月五号", "free", "2024年3月5号"),
        ("第三次", "free", "第3次"),
        ("我家在朝阳区一楼", "free", "我家在朝阳区1楼"),
    ],
)
def test_numbers_become_digits(text: str, kind: str, expected: str) -> None:
    assert normalize(text, kind) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text", ["一下", "一些", "统一", "两个人", "十分感谢", "三点意见", "万一", "千万别挂", "一直没人管"]
)
def test_words_that_only_look_like_numbers_stay(text: str) -> None:
    assert normalize(text, "free") == text


@pytest.mark.parametrize("text", ["家里乱七八糟的", "三三两两的人", "等了三四天", "来了五六个人", "一五一十地说"])
def test_idioms_and_approximate_numbers_stay(text: str) -> None:
    assert normalize(text, "free") == text


def test_phone_digits_keeps_only_digits() -> None:
    assert phone_digits("我的电话是幺三八 幺二三四 五六七八") == "13812345678"


def test_number_value_rejects_malformed() -> None:
    assert number_value("二十三") == 23
    assert number_value("三二十") is None
    assert number_value("一二三") is None  # a digit string, not a unit number


def test_empty_and_non_numeric_pass_through() -> None:
    assert normalize("", "free") == ""
    assert normalize("路灯坏了", "house") == "路灯坏了"
