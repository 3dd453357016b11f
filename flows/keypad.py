"""Keypad entry for one question: digits until the terminator, the maximum count, or the inter-digit timeout."""

from __future__ import annotations

from dataclasses import dataclass

from flows.model import KeypadConf


@dataclass(frozen=True)
class Entry:
    digits: str
    terminated: bool


class DigitCollector:
    def __init__(self) -> None:
        self.spec: KeypadConf | None = None
        self.buffer = ""

    def arm(self, spec: KeypadConf | None) -> None:
        self.spec, self.buffer = spec, ""

    @property
    def active(self) -> bool:
        """Keys have been pressed for the current question and the entry is not complete yet."""
        return bool(self.buffer)

    @property
    def inter_digit_timeout(self) -> float:
        return self.spec.inter_digit_timeout if self.spec else 3.0

    def press(self, key: str) -> Entry | None:
        """Add a key; returns the entry when it is complete."""
        if self.spec is None:
            return None
        if self.spec.terminator is not None and key == self.spec.terminator:
            return self._done(True)
        self.buffer += key
        if len(self.buffer) >= self.spec.max_digits:
            return self._done(False)
        return None

    def timeout(self) -> Entry | None:
        return self._done(False) if self.buffer else None

    def _done(self, terminated: bool) -> Entry:
        entry = Entry(self.buffer, terminated)
        self.buffer = ""
        return entry
