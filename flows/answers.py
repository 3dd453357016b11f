"""Interpretation of a caller's answer for one step: yes/no, phone numbers, addresses, times, global words.

Uses the speech component's normalisation (``asr.itn``, ``asr.yesno``) — the same code the recognizer uses.
"""

from __future__ import annotations

import re

from asr.itn import normalize, phone_digits
from asr.yesno import yes_no

_FILLERS = re.compile(r"[\s，。！？、,.!?~…]+|嗯|啊|呃|哦|那个|就是|这个|吧|呀|我要|我想|请|帮我|给我")
_SELF_NUMBER = ("本机", "这个号", "这个电话", "来电号码", "打进来的号", "就这个")
_DISTRICT = re.compile(r"([\u4e00-\u9fff]{1,6}?(?:新区|区|县|市))")
_LEAD = re.compile(r"^(?:(?:我们|我家|我|家|就|是|住|在|位于|地址|地点)+)")
_STREET = re.compile(r"([\u4e00-\u9fff]{1,8}?(?:街道|镇|乡))")


def core(text: str) -> str:
    """The text without fillers and punctuation (for short-answer matching)."""
    return _FILLERS.sub("", text)


def is_short_command(text: str, word: str) -> bool:
    """``word`` said as a command (转人工, 我要人工) rather than inside a longer story (人工湖的水很臭)."""
    body = core(text).rstrip("吧啊呀了")
    return body == word or (body.endswith(word) and len(body) - len(word) <= 2)


def yes_or_no(text: str) -> bool | None:
    return yes_no(text)


def phone_number(text: str, caller: str) -> str | None:
    """A contact number from speech (ITN) or the calling number when the caller says 本机/就用这个号码."""
    if any(word in text for word in _SELF_NUMBER):
        digits = "".join(ch for ch in caller if ch.isdigit())
        return digits or None
    return valid_phone(phone_digits(text))


def valid_phone(digits: str) -> str | None:
    """Mobile (11 digits starting with 1), landline with area code (10-12 digits starting with 0) or local 7-8."""
    if not digits.isdigit():
        return None
    if len(digits) == 11 and digits.startswith("1"):
        return digits
    if 10 <= len(digits) <= 12 and digits.startswith("0"):
        return digits
    if len(digits) in (7, 8) and not digits.startswith("0"):
        return digits
    return None


def district_and_street(address: str) -> tuple[str | None, str | None]:
    """The district (区/县/市) and street (街道/镇/乡) named in an address, for 属地 routing."""
    address = _LEAD.sub("", core(address))
    district = _DISTRICT.search(address)
    rest = address[district.end():] if district else address
    street = _STREET.search(rest)
    return (district.group(1) if district else None, street.group(1) if street else None)


def normalized(text: str, kind: str) -> str:
    if kind == "time":
        return normalize(text, "time")
    if kind == "address":
        return normalize(text, "house")
    return normalize(text, "free")
