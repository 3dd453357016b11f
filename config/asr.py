"""Configuration of speech recognition (``config/asr.yaml``, env ``HOTLINE_ASR__<FIELD>``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ModelSource(BaseModel):
    """Where ``hotline models pull <lang>`` fetches a model archive from."""

    name: str = Field(min_length=1)  # directory name inside the archive and under models_dir
    url: str = Field(min_length=1)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")  # pinned digest; None = trust on first use


class VadConfig(BaseModel):
    engine: Literal["auto", "webrtc", "silero"] = "auto"  # auto: webrtc on quiet lines, Silero on noisy ones
    noisy_rms: float = Field(default=200.0, ge=0.0)  # auto: noise floor (frame RMS) above which Silero decides
    webrtc_aggressiveness: int = Field(default=3, ge=0, le=3)
    silero_threshold: float = Field(default=0.5, gt=0.0, lt=1.0)
    silero_floor: float = Field(default=60.0, ge=0.0)  # RMS below which a frame is silence without running Silero
    onset: float = Field(default=0.06, ge=0.0, le=1.0)  # voiced run that starts an utterance (debounce)
    pre_roll: float = Field(default=0.3, ge=0.0, le=2.0)  # audio before the onset that is decoded too


class AsrConfig(BaseModel):
    enabled: bool = True  # False: DTMF only
    models_dir: str = "models"
    model_path: str | None = "models/vosk-model-small-cn-0.22"  # relative to the working directory
    dither: float | None = None  # override --dither in conf/mfcc.conf (tests use 0.0 for determinism)
    max_active: int | None = Field(default=None, ge=100)  # override --max-active in conf/model.conf (CPU vs accuracy)
    beam: float | None = Field(default=None, gt=0)  # override --beam in conf/model.conf
    feed_rate: Literal[8000, 16000] = 8000  # 8 kHz call audio fed as is (measured better than resampling)
    free_pool: int = Field(default=8, ge=1, le=256)  # warm free-form recognizers (bounded)
    grammar_pool: int = Field(default=24, ge=1, le=256)  # grammar recognizers (cheap SetGrammar between uses)
    prewarm: int = Field(default=2, ge=0, le=256)  # free-form recognizers warmed at start-up (in the background)
    prewarm_text: str = "您好，我想反映一下我们小区的路灯坏了，在朝阳区二十三号楼"  # spoken by espeak-ng to warm them
    prewarm_voice: str = "cmn"
    decode_threads: int = Field(default=2, ge=1, le=64)
    low_confidence: float = Field(default=0.6, ge=0.0, le=1.0)  # below this the flow confirms / offers keypad
    max_alternatives: int = Field(default=0, ge=0, le=10)
    vad: VadConfig = VadConfig()
    hotwords: dict[str, list[str]] = Field(default_factory=dict)  # group (places, departments) -> names
    sources: dict[str, ModelSource] = Field(default_factory=dict)  # lang -> archive for `hotline models pull`
