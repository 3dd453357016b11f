"""Text normalisation: the spoken Chinese the voice is given for numbers, amounts, dates, codes and letters."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from prompts.normalize import amount, cardinal, normalize, normalize_slot
from prompts.pinyin import to_pinyin


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("您好，这里是12345政务服务便民热线", "您好，这里是幺二三四五政务服务便民热线"),
        ("请拨打110、119、120或122", "请拨打幺幺零、幺幺九、幺二零或幺二二"),
        (
            "纪检监察12388，法律援助12348，消费者投诉12315",
            "纪检监察幺二三八八，法律援助幺二三四八，消费者投诉幺二三幺五",
        ),
        ("我的电话是13812345678", "我的电话是幺三八，幺二三四，五六七八"),
        ("通过全国12315平台投诉", "通过全国幺二三幺五平台投诉"),
        ("拨打12348公共法律服务热线", "拨打幺二三四八公共法律服务热线"),
        ("手机 +86 139-1000-2000", "手机 幺三九，幺零零零，二零零零"),
        ("座机010-62345678", "座机零幺零，六二三四五六七八"),
        ("热线400-810-1234", "热线四零零，八幺零，幺二三四"),
    ],
)
def test_phone_and_service_numbers_digit_by_digit_with_yao(text: str, spoken: str) -> None:
    assert normalize(text) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("工单号GD2026112800001", "工单号吉迪二零二六幺幺二八零零零零幺"),
        ("订单20261128001已受理", "订单二零二六幺幺二八零零幺已受理"),
        ("编号A12-B3", "编号诶幺二必三"),
    ],
)
def test_order_numbers_digit_by_digit_letters_spelled(text: str, spoken: str) -> None:
    assert normalize(text) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("费用12.50元", "费用十二元五角"),
        ("¥0.05", "五分"),
        ("￥3", "三元"),
        ("1,234.56元", "一千二百三十四元五角六分"),
        ("2元", "两元"),
        ("10.08元", "十元零八分"),
        ("补贴100元", "补贴一百元"),
        ("3块5", "三块五"),
    ],
)
def test_amounts_in_yuan_jiao_fen(text: str, spoken: str) -> None:
    assert normalize(text) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("2026年11月28日", "二零二六年十一月二十八日"),
        ("2026-11-28", "二零二六年十一月二十八日"),
        ("2026/3/5", "二零二六年三月五日"),
        ("11月2号", "十一月二号"),
        ("2019年", "二零一九年"),
        ("14:30", "十四点三十分"),
        ("9:05", "九点零五分"),
        ("8:00", "八点整"),
        ("下午2点", "下午两点"),
        ("晚上9点30分", "晚上九点三十分"),
    ],
)
def test_dates_and_times(text: str, spoken: str) -> None:
    assert normalize(text) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("23", "二十三"),
        ("第1次", "第一次"),
        ("105户", "一百零五户"),
        ("10010", "一万零一十"),
        ("110平方米", "一百一十平方米"),
        ("共23000户", "共二万三千户"),
        ("3.14", "三点一四"),
        ("增长23%", "增长百分之二十三"),
        ("12.5%", "百分之十二点五"),
        ("1-3个工作日", "一到三个工作日"),
        ("零下-5度", "零下负五度"),
        ("2分钟", "两分钟"),
    ],
)
def test_plain_numbers_percentages_ranges(text: str, spoken: str) -> None:
    assert normalize(text) == spoken


def test_latin_letters_and_keypad_symbols() -> None:
    assert normalize("APP") == "诶批批"
    assert normalize("请按#号键结束") == "请按井号键结束"
    assert normalize("按*返回") == "按星号返回"


@pytest.mark.parametrize(
    ("n", "spoken"),
    [(0, "零"), (10, "十"), (11, "十一"), (101, "一百零一"), (1010, "一千零一十"), (100010000, "一亿零一万")],
)
def test_cardinal(n: int, spoken: str) -> None:
    assert cardinal(n) == spoken


def test_slot_kinds() -> None:
    assert normalize_slot("13812345678", "phone") == "幺三八，幺二三四，五六七八"
    assert normalize_slot("GD-001", "code") == "吉迪零零幺"
    assert normalize_slot("12.5", "amount") == "十二元五角"
    assert normalize_slot("朝阳区建国路88号", "text") == "朝阳区建国路八十八号"
    assert amount("0") == "零元"


@given(st.text(max_size=60))
def test_never_raises_and_leaves_no_digit_or_latin(text: str) -> None:
    out = normalize(text)
    assert not re.search(r"[0-9A-Za-z]", out)
    to_pinyin(out)  # and the pinyin step accepts whatever is left


def test_pinyin_uses_phrase_readings_and_neutral_tone_five() -> None:
    assert to_pinyin("银行在重庆") == "yin2 hang2 zai4 chong2 qing4"
    assert to_pinyin("好的，谢谢。") == "hao3 de5, xie4 xie4."
    assert to_pinyin("绿色") == "lv4 se4"


@pytest.mark.parametrize(
    ("text", "pinyin"),
    [("一样", "yi2 yang4"), ("一天", "yi4 tian1"), ("一万", "yi2 wan4"), ("二零一九年", "er4 ling2 yi1 jiu3 nian2"),
     ("第一", "di4 yi1"), ("十一", "shi2 yi1"), ("不对", "bu2 dui4")],
)  # fmt: skip
def test_yi_and_bu_sandhi(text: str, pinyin: str) -> None:
    assert to_pinyin(text) == pinyin


def test_every_service_number_in_the_catalogue_is_read_digit_by_digit() -> None:
    from prompts.catalogue import Catalogue
    from prompts.normalize import SERVICE_NUMBERS, spell
    from prompts.service import PACKAGE_DIR

    cat = Catalogue.load(PACKAGE_DIR / "catalogue")
    checked = 0
    for pid in cat.ids():
        text = cat.get(pid).text
        spoken = normalize(text)
        for number in SERVICE_NUMBERS:
            if re.search(rf"(?<!\d){number}(?!\d)", text):
                assert spell(number) in spoken, (pid, number, spoken)
                checked += 1
    assert checked >= 5
