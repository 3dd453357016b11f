"""Small SIP message bodies: DTMF in SIP INFO and message/sipfrag (REFER NOTIFY)."""

from __future__ import annotations

import re

from ivr.sip.headers import is_number

DTMF_DIGITS = frozenset("0123456789*#ABCD")
_EVENT_TO_DIGIT = {10: "*", 11: "#", 12: "A", 13: "B", 14: "C", 15: "D"}


def parse_dtmf_info(content_type: str, body: bytes) -> tuple[str, int] | None:
    """Digit and duration (ms) from an INFO body, or None when it carries no DTMF.

    ``application/dtmf-relay``: ``Signal=5\\r\\nDuration=160`` (Signal may also be 10/11 for * and #).
    ``application/dtmf``: the bare digit.
    """
    ctype = content_type.split(";")[0].strip().lower()
    text = body.decode("utf-8", errors="replace")
    if ctype == "application/dtmf-relay":
        fields: dict[str, str] = {}
        for line in re.split(r"[\r\n]+", text):
            name, sep, value = line.partition("=")
            if sep:
                fields[name.strip().lower()] = value.strip()
        digit = _digit(fields.get("signal", ""))
        if digit is None:
            return None
        duration = fields.get("duration", "")
        return digit, int(duration) if is_number(duration) and len(duration) < 7 else 0
    if ctype == "application/dtmf":
        digit = _digit(text.strip())
        return (digit, 0) if digit is not None else None
    return None


def _digit(value: str) -> str | None:
    value = value.strip().upper()
    if value in DTMF_DIGITS and len(value) == 1:
        return value
    if is_number(value) and int(value) in _EVENT_TO_DIGIT:
        return _EVENT_TO_DIGIT[int(value)]
    return None


def dtmf_relay_body(digit: str, duration_ms: int = 160) -> bytes:
    return f"Signal={digit}\r\nDuration={duration_ms}\r\n".encode()


def sipfrag(status: int, reason: str) -> bytes:
    return f"SIP/2.0 {status} {reason}\r\n".encode()


def parse_sipfrag(body: bytes) -> tuple[int, str] | None:
    """Status and reason of a message/sipfrag status line (the NOTIFY of a REFER), or None."""
    line = body.split(b"\n", 1)[0].decode("utf-8", errors="replace").strip()
    match = re.match(r"^SIP/2\.0\s+(\d{3})\s*(.*)$", line)
    if not match:
        return None
    return int(match.group(1)), match.group(2).strip()
