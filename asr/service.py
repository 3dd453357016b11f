"""The process-wide speech service: ``VoskSpeechService.from_config()`` or, when speech cannot work, DTMF only.

One ``vosk.Model`` per process (cached by path), two bounded pools of warm recognizers (free-form, grammar), one
bounded ``ThreadPoolExecutor`` for decoding.  ``from_config`` never raises for a missing or broken model: it
returns a :class:`DtmfOnlySpeechService` whose status says why, and the flow tells the caller to use the keypad.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
import threading
from collections import deque
from functools import lru_cache
from pathlib import Path

import numpy as np

from asr.api import ListenSpec, NoInput, PromptAwareListener, SpeechEvent, SpeechService, SpeechStatus
from asr.executor import DecodeExecutor
from asr.grammar import CompiledGrammar, builtin_groups, check_vocabulary, compile_grammar
from asr.listener import Decoding, VoskListener
from asr.models import looks_like_model, model_view
from asr.pool import RecognizerPool
from asr.recognizer import ModelHandle, VoskModel
from asr.vad import Vad, make_vad
from config import load_config
from config.asr import AsrConfig

log = logging.getLogger(__name__)

_MODELS: dict[tuple[str, int, float | None, int | None, float | None], VoskModel] = {}
_MODELS_LOCK = threading.Lock()


def load_model(
    path: str,
    *,
    rate: int = 8000,
    dither: float | None = None,
    max_active: int | None = None,
    beam: float | None = None,
) -> VoskModel:
    """The process's model for ``path`` and options (loaded once; ~2 s and ~500 MB for the Korean test model)."""
    key = (str(Path(path).resolve()), rate, dither, max_active, beam)
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is None:
            real = Path(path)
            mfcc = {"dither": f"{dither:g}"} if dither is not None else {}
            decoder = {"max-active": str(max_active)} if max_active is not None else {}
            if beam is not None:
                decoder["beam"] = f"{beam:g}"
            if mfcc or decoder:
                real = model_view(real, Path(tempfile.gettempdir()) / "hotline-asr-models", mfcc=mfcc, decoder=decoder)
            model = VoskModel(str(real), rate=rate)
            _MODELS[key] = model
        return model


class DtmfListener:
    """Listener of the DTMF-only service: every ``listen`` is answered with NoInput at once."""

    def __init__(self) -> None:
        self._events: deque[SpeechEvent] = deque()
        self._wake = asyncio.Event()

    def listen(self, spec: ListenSpec, now: float) -> None:
        self._events.append(NoInput(now))
        self._wake.set()

    def cancel(self) -> None:
        self._events.clear()

    def feed(self, frame: bytes, now: float) -> None:
        """Audio is ignored in DTMF mode."""

    def set_prompt(self, playing: bool, now: float) -> None:
        """Prompts do not matter in DTMF mode."""

    def tick(self, now: float) -> None:
        """No timers in DTMF mode."""

    async def next_event(self) -> SpeechEvent:
        while not self._events:
            self._wake.clear()
            await self._wake.wait()
        return self._events.popleft()

    def close(self) -> None:
        self._events.clear()


class DtmfOnlySpeechService:
    def __init__(self, reason: str, model_path: str | None = None) -> None:
        self._status = SpeechStatus(available=False, mode="dtmf", model_path=model_path, reason=reason)
        log.warning("speech recognition unavailable, keypad only: %s", reason)

    @property
    def status(self) -> SpeechStatus:
        return self._status

    def open_listener(self) -> PromptAwareListener:
        return DtmfListener()

    def close(self) -> None:
        """Nothing to release."""


class VoskSpeechService:
    def __init__(self, model: ModelHandle, cfg: AsrConfig) -> None:
        self.model = model
        self.cfg = cfg
        self.free_pool = RecognizerPool(model, cfg.free_pool, grammar=False)
        self.grammar_pool = RecognizerPool(model, cfg.grammar_pool, grammar=True)
        self.executor = DecodeExecutor(cfg.decode_threads)
        hotwords = tuple(w for group in cfg.hotwords.values() for w in group)
        groups: dict[str, list[str]] = {k: list(v) for k, v in builtin_groups().items()}
        groups.update({f"hotwords.{k}": list(v) for k, v in cfg.hotwords.items()})
        missing = check_vocabulary(groups, model.has_word)
        if missing:
            log.warning("words missing from the speech model %s: %s", model.path, missing)
        self._status = SpeechStatus(available=True, mode="speech", model_path=model.path, missing_words=missing)
        vad_cfg = cfg.vad
        self._compile = lru_cache(maxsize=256)(self._compile_uncached)
        self.decoding = Decoding(
            free_pool=self.free_pool,
            grammar_pool=self.grammar_pool,
            executor=self.executor,
            compile=self.compile,
            make_vad=lambda: make_vad_from(cfg),
            low_confidence=cfg.low_confidence,
            onset=vad_cfg.onset,
            pre_roll=vad_cfg.pre_roll,
            hotwords=hotwords,
        )
        if cfg.prewarm:
            self.executor.submit(self._prewarm, cfg.prewarm)

    @classmethod
    def from_config(cls, cfg: AsrConfig | None = None) -> VoskSpeechService | DtmfOnlySpeechService:
        """The service the configuration asks for, or DTMF only with the reason (never raises for the model)."""
        cfg = cfg if cfg is not None else load_config(AsrConfig, "asr")
        if not cfg.enabled:
            return DtmfOnlySpeechService("speech recognition is disabled in the configuration (asr.enabled)")
        if not cfg.model_path:
            return DtmfOnlySpeechService("no speech model configured (asr.model_path)")
        path = Path(cfg.model_path)
        problems = looks_like_model(path)
        if problems:
            return DtmfOnlySpeechService(
                f"no usable speech model at {path} ({'; '.join(problems)}); run `hotline models pull zh`", str(path)
            )
        try:
            model = load_model(
                str(path), rate=cfg.feed_rate, dither=cfg.dither, max_active=cfg.max_active, beam=cfg.beam
            )
        except Exception as exc:  # Vosk raises a bare Exception("Failed to create a model")
            return DtmfOnlySpeechService(f"speech model at {path} failed to load: {exc}", str(path))
        return cls(model, cfg)

    @property
    def status(self) -> SpeechStatus:
        return self._status

    def compile(self, phrases: tuple[str, ...]) -> CompiledGrammar:
        return self._compile(tuple(phrases))

    def _compile_uncached(self, phrases: tuple[str, ...]) -> CompiledGrammar:
        compiled = compile_grammar(phrases, self.model.has_word, self.model.unk)
        if compiled.missing:
            log.warning(
                "grammar words missing from the model: %s (phrases dropped: %s)", compiled.missing, compiled.dropped
            )
        return compiled

    def _prewarm(self, count: int) -> None:
        """Warm free-form recognizers with synthetic speech (measured on the Korean model: first real pass 0.9 s
        cold, 0.37 s after noise, 0.2 s after espeak-ng speech; warm passes 0.08 s)."""
        audio = b""
        try:
            from asr.synth import espeak_available, say

            if espeak_available():
                audio = say(self.cfg.prewarm_text, self.cfg.prewarm_voice)
        except Exception:
            log.warning("espeak-ng could not render the prewarm text; warming with noise")
        if not audio:
            rng = np.random.default_rng(0)
            audio = (rng.standard_normal(8000) * 2000).astype(np.int16).tobytes()
        try:
            self.free_pool.prewarm(count, audio)
        except Exception:
            log.exception("prewarming recognizers failed")

    def open_listener(self) -> VoskListener:
        return VoskListener(self.decoding)

    def close(self) -> None:
        self.executor.shutdown()


def make_vad_from(cfg: AsrConfig) -> Vad:
    return make_vad(
        cfg.vad.engine,
        aggressiveness=cfg.vad.webrtc_aggressiveness,
        threshold=cfg.vad.silero_threshold,
        floor=cfg.vad.silero_floor,
        noisy_rms=cfg.vad.noisy_rms,
    )


def _conforms(vosk: VoskSpeechService, dtmf: DtmfOnlySpeechService, listener: VoskListener) -> None:
    """Static check (mypy) that the implementations satisfy the contract in asr.api."""
    services: list[SpeechService] = [vosk, dtmf]
    listeners: list[PromptAwareListener] = [listener, dtmf.open_listener()]
    del services, listeners
