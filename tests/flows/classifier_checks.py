"""The shared check of the classifier wording tests: disposition, plus channel / rule and evidence where due.

``rules_classifier`` is the keyword rules alone, for tests of what the learned model changes."""

from __future__ import annotations

from functools import cache

from flows.classifier import Classifier
from flows.policy import load_policy


@cache
def default_classifier() -> Classifier:
    return Classifier.default()


@cache
def rules_classifier() -> Classifier:
    """The keyword rules alone (the learned model switched off)."""
    policy = load_policy()
    return Classifier(policy.model_copy(update={"learned": policy.learned.model_copy(update={"enabled": False})}))


def assert_disposition(text: str, disposition: str) -> None:
    r = default_classifier().classify(text)
    assert r.disposition == disposition, r
    if disposition == "emergency":
        assert r.channel in ("110", "119", "120", "122") and r.evidence
    if disposition in ("redirect", "decline"):
        assert r.rule is not None and r.evidence
