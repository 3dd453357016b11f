"""Keypad entry for one question: digits until the terminator, the maximum count, or the inter-digit timeout.

Pure: the runner keeps the entry so far in its state and arms the inter-digit timer itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from flows.model import KeypadConf


@dataclass(frozen=True)
class Entry:
    digits: str
    terminated: bool


def press(spec: KeypadConf, entered: str, key: str) -> tuple[str, Entry | None]:
    """Add ``key`` to the digits ``entered`` so far: (digits still being entered, the entry when complete)."""
    if spec.terminator is not None and key == spec.terminator:
        return "", Entry(entered, True)
    entered += key
    if len(entered) >= spec.max_digits:
        return "", Entry(entered, False)
    return entered, None
