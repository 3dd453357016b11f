"""The learned half of the classifier (flows/classifier/learned.py) and how it is combined with the keyword rules.

The sentences here were written for these tests and are in none of the training files (checked below)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from flows.classifier import Classifier
from flows.classifier.learned import LearnedModel, default_sources, features, load_model, read_examples
from flows.policy import load_policy
from tests.flows.classifier_checks import default_classifier, rules_classifier

# (text, what the keyword rules alone say, what the combined classifier says)
RAISED = ["我奶奶坐着坐着就往旁边一倒 嘴也歪了"]  # rules: accept; a stroke, said without a keyword
VETOED = ["燃气卡插上去没反应 钱充不进去", "我家老人的医保卡刷不了 显示没反应"]  # rules: 120 on 没反应
ALL_NEW = RAISED + VETOED


def _identity(s: str) -> str:
    return s


def test_the_sentences_here_are_not_training_data() -> None:
    known = {text for path in default_sources() for text, _ in read_examples(path)}
    assert not known & set(ALL_NEW)


def test_read_examples_takes_both_formats_and_skips_bad_lines(tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    txt = tmp_path / "examples.txt"
    txt.write_text("# comment\naccept:water\t水龙头不出水了\nno tab here\n\nclarify\t喂\n", encoding="utf-8")
    jsonl = tmp_path / "corpus.jsonl"
    jsonl.write_text('{"text": "着火了", "disposition": "emergency", "rule": "fire", "category": null}\n'
                     '{"text": "路灯坏了", "disposition": "accept", "category": "street_lights", "rule": null}\n'
                     "{not json\n"
                     '{"text": "喂喂", "disposition": "clarify"}\n', encoding="utf-8")
    with caplog.at_level(logging.WARNING):
        assert read_examples(txt) == [("水龙头不出水了", "accept:water"), ("喂", "clarify")]
        assert read_examples(jsonl) == [("着火了", "emergency:fire"), ("路灯坏了", "accept:street_lights"),
                                        ("喂喂", "clarify")]
        assert read_examples(tmp_path / "missing.txt") == []
    assert "examples.txt:3" in caplog.text and "corpus.jsonl:3" in caplog.text and "missing.txt" in caplog.text


def test_features_carry_characters_and_pinyin() -> None:
    f = features("着伙了")
    assert {"c着伙", "c^着", "c了$", "c着伙了"} <= f and "c^" not in f
    assert {"phuo", "phuo_le"} <= f & features("着火了")  # the homophone shares the real word's sound


def test_model_learns_labels_and_shows_its_evidence() -> None:
    model = LearnedModel.train([("家里停水了好几天", "accept:water"), ("停水了没人管", "accept:water"),
                                ("我要起诉他欠钱不还", "redirect:litigation"),
                                ("我想去法院起诉", "redirect:litigation"),
                                ("喂喂", "clarify")], _identity)
    assert model is not None
    pred = model.predict("我要起诉对方")
    assert pred is not None and pred.label == "redirect:litigation" and pred.disposition == "redirect"
    assert pred.share > 0.5 and "≈起诉" in pred.evidence
    assert abs(sum(pred.by_disposition.values()) - 1.0) < 1e-6
    assert pred.best_of["accept"] == "accept:water"
    assert model.predict("xyz") is None  # nothing in common with the training sentences
    assert LearnedModel.train([], _identity) is None


def test_models_are_shared_until_the_files_change(tmp_path: Path) -> None:
    path = tmp_path / "examples.txt"
    path.write_text("accept:water\t停水了\nclarify\t喂\n", encoding="utf-8")
    first = load_model([path], _identity, "t")
    assert first is not None and load_model([path], _identity, "t") is first
    path.write_text("accept:water\t停水了\nclarify\t喂\nredirect:litigation\t我要起诉\n", encoding="utf-8")
    second = load_model([path], _identity, "t")
    assert second is not None and second is not first and "redirect:litigation" in second.labels


@pytest.mark.parametrize("text", RAISED)
def test_model_raises_a_confirmed_alarm_the_rules_missed(text: str) -> None:
    assert rules_classifier().classify(text).disposition != "emergency"
    r = default_classifier().classify(text)
    assert (r.disposition, r.channel, r.confirm) == ("emergency", "120", True), r
    assert r.evidence


@pytest.mark.parametrize("text", VETOED)
def test_model_drops_an_alarm_on_a_harmless_sense(text: str) -> None:
    assert rules_classifier().classify(text).disposition == "emergency"
    r = default_classifier().classify(text)
    assert r.disposition == "accept", r
    assert r.secondary is not None and r.secondary.disposition == "emergency"  # the dropped alarm is kept for review


def test_no_model_when_disabled_or_without_examples(tmp_path: Path) -> None:
    policy = load_policy()
    assert Classifier(policy, sources=[tmp_path / "none.jsonl"])._model is None
    off = policy.model_copy(update={"learned": policy.learned.model_copy(update={"enabled": False})})
    assert Classifier(off)._model is None
    assert Classifier(policy, use_examples=False)._model is None
