"""Catalogue loading: merge, validation, clear errors naming file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from prompts.api import UnknownPrompt
from prompts.catalogue import Catalogue, CatalogueError
from prompts.service import PACKAGE_DIR

CALL_IDS = """greeting recording_notice open_question asr_unavailable reprompt.no_input reprompt.no_match menu.keypad
ask.address ask.district ask.time ask.description ask.phone ask.phone_keypad ask.name confirm.readback
confirm.yes_no_keypad confirm.retry transfer.notice transfer.no_agent_callback transfer.agent_unavailable_retry
transfer.failed callback.promise order.created hold.music whisper.agent goodbye goodbye.after_redirect clarify.what
clarify.where clarify.when error.system""".split()


def _write(tmp: Path, name: str, body: str) -> Path:
    path = tmp / name
    path.write_text(body, encoding="utf-8")
    return path


def test_shipped_catalogue_has_every_call_prompt_with_declared_slots() -> None:
    cat = Catalogue.load(PACKAGE_DIR / "catalogue")
    missing = [pid for pid in CALL_IDS if pid not in cat]
    assert not missing
    assert cat.get("confirm.readback").slot_names == ("category", "address", "time", "phone")
    assert cat.get("callback.promise").slot_names == ("order_no",)
    assert cat.get("order.created").slot_names == ("order_no",)
    assert cat.get("whisper.agent").slot_names == ("request_type", "category", "district", "urgency", "repeat_note")
    assert cat.get("recording_notice").barge_in is False
    assert cat.get("hold.music").generator == "hold_music"
    assert "12345" in cat.get("greeting").text and cat.get("greeting").text.startswith("您好")


def test_call_prompts_use_normative_service_language() -> None:
    cat = Catalogue.load(PACKAGE_DIR / "catalogue")
    for pid in CALL_IDS:
        text = cat.get(pid).text
        if pid.startswith(("ask.", "clarify.", "reprompt.", "transfer.", "error.", "asr_")):
            assert any(w in text for w in ("请", "您")), (pid, text)
    assert "感谢您的来电" in cat.get("goodbye").text
    assert "请您稍候" in cat.get("transfer.notice").text
    for pid in ("transfer.failed", "transfer.no_agent_callback", "error.system", "asr_unavailable"):
        assert "抱歉" in cat.get(pid).text


def test_merge_and_fill(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", "prompts:\n  x.one:\n    text: 您好{name}\n    slots: [name]\n")
    _write(tmp_path, "b.yaml", "prompts:\n  x.two: 再见\n")
    cat = Catalogue.load(tmp_path)
    assert cat.ids() == ["x.one", "x.two"]
    assert cat.get("x.one").fill({"name": "{x}"}) == "您好{x}"
    with pytest.raises(KeyError, match="name"):
        cat.get("x.one").fill({})
    with pytest.raises(UnknownPrompt):
        cat.get("nope")


def test_duplicate_id_names_both_files(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", "prompts:\n  same: 一\n")
    _write(tmp_path, "b.yaml", "prompts:\n  same: 二\n")
    with pytest.raises(CatalogueError) as err:
        Catalogue.load(tmp_path)
    assert "a.yaml" in str(err.value) and "b.yaml" in str(err.value) and "'same'" in str(err.value)


def test_broken_yaml_names_file_and_line(tmp_path: Path) -> None:
    _write(tmp_path, "bad.yaml", "prompts:\n  ok: 好\n  broken: [unclosed\n  next: 二\n")
    with pytest.raises(CatalogueError, match=r"bad\.yaml:\d+:\d+: invalid YAML"):
        Catalogue.load(tmp_path)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("prompts:\n  a:\n    text: 您好{who}\n", "undeclared slots \\['who'\\]"),
        ("prompts:\n  a:\n    text: 您好{who\n    slots: [who]\n", "malformed"),
        ("prompts:\n  a:\n    text: ''\n", "non-empty"),
        ("prompts:\n  a:\n    text: 好\n    colour: red\n", "unknown keys"),
        ("prompts:\n  A B:\n    text: 好\n", "invalid prompt id"),
        ("prompts:\n  a:\n    text: 好{x}\n    slots: [{name: x, kind: weird}]\n", "kind 'weird'"),
        ("prompts:\n  a:\n    text: 好{x}\n    slots: [x]\n    audio: a.wav\n", "cannot carry slots"),
        ("prompts:\n  a:\n    text: 好\n    barge_in: maybe\n", "barge_in"),
        ("prompts:\n  a:\n    text: 好\n    generator: radio\n", "generator"),
        ("prompts: [1, 2]\n", "mapping of prompt id"),
        ("other: {}\n", "single key 'prompts'"),
    ],
)
def test_invalid_entries_are_clear_errors(tmp_path: Path, body: str, message: str) -> None:
    _write(tmp_path, "x.yaml", body)
    with pytest.raises(CatalogueError, match=message) as err:
        Catalogue.load(tmp_path)
    assert "x.yaml" in str(err.value)


def test_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError, match="does not exist"):
        Catalogue.load(tmp_path / "nope")
