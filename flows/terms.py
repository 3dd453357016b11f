"""Keyword syntax of flows/policy.yaml, parsed into :class:`Term` objects (validated by flows.policy, matched by
flows.classifier).

``煤气泄漏`` literal · ``A+B`` in order, at most ``gap`` characters apart · ``A&B`` all anywhere ·
``(a|b)`` alternatives inside a part · ``…^2.5`` weight · leading ``~`` characters only (no pinyin match).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WEIGHT = re.compile(r"\^(\d+(?:\.\d+)?)$")
_ALT = re.compile(r"^\(([^()]+)\)$")
_BAD = re.compile(r"[()|^&+~\s]")


class TermSyntaxError(ValueError):
    """A keyword does not follow the syntax; the message says why."""


@dataclass(frozen=True)
class Term:
    """One keyword: all ``groups`` must match; a group is a sequence of parts; a part is a set of alternatives."""

    source: str
    groups: tuple[tuple[tuple[str, ...], ...], ...]
    weight: float = 1.0
    pinyin: bool = True
    pinyin_min: int = 2  # shortest literal (in syllables) that may match through pinyin
    gap: int | None = None  # max characters between the parts of A+B (None: the matcher's default)
    strict: bool = False  # two-character pinyin matches must not straddle two words of the utterance

    @property
    def first_parts(self) -> tuple[str, ...]:
        return self.groups[0][0]


def _parse_part(text: str, source: str) -> tuple[str, ...]:
    m = _ALT.match(text)
    alts = [a.strip() for a in m.group(1).split("|")] if m else [text.strip()]
    if any(not a for a in alts):
        raise TermSyntaxError(f"empty alternative in {source!r}")
    for alt in alts:
        if _BAD.search(alt):
            raise TermSyntaxError(f"unexpected character in {alt!r} of {source!r} (parentheses only around a part)")
    return tuple(alts)


def parse_term(source: str) -> Term:
    """Parse one keyword (raises :class:`TermSyntaxError`)."""
    if not isinstance(source, str) or not source.strip():
        raise TermSyntaxError("empty keyword")
    text = source.strip()
    weight = 1.0
    m = _WEIGHT.search(text)
    if m:
        weight = float(m.group(1))
        text = text[: m.start()]
        if weight <= 0:
            raise TermSyntaxError(f"weight must be positive in {source!r}")
    pinyin = True
    if text.startswith("~"):
        pinyin = False
        text = text[1:]
    groups = []
    for group in text.split("&"):
        if not group.strip():
            raise TermSyntaxError(f"empty group around '&' in {source!r}")
        parts = []
        for part in group.split("+"):
            if not part.strip():
                raise TermSyntaxError(f"empty part around '+' in {source!r}")
            parts.append(_parse_part(part, source))
        groups.append(tuple(parts))
    return Term(source=source, groups=tuple(groups), weight=weight, pinyin=pinyin)


def normalise_literal(text: str) -> str:
    """Keywords are matched against normalised text (lower case, half-width); apply the same to literals."""
    out = []
    for ch in text:
        code = ord(ch)
        if 0xFF01 <= code <= 0xFF5E:
            ch = chr(code - 0xFEE0)
        out.append(ch.lower())
    return "".join(out)
