"""flows/policy.yaml: the shipped policy is complete and consistent; broken policies fail with file:line: key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from flows.policy import (
    DEFAULT_PATH,
    EMERGENCY_RULES,
    REQUIRED_CATEGORIES,
    REQUIRED_CHANNELS,
    PolicyError,
    load_policy,
    parse_policy,
)
from prompts.catalogue import load_file

ROOT = Path(__file__).resolve().parents[2]
DECLINE_RULES = {"privacy", "illegal_building", "burial", "fengshui", "benefits_ineligible", "job_demand",
                 "dismiss_official", "malicious", "repeat", "beyond_policy"}
REDIRECT_RULES = {"litigation": "court", "labour_arbitration": "arbitration", "official_misconduct": "12388",
                  "admin_reconsideration": "reconsideration", "petition_case": "petition", "legal_aid": "12348",
                  "consumer_dispute": "12315"}


@pytest.fixture(scope="module")
def policy_text() -> str:
    return DEFAULT_PATH.read_text(encoding="utf-8")


def test_shipped_policy_has_every_shared_identifier() -> None:
    p = load_policy()
    assert {e.id for e in p.emergency} == set(EMERGENCY_RULES)
    assert {e.id: e.channel for e in p.emergency} == {"fire": "119", "gas_leak": "119", "crime": "110",
                                                      "medical": "120", "traffic_accident": "122",
                                                      "suicide": "110", "missing_person": "110"}
    assert set(REQUIRED_CHANNELS) <= set(p.channels)
    assert set(REQUIRED_CATEGORIES) <= set(p.categories)
    rules = {r.id: r for r in p.rules}
    assert {k for k, r in rules.items() if r.disposition == "decline"} == DECLINE_RULES
    assert {k: r.channel for k, r in rules.items() if r.disposition == "redirect"} == REDIRECT_RULES
    for r in p.rules:
        assert r.citation and r.description and r.lawful_path, r.id


def test_every_policy_prompt_exists_in_the_catalogue() -> None:
    catalogue = load_file(ROOT / "prompts" / "catalogue" / "policy.yaml")
    ids = load_policy().prompt_ids()
    assert ids - set(catalogue) == set()
    for pid in ids:
        assert catalogue[pid].text.strip()
    assert all(f"emergency.confirm.{c}" in ids for c in ("110", "119", "120", "122"))
    assert "是否需要为您转接119" in catalogue["emergency.confirm.119"].text


def test_routes_follow_the_active_city() -> None:
    p = load_policy()
    r119 = p.route("119")
    assert r119.mode == "transfer" and r119.target and r119.target.startswith("sip:")
    r12315 = p.route("12315")  # this city merged 12315 into 12345: a specialist seat inside the hotline
    assert r12315.mode == "internal" and r12315.target
    assert p.route("12348").mode == "spoken" and p.route("12348").number == "12348"
    court = p.route("court")
    assert court.mode == "spoken" and court.number is None and court.path


def test_deadlines_by_category_type_and_urgency() -> None:
    p = load_policy()
    assert p.deadline("water", "求助").hours == 24
    assert p.deadline("heating", "投诉").hours == 24
    assert p.deadline("roads", "咨询").working_days == 3
    assert p.deadline("education", "求助").working_days == 5
    assert p.deadline("noise", "投诉").working_days == 5  # the category's 5 days beat the complaint's 10
    assert p.deadline("other", "投诉", "complex").working_days == 5
    assert p.deadline(None, "投诉", "complex").working_days == 10
    assert p.deadline("roads", "投诉", "emergency").hours == 2
    assert p.deadline("water", "咨询").working_days == 3  # the 24 h outage rule is for help/complaints


def _broken(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_unknown_channel_names_file_line_and_key(policy_text: str) -> None:
    bad = _broken(policy_text, "    channel: court\n", "    channel: cort\n")
    with pytest.raises(PolicyError) as err:
        parse_policy(bad, "policy.yaml")
    msg = str(err.value)
    assert f"policy.yaml:{_line_of(bad, 'channel: cort')}: rules.0.channel: unknown channel 'cort'" in msg


def test_bad_keyword_syntax_points_at_the_keyword(policy_text: str) -> None:
    bad = _broken(policy_text, "起诉^3,", "(起诉^3,")
    with pytest.raises(PolicyError) as err:
        parse_policy(bad, "p.yaml")
    msg = str(err.value)
    assert "rules.0.keywords" in msg and "(起诉" in msg
    assert f"p.yaml:{_line_of(bad, '(起诉^3')}:" in msg


def test_decline_with_channel_and_transfer_without_uri(policy_text: str) -> None:
    bad = _broken(policy_text, "  - id: privacy\n    disposition: decline\n",
                  "  - id: privacy\n    disposition: decline\n    channel: court\n")
    bad = _broken(bad, '"12348": {mode: spoken}', '"12348": {mode: transfer}')
    with pytest.raises(PolicyError) as err:
        parse_policy(bad, "p.yaml")
    problems = {key: (line, msg) for _f, line, key, msg in err.value.problems}
    assert "a decline rule has no channel" in problems["rules.7"][1]
    assert problems["rules.7"][0] == _line_of(bad, "- id: privacy")
    assert "SIP URI" in problems["cities.example.channels.12348"][1]
    assert problems["cities.example.channels.12348"][0] == _line_of(bad, '"12348": {mode: transfer}')


def test_missing_and_extra_keys(policy_text: str) -> None:
    bad = _broken(policy_text, "    name: 供暖\n", "    nmae: 供暖\n")
    with pytest.raises(PolicyError) as err:
        parse_policy(bad, "p.yaml")
    keys = {key for _f, _l, key, _m in err.value.problems}
    assert {"categories.heating.name", "categories.heating.nmae"} <= keys
    line = next(ln for _f, ln, key, _m in err.value.problems if key == "categories.heating.nmae")
    assert line == _line_of(bad, "nmae: 供暖")


def test_duplicate_key_is_an_error(policy_text: str) -> None:
    bad = _broken(policy_text, "  water:\n    name: 供水\n", "  heating:\n    name: 供水\n")
    with pytest.raises(PolicyError) as err:
        parse_policy(bad, "p.yaml")
    assert "duplicate key (first on line" in str(err.value)
    assert err.value.problems[0][1] == _line_of(bad, "    name: 供水") - 1


def test_missing_emergency_rule_and_required_category(policy_text: str) -> None:
    data = yaml.safe_load(policy_text)
    data["emergency"] = [e for e in data["emergency"] if e["id"] != "medical"]
    with pytest.raises(PolicyError, match="emergency: need each of"):
        parse_policy(yaml.safe_dump(data, allow_unicode=True), "p.yaml")
    data = yaml.safe_load(policy_text)
    del data["categories"]["pets"]
    with pytest.raises(PolicyError, match="categories: missing pets"):
        parse_policy(yaml.safe_dump(data, allow_unicode=True), "p.yaml")


def test_invalid_yaml_and_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"p.yaml:3: invalid YAML"):
        parse_policy("version: 1\nrules:\n\t- id: x\n", "p.yaml")
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "nope.yaml")
    with pytest.raises(PolicyError, match="expected a mapping"):
        parse_policy("- a\n- b\n", "p.yaml")


def test_unquoted_numbers_in_word_lists_are_words(policy_text: str) -> None:
    p = parse_policy(_broken(policy_text, "政府热线, 热线, 12345,", "政府热线, 热线, 12345, 110,"), "p.yaml")
    assert "110" in p.text.empty_phrases


def test_training_examples_use_known_labels() -> None:
    from flows.classifier.learned import default_sources, read_examples

    p = load_policy()
    known = ({"clarify"} | {f"emergency:{e.id}" for e in p.emergency} | {f"accept:{c}" for c in p.categories}
             | {f"{r.disposition}:{r.id}" for r in p.rules} | {"redirect:other_city"})
    for path in default_sources():
        labels = [label for _text, label in read_examples(path)]
        assert len(labels) >= 100, path
        assert set(labels) <= known, (path, set(labels) - known)
