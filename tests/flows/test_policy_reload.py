"""The policy reloads like the flow: each call takes one snapshot of flow + policy (classifier, routes) at its
start; an edit serves new calls only; a broken edit is logged and the last good policy keeps serving."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from flows.policy import PolicyError
from flows.registry import PolicyRegistry
from flows.setup import ContextFactory, load_flows_config
from flows.simulate import Simulator

ROOT = Path(__file__).resolve().parents[2]
WORDS = "蓝精灵城堡坏了好几天了"  # no topic under the shipped policy; heating once the edit below adds the keyword


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text
    before = path.stat().st_mtime_ns
    path.write_text(text.replace(old, new, 1), "utf-8")
    os.utime(path, ns=(before + 2_000_000_000, before + 2_000_000_000))  # a visibly newer mtime


def _add_keyword(path: Path) -> None:
    _edit(path, "    keywords: [暖气^2, 供暖^2,", "    keywords: [蓝精灵城堡^4, 暖气^2, 供暖^2,")


@pytest.fixture(scope="module")
def policy_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("policy") / "policy.yaml"
    shutil.copy(ROOT / "flows" / "policy.yaml", path)
    return path


def test_an_edit_serves_new_calls_and_a_call_keeps_its_snapshot(policy_copy: Path) -> None:
    path = policy_copy.parent / "edit.yaml"
    shutil.copy(policy_copy, path)
    factory = ContextFactory.from_config(load_flows_config(), policy=path)
    old_call = factory.new_context()
    assert old_call.policy_version and old_call.classifier is not None
    assert old_call.classifier.classify(WORDS).category != "heating"
    assert factory.new_context().classifier is old_call.classifier  # unchanged file: no reload
    sim = Simulator(old_call)
    sim.start()

    _add_keyword(path)
    _edit(path, '"12348": {mode: spoken}', '"12348": {mode: transfer, target: "sip:12348@seat"}')
    new_call = factory.new_context()
    assert new_call.policy_version != old_call.policy_version and new_call.classifier is not None
    assert new_call.classifier.classify(WORDS).category == "heating"
    assert new_call.routes["12348"].transfer and not old_call.routes["12348"].transfer
    assert new_call.flow is old_call.flow  # one snapshot of both files; the flow did not change

    sim.turn(WORDS)  # the call in progress still classifies with the policy it started on
    assert sim.state.vars["category"] != "heating"
    sim = Simulator(new_call)
    sim.start()
    sim.turn(WORDS)
    assert sim.state.vars["category"] == "heating"


def test_a_broken_edit_keeps_the_last_good_policy_with_a_clear_error(policy_copy: Path,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    path = policy_copy.parent / "broken.yaml"
    shutil.copy(policy_copy, path)
    registry = PolicyRegistry(path)
    good = registry.current()
    _edit(path, '"12348": {mode: spoken}', '"12348": {mode: teleport}')
    with caplog.at_level(logging.ERROR, logger="flows.registry"):
        assert registry.current() is good
    assert isinstance(registry.last_error, PolicyError)
    message = caplog.text
    assert "changed but is invalid; still serving version " + good.version in message
    assert f"{path}:" in message and "cities.example.channels.12348.mode" in message  # file, line and key
    assert registry.current() is good and len(caplog.records) == 1  # the broken file is not re-read per call
    _edit(path, '"12348": {mode: teleport}', '"12348": {mode: spoken}')
    assert registry.current().version == good.version and registry.last_error is None


def test_without_any_valid_policy_calls_use_the_keypad_menu_and_configured_routes(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("emergency: [\n", "utf-8")
    factory = ContextFactory.from_config(load_flows_config(), policy=path)
    with caplog.at_level(logging.ERROR, logger="flows.setup"):
        first, second = factory.new_context(), factory.new_context()
    assert first.classifier is None and second.classifier is None and first.routes["119"].transfer
    assert first.policy_version == "" and len(caplog.records) == 1  # logged once, not for every call
