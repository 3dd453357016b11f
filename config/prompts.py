"""Configuration of prompts and TTS (``config/prompts.yaml``, env ``HOTLINE_PROMPTS__<FIELD>``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class PromptsConfig(BaseModel):
    catalogue_dir: str | None = None  # None: prompts/catalogue of this project (all *.yaml merged)
    recordings_dir: str | None = None  # None: prompts/recordings of this project
    cache_dir: str | None = None  # None: $XDG_CACHE_HOME/hotline12345/prompts (~/.cache/...)
    voice: str = Field(default="sit/cmn-latn-pinyin", min_length=1)  # espeak-ng voice id (or its last part)
    accept_languages: list[str] = Field(default_factory=lambda: ["cmn-latn-pinyin"])  # voice must speak one
    text_input: Literal["pinyin", "characters"] = "pinyin"  # what the voice is given (see prompts/README.md)
    rate: int = Field(default=170, ge=80, le=450)  # espeak words per minute (~3.8 syllables/s at 170)
    volume: float = Field(default=1.0, gt=0.0, le=1.0)
    peak_dbfs: float = Field(default=-3.0, ge=-30.0, le=0.0)  # synthesized speech is scaled to this peak
    lead_silence_ms: int = Field(default=100, ge=0, le=2000)  # silence before synthesized speech
    memory_cache_mb: float = Field(default=64.0, ge=0.0)
    synth_timeout: float = Field(default=30.0, gt=0.0)  # seconds before a stuck TTS worker is killed
    hold_music_seconds: float = Field(default=30.0, ge=1.0, le=600.0)
