"""`hotline models pull|check` through the real CLI entry point."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from hotline.cli import main


@pytest.mark.vosk
def test_models_check_reports_vocabulary_of_the_real_model(
    ko_model_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("HOTLINE_ASR__MODELS_DIR", str(tmp_path))
    monkeypatch.setenv("HOTLINE_ASR__HOTWORDS", json.dumps({"places": ["서울", "뷁뷁"]}))
    assert main(["models", "check", "--path", str(ko_model_path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    conf = report["configured"]
    assert conf["ok"] and conf["unk"] == "<UNK>"
    assert conf["missing_words"]["hotwords.places"] == ["뷁뷁"]
    assert "零" in conf["missing_words"]["digits"]  # a Korean model has no Chinese digits


def test_models_check_without_a_model_says_keypad_mode(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("HOTLINE_ASR__MODELS_DIR", str(tmp_path))
    assert main(["models", "check", "--path", str(tmp_path / "none")]) == 1
    out = capsys.readouterr().out
    assert "NOT USABLE" in out and "keypad" in out


def test_models_pull_offline_fails_clearly(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(
        ["models", "pull", "zh", "--dir", str(tmp_path), "--url", f"http://127.0.0.1:{port}/x.zip", "--timeout", "2"]
    )
    assert code == 1
    assert "no internet access" in capsys.readouterr().err
    assert main(["models", "pull", "xx", "--dir", str(tmp_path)]) == 2
