"""Chinese inverse text normalisation: spoken numbers to digits.

``normalize(text, kind)`` with ``kind`` one of ``phone`` (every numeral is a digit: 幺三八… → 138…),
``house`` (二十三号楼 → 23号楼, 三单元五零二 → 3单元502), ``time`` (下午三点半 → 15:30) and ``free`` (only what is
clearly a number: digit strings, numbers with 十/百/千/万, numerals before a measure word, clock times).
Pure functions; unknown input passes through unchanged.
"""

from __future__ import annotations

import re
from typing import Literal

Kind = Literal["phone", "house", "time", "free"]

DIGITS = {
    "零": 0,
    "〇": 0,
    "洞": 0,
    "一": 1,
    "幺": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
UNITS = {"十": 10, "百": 100, "千": 1000}
BIG = {"万": 10_000, "亿": 100_000_000}
NUMERAL = "".join(DIGITS) + "".join(UNITS) + "".join(BIG) + "0123456789"
_RUN = re.compile(f"[{NUMERAL}]+")
# Measure words after which a single numeral is a number (一楼 → 1楼), but not 一下/一些/一直 …
MEASURES = (
    "号楼",
    "号院",
    "单元",
    "号",
    "楼",
    "栋",
    "幢",
    "室",
    "层",
    "户",
    "路",
    "弄",
    "巷",
    "岁",
    "年",
    "月",
    "日",
    "天",
    "元",
    "块",
    "次",
    "米",
    "公里",
    "小时",
    "分钟",
    "周",
    "期",
    "区",
    "排",
    "组",
    "队",
    "号线",
    "路车",
)
PERIODS = {
    "凌晨": 0,
    "早上": 0,
    "早晨": 0,
    "上午": 0,
    "中午": 12,
    "下午": 12,
    "傍晚": 12,
    "晚上": 12,
    "夜里": 12,
    "半夜": 0,
    "今晚": 12,
}
_TIME = re.compile(
    f"(?P<period>{'|'.join(PERIODS)})?(?P<hour>[{NUMERAL}]+)点(?:钟)?(?P<min>半|一刻|三刻|[{NUMERAL}]+(?:分)?)?"
)


def _digits_only(run: str) -> str | None:
    if all(ch in DIGITS or ch.isdigit() for ch in run):
        return "".join(str(DIGITS[ch]) if ch in DIGITS else ch for ch in run)
    return None


def _below_10000(run: str) -> int | None:
    """Value of 二十三, 三百零五, 两千, 十五, 一百二 (trailing unit implied) — None when malformed."""
    if not run:
        return 0
    total, digit, last_unit = 0, None, 10_000
    for ch in run:
        if ch in DIGITS:
            if digit is not None and DIGITS[ch] != 0 and digit != 0:
                return None  # two digits in a row inside a unit number
            digit = DIGITS[ch]
        elif ch in UNITS:
            unit = UNITS[ch]
            if unit >= last_unit:
                return None
            total += (1 if digit is None else digit) * unit
            digit, last_unit = None, unit
        else:
            return None
    if digit is not None:
        # 一百二 = 120, 两千五 = 2500: a trailing digit right after a unit takes the next lower unit
        if last_unit in (100, 1000) and run[-2] in UNITS:
            total += digit * (last_unit // 10)
        else:
            total += digit
    return total


def number_value(run: str) -> int | None:
    """Value of a Chinese number with units (二十三 → 23, 一万两千 → 12000); None when not a unit number."""
    if run.isdigit():
        return int(run)
    if not any(ch in UNITS or ch in BIG for ch in run) or run[0] in "百千万亿":
        return None  # 千万 (by all means), 万一 (in case), 百姓 … are words, not numbers
    total = 0
    rest = run
    for big_ch, big in sorted(BIG.items(), key=lambda kv: -kv[1]):
        if big_ch in rest:
            head, rest = rest.split(big_ch, 1)
            value = _below_10000(head) if head else 1
            if value is None:
                return None
            total += value * big
    tail = _below_10000(rest.lstrip("零"))
    if tail is None:
        return None
    return total + tail


def _convert_run(run: str, kind: Kind, after: str, before: str) -> str:
    digits = _digits_only(run)
    if kind == "phone":
        if digits is not None:
            return digits
        value = number_value(run)
        return str(value) if value is not None else run
    value = number_value(run)
    if value is not None:
        if run in ("十",) and kind == "free" and not after.startswith(MEASURES):
            return run  # 十分 (very), 十足 …
        return str(value)
    if digits is None:
        return run
    if len(run) >= 2:
        return digits
    if kind == "house" or after.startswith(MEASURES) or (before and before[-1] in "第"):
        if run in ("两", "幺", "洞") and kind == "free" and not after.startswith(MEASURES):
            return run
        return digits
    return run


def _hour_minute(match: re.Match[str]) -> tuple[int, int] | None:
    hour = number_value(match["hour"])
    if hour is None:
        digits = _digits_only(match["hour"])
        hour = int(digits) if digits and len(digits) <= 2 else None
    if hour is None or hour > 24:
        return None
    minute = 0
    spoken = match["min"]
    if spoken == "半":
        minute = 30
    elif spoken == "一刻":
        minute = 15
    elif spoken == "三刻":
        minute = 45
    elif spoken:
        raw = spoken.rstrip("分")
        value = number_value(raw)
        if value is None:
            digits = _digits_only(raw)
            value = int(digits) if digits and len(digits) <= 2 else None
        if value is None or value >= 60:
            return None
        minute = value
    period = match["period"]
    if period:
        offset = PERIODS[period]
        if offset == 12 and hour < 12:
            hour += 12
        if period in ("凌晨", "半夜") and hour == 12:
            hour = 0
    return hour, minute


def _times(text: str, kind: Kind) -> str:
    def repl(match: re.Match[str]) -> str:
        clock = match["period"] or match["min"] or kind == "time"
        hm = _hour_minute(match) if clock else None
        if hm is None:
            return match.group(0)
        return f"{hm[0]}:{hm[1]:02d}"

    return _TIME.sub(repl, text)


IDIOMS = (
    "乱七八糟",
    "七七八八",
    "三三两两",
    "一五一十",
    "九九归一",
    "一一",
    "五花八门",
    "七上八下",
    "十全十美",
    "一模一样",
    "千千万万",
    "万无一失",
    "一心一意",
    "接二连三",
    "三番五次",
    "四面八方",
    "十有八九",
    "百分之百",
)
_APPROX = re.compile("(?:一二|二三|两三|三四|四五|五六|六七|七八|八九)(?=[个天次人年月岁块元号楼层户周分钟小时])")


def _protected(text: str, approx: bool) -> list[tuple[int, int]]:
    """Spans that look numeric but are words (乱七八糟) or, in free text, approximations (三四天, 五六个人)."""
    spans = [(m.start(), m.end()) for m in _APPROX.finditer(text)] if approx else []
    for idiom in IDIOMS:
        start = text.find(idiom)
        while start >= 0:
            spans.append((start, start + len(idiom)))
            start = text.find(idiom, start + 1)
    return spans


def normalize(text: str, kind: Kind = "free") -> str:
    """Spoken numbers in ``text`` as digits, as far as ``kind`` makes them unambiguous."""
    if not text:
        return text
    out = _times(text, kind)
    keep = _protected(out, approx=kind == "free") if kind != "phone" else []
    parts: list[str] = []
    pos = 0
    for match in _RUN.finditer(out):
        parts.append(out[pos : match.start()])
        if match.group(0).isascii() or any(a < match.end() and match.start() < b for a, b in keep):
            parts.append(match.group(0))
            pos = match.end()
            continue
        before = out[max(0, match.start() - 1) : match.start()]
        after = out[match.end() : match.end() + 2]
        parts.append(_convert_run(match.group(0), kind, after, before))
        pos = match.end()
    parts.append(out[pos:])
    result = "".join(parts)
    if kind == "phone":
        result = re.sub(r"(?<=\d)[\s\-—]+(?=\d)", "", result)
    return result


def phone_digits(text: str) -> str:
    """Only the digits of a spoken phone number (幺三八 幺二三四 五六七八 → 13812345678)."""
    return "".join(ch for ch in normalize(text, "phone") if ch.isdigit())
