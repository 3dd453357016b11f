"""The classifier's answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Classification:
    """What the caller's words mean for the flow.

    ``confirm`` is true for an emergency the flow should confirm first (是否需要为您转接119？): a weak trigger, a
    pinyin-only match, or one discounted by negation/past/hypothetical cues with nothing else in scope.
    ``secondary`` is the other half of a split case (e.g. accept wages, secondary redirect to court).
    """

    text: str
    disposition: str
    category: str | None = None
    channel: str | None = None
    rule: str | None = None
    confidence: float = 0.0
    evidence: tuple[str, ...] = ()
    request_type: str | None = None
    secondary: Classification | None = None
    confirm: bool = False

    def to_json(self, explain: bool = False) -> dict[str, Any]:
        """The ``hotline classify`` record (``explain`` adds evidence, request type, confirm and secondary)."""
        out: dict[str, Any] = {
            "text": self.text,
            "disposition": self.disposition,
            "category": self.category,
            "channel": self.channel,
            "rule": self.rule,
            "confidence": round(self.confidence, 3),
        }
        if explain:
            out["request_type"] = self.request_type
            out["confirm"] = self.confirm
            out["evidence"] = list(self.evidence)
            out["secondary"] = self.secondary.to_json(explain=True) if self.secondary else None
        return out
