"""Text normalisation before synthesis: digits, amounts, dates, times, letters and symbols as spoken Chinese.

The output contains only Chinese characters, Chinese punctuation and spaces, so the pinyin step (and the
Mandarin voice) never meets a digit or a Latin letter.  Rules, in the order they apply:

- service numbers (12345, 110, 119, 120, 122, 12388, 12348, 12315 ...) digit by digit, 1 → 幺;
- phone numbers (mobile 1xxxxxxxxxx, landline 0xx-xxxxxxxx, 400/800) digit by digit, 1 → 幺;
- dates (2026年11月28日, 2026-11-28, 2026/11/28) with the year digit by digit (二零二六年);
- times (14:30 → 十四点三十分, 8:00 → 八点整, 2点 → 两点);
- amounts (¥12.50, 12.5元 → 十二元五角, 0.05元 → 五分);
- percentages (23% → 百分之二十三);
- codes mixing letters and digits (order numbers GD2026001) and runs of 7+ digits: digit by digit, letters
  spelled;
- ranges (1-3个 → 一到三个), decimals (3.14 → 三点一四), other numbers as Chinese numerals (23 → 二十三);
- Latin letters spelled one by one; # → 井号, * → 星号.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

NORMALIZER_VERSION = "4"

DIGITS = "零一二三四五六七八九"
PHONE_DIGITS = "零幺二三四五六七八九"

LETTERS: dict[str, str] = {
    "A": "诶", "B": "必", "C": "西", "D": "迪", "E": "伊", "F": "艾弗", "G": "吉", "H": "艾尺", "I": "艾",
    "J": "杰", "K": "开", "L": "艾勒", "M": "艾姆", "N": "恩", "O": "欧", "P": "批", "Q": "丘", "R": "阿尔",
    "S": "艾丝", "T": "踢", "U": "优", "V": "维", "W": "达布溜", "X": "艾克斯", "Y": "歪", "Z": "贼德",
}  # fmt: skip

SYMBOLS: dict[str, str] = {
    "#号": "井号", "*号": "星号", "#": "井号", "*": "星号",
    "%": "百分号", "+": "加", "=": "等于", "&": "和", "@": "艾特",
}  # fmt: skip

SERVICE_NUMBERS = ("12345", "12388", "12348", "12315", "12333", "12366", "12369", "110", "119", "120", "122")

_SMALL_UNITS = ("", "十", "百", "千")
_BIG_UNITS = ("", "万", "亿", "万亿")


def digits_spoken(digits: str, *, one: str = "幺") -> str:
    """Digit by digit: ``13800138000`` → 幺三八零零幺三八零零零 (``one="一"`` for years)."""
    table = PHONE_DIGITS if one == "幺" else DIGITS
    return "".join(table[int(ch)] for ch in digits if ch.isdigit())


def _four(n: int, leading: bool) -> str:
    """0 < n < 10000 as Chinese; ``leading`` means no higher group precedes (十五, not 一十五)."""
    out: list[str] = []
    zero = False
    for pos in (3, 2, 1, 0):
        d = n // 10**pos % 10
        if d == 0:
            if out:
                zero = True
            continue
        if zero:
            out.append("零")
            zero = False
        if pos == 1 and d == 1 and leading and not out:
            out.append("十")
        else:
            out.append(DIGITS[d] + _SMALL_UNITS[pos])
    return "".join(out)


def cardinal(n: int) -> str:
    """Integer as a Chinese numeral: 23 → 二十三, 105 → 一百零五, 10010 → 一万零一十, -5 → 负五."""
    if n < 0:
        return "负" + cardinal(-n)
    if n == 0:
        return "零"
    groups: list[int] = []
    while n:
        groups.append(n % 10000)
        n //= 10000
    if len(groups) > len(_BIG_UNITS):
        return digits_spoken(str(sum(g * 10000**i for i, g in enumerate(groups))), one="一")
    out: list[str] = []
    need_zero = False
    for idx in range(len(groups) - 1, -1, -1):
        g = groups[idx]
        if g == 0:
            need_zero = bool(out)
            continue
        if out and (need_zero or g < 1000):
            out.append("零")
        out.append(_four(g, leading=not out) + _BIG_UNITS[idx])
        need_zero = False
    return "".join(out)


def _count(n: int) -> str:
    """A count before a measure word: 2 → 两 (两元, 两点), otherwise the cardinal."""
    return "两" if n == 2 else cardinal(n)


def decimal(text: str) -> str:
    """``3.14`` → 三点一四; ``12`` → 十二; thousands separators are ignored."""
    text = text.replace(",", "")
    whole, _, frac = text.partition(".")
    out = cardinal(int(whole or "0"))
    return out + ("点" + digits_spoken(frac, one="一") if frac else "")


def amount(value: str) -> str:
    """Money in yuan: ``12.50`` → 十二元五角, ``0.05`` → 五分, ``3`` → 三元, ``2`` → 两元."""
    value = value.replace(",", "")
    whole, _, frac = value.partition(".")
    frac = (frac + "00")[:2]
    yuan, jiao, fen = int(whole or "0"), int(frac[0]), int(frac[1])
    parts: list[str] = []
    if yuan:
        parts.append(_count(yuan) + "元")
    if jiao:
        parts.append(_count(jiao) + "角")
    elif yuan and fen:
        parts.append("零")
    if fen:
        parts.append(_count(fen) + "分")
    return "".join(parts) or "零元"


def spell(code: str) -> str:
    """Letters spelled, digits digit by digit (1 → 幺): ``GD2026`` → 吉迪二零二六."""
    out = []
    for ch in code:
        if ch.isdigit():
            out.append(PHONE_DIGITS[int(ch)])
        elif ch.upper() in LETTERS:
            out.append(LETTERS[ch.upper()])
    return "".join(out)


def phone(number: str) -> str:
    """A phone number digit by digit with 幺 for 1; separators become short pauses."""
    groups = [g for g in re.split(r"[\s\-–—]+", number.strip()) if g]
    if len(groups) == 1 and re.fullmatch(r"1\d{10}", groups[0]):  # mobile: 3-4-4 as people say it
        groups = [groups[0][:3], groups[0][3:7], groups[0][7:]]
    return "，".join(spell(g) for g in groups)


def _time(hour: int, minute: int) -> str:
    if minute == 0:
        return _count(hour) + "点整"
    return _count(hour) + "点" + ("零" + DIGITS[minute] if minute < 10 else cardinal(minute)) + "分"


_D = r"(?<![0-9A-Za-z.])"  # start of a number token
_E = r"(?![0-9A-Za-z])"  # end of a number token

_NOT_MEASURE = r"(?!\s*(?:[个元块万千百人户米年月日天号次分秒岁栋层家条件名位辆斤]|平方|公里|公斤))"

_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    # dates: 2026年11月28日 / 2026-11-28 / 2026/11/28 / 2026.11.28
    (
        re.compile(_D + r"(\d{4})\s*[年/\-.]\s*(\d{1,2})\s*[月/\-.]\s*(\d{1,2})\s*[日号]?" + _E),
        lambda m: f"{digits_spoken(m[1], one='一')}年{cardinal(int(m[2]))}月{cardinal(int(m[3]))}日",
    ),
    (re.compile(_D + r"(\d{4})\s*年"), lambda m: digits_spoken(m[1], one="一") + "年"),
    (
        re.compile(_D + r"(\d{1,2})\s*月\s*(\d{1,2})\s*([日号])"),
        lambda m: f"{cardinal(int(m[1]))}月{cardinal(int(m[2]))}{m[3]}",
    ),
    # times: 14:30, 9:05, 8:00
    (
        re.compile(_D + r"([01]?\d|2[0-4])[:：]([0-5]\d)(?:[:：][0-5]\d)?" + _E),
        lambda m: _time(int(m[1]), int(m[2])),
    ),
    (re.compile(_D + r"(\d{1,2})\s*点\s*(\d{1,2})\s*分"), lambda m: _time(int(m[1]), int(m[2]))),
    (re.compile(_D + r"(\d{1,2})\s*点(?=[^0-9]|$)"), lambda m: _count(int(m[1])) + "点"),
    # money
    (re.compile(r"(?:[¥￥]|RMB\s*)(\d[\d,]*(?:\.\d+)?)\s*(?:元)?"), lambda m: amount(m[1])),
    (re.compile(_D + r"(\d[\d,]*(?:\.\d+)?)\s*元"), lambda m: amount(m[1])),
    (re.compile(_D + r"(\d+)\s*([块角毛分钱])"), lambda m: _count(int(m[1])) + m[2]),
    # percentages
    (re.compile(_D + r"(\d+(?:\.\d+)?)\s*[%％]"), lambda m: "百分之" + decimal(m[1])),
    # service numbers, phone numbers
    (re.compile(_D + "(" + "|".join(SERVICE_NUMBERS) + ")" + _E + _NOT_MEASURE), lambda m: spell(m[1])),
    (re.compile(_D + r"(\+?86[\s\-]?)?(1[3-9]\d[\s\-]?\d{4}[\s\-]?\d{4})" + _E), lambda m: phone(m[2])),
    (re.compile(_D + r"(0\d{2,3}[\s\-–]\d{7,8}|0\d{9,11}|[48]00[\s\-]?\d{3}[\s\-]?\d{4})" + _E), lambda m: phone(m[1])),
    # codes: letters and digits mixed (order numbers), long digit runs
    (
        re.compile(r"(?<![0-9A-Za-z])((?:[A-Za-z]+[\-]?\d[\dA-Za-z\-]*)|(?:\d+[A-Za-z][\dA-Za-z\-]*))"),
        lambda m: spell(m[1]),
    ),
    (re.compile(_D + r"(\d{7,})" + _E), lambda m: spell(m[1])),
    # ranges, decimals, numbers
    (
        re.compile(_D + r"(\d+)\s*[-~～–—]\s*(\d+)(?=\s*[\u4e00-\u9fff])"),
        lambda m: f"{cardinal(int(m[1]))}到{cardinal(int(m[2]))}",
    ),
    (re.compile(r"(?<![0-9A-Za-z])-(\d+(?:\.\d+)?)" + _E), lambda m: "负" + decimal(m[1])),
    (re.compile(_D + r"(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?" + _E), lambda m: decimal(m[0])),
    # anything left: digits glued to letters etc.
    (re.compile(r"\d"), lambda m: PHONE_DIGITS[int(m[0])]),
    (re.compile(r"[A-Za-z]+"), lambda m: spell(m[0])),
]  # fmt: skip

_UNSPEAKABLE = re.compile(r"[^\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff。，、；：？！…—「」『』《》“”‘’（）\s]")
_PUNCT = str.maketrans({",": "，", ";": "；", ":": "：", "?": "？", "!": "！", "(": "（", ")": "）"})


def normalize(text: str) -> str:
    """Spoken-Chinese form of ``text`` (see the module docstring); never raises on odd input."""
    text = unicodedata.normalize("NFKC", text)
    for pattern, spoken in _RULES:
        text = pattern.sub(spoken, text)
    text = re.sub(r"(?<![。！？])\.(?=\s|$)", "。", text)
    text = text.translate(_PUNCT)
    for sym, word in SYMBOLS.items():
        text = text.replace(sym, word)
    text = _UNSPEAKABLE.sub(" ", text)
    return re.sub(r"\s+", " ", text).strip()


SLOT_KINDS = ("text", "phone", "code", "amount", "number")


def normalize_slot(value: str, kind: str) -> str:
    """Normalise one slot value by its declared kind (``text`` = general rules)."""
    value = unicodedata.normalize("NFKC", value).strip()
    if kind == "phone" and re.fullmatch(r"[\d\s\-+]+", value):
        return phone(value.removeprefix("+86").removeprefix("86") if len(re.sub(r"\D", "", value)) > 11 else value)
    if kind == "code" and re.fullmatch(r"[\dA-Za-z\-\s]+", value):
        return spell(value)
    if kind == "amount" and re.fullmatch(r"[\d,]+(?:\.\d+)?", value):
        return amount(value)
    if kind == "number" and re.fullmatch(r"-?\d[\d,]*(?:\.\d+)?", value):
        return ("负" if value.startswith("-") else "") + decimal(value.lstrip("-"))
    return normalize(value)
