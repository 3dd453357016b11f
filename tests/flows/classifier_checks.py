"""The shared check of the classifier wording tests: disposition, plus channel / rule and evidence where due."""

from __future__ import annotations

from functools import cache

from flows.classifier import Classifier


@cache
def default_classifier() -> Classifier:
    return Classifier.default()


def assert_disposition(text: str, disposition: str) -> None:
    r = default_classifier().classify(text)
    assert r.disposition == disposition, r
    if disposition == "emergency":
        assert r.channel in ("110", "119", "120", "122") and r.evidence
    if disposition in ("redirect", "decline"):
        assert r.rule is not None and r.evidence
