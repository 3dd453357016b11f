"""PromptService: the catalogue, recorded overrides, TTS and both caches behind :class:`prompts.api.PromptSource`.

Lookup order for ``audio(prompt_id)``: memory LRU → recorded override (converted, disk-cached by content) →
generator (hold music) → disk cache → TTS (normalise → pinyin → espeak-ng → soxr 8 kHz), stored in both caches.
Thread-safe: cache hits take only the LRU's lock; misses are rendered under one lock (the TTS worker is serial).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from audio.pcm import FRAME_BYTES
from config import load_config
from config.prompts import PromptsConfig
from prompts.api import UnknownPrompt
from prompts.audio import TELEPHONE_RATE, AudioError, Encoding, encode, read_wav, telephone
from prompts.cache import DiskCache, MemoryLRU, cache_key
from prompts.catalogue import Catalogue, Prompt
from prompts.holdmusic import HOLD_MUSIC_VERSION, hold_music
from prompts.normalize import NORMALIZER_VERSION, normalize, normalize_slot
from prompts.pinyin import PYPINYIN_VERSION, to_pinyin
from prompts.tts import EspeakTTS, Synthesizer, TTSError

log = logging.getLogger(__name__)

PACKAGE_DIR = Path(__file__).resolve().parent
Source = Literal["memory", "recording", "generator", "cache", "tts"]


def frame_pad(pcm: bytes) -> bytes:
    """Pad with silence to whole 20 ms frames (320 bytes at 8 kHz), as ivr.app.Call.play sends them."""
    return pcm + b"\0" * (-len(pcm) % FRAME_BYTES)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hotline12345" / "prompts"


@dataclass(frozen=True)
class Rendered:
    prompt_id: str
    source: Source
    seconds: float
    nbytes: int


class PromptService:
    """Implements prompts.api.PromptSource; see the module docstring."""

    def __init__(
        self,
        catalogue: Catalogue,
        tts: Synthesizer,
        *,
        cache_dir: Path,
        recordings_dir: Path,
        text_input: Literal["pinyin", "characters"] = "pinyin",
        peak_dbfs: float | None = -3.0,
        memory_bytes: int = 64 << 20,
        hold_music_seconds: float = 30.0,
        lead_silence_ms: int = 100,
    ) -> None:
        self.catalogue = catalogue
        self.tts = tts
        self.disk = DiskCache(cache_dir)
        self.memory = MemoryLRU(memory_bytes)
        self.recordings_dir = recordings_dir
        self.text_input = text_input
        self.peak_dbfs = peak_dbfs
        self.hold_music_seconds = hold_music_seconds
        self.lead_silence_ms = lead_silence_ms
        self._render_lock = threading.RLock()
        self.last_source: Source | None = None

    @classmethod
    def from_config(cls, config: PromptsConfig | None = None) -> PromptService:
        cfg = config or load_config(PromptsConfig, "prompts")
        catalogue = Catalogue.load(Path(cfg.catalogue_dir) if cfg.catalogue_dir else PACKAGE_DIR / "catalogue")
        tts = EspeakTTS(cfg.voice, cfg.rate, cfg.volume, timeout=cfg.synth_timeout, accept=cfg.accept_languages)
        return cls(
            catalogue,
            tts,
            cache_dir=Path(cfg.cache_dir) if cfg.cache_dir else default_cache_dir(),
            recordings_dir=Path(cfg.recordings_dir) if cfg.recordings_dir else PACKAGE_DIR / "recordings",
            text_input=cfg.text_input,
            peak_dbfs=cfg.peak_dbfs,
            memory_bytes=int(cfg.memory_cache_mb * (1 << 20)),
            hold_music_seconds=cfg.hold_music_seconds,
            lead_silence_ms=cfg.lead_silence_ms,
        )

    # -- PromptSource -------------------------------------------------------------------------------------------
    def has(self, prompt_id: str) -> bool:
        return prompt_id in self.catalogue

    def text(self, prompt_id: str, slots: Mapping[str, str] | None = None) -> str:
        return self.catalogue.get(prompt_id).fill(slots)

    def audio(self, prompt_id: str, slots: Mapping[str, str] | None = None) -> bytes:
        prompt = self.catalogue.get(prompt_id)
        values = {name: str((slots or {})[name]) for name in prompt.slot_names if name in (slots or {})}
        mkey = self._memory_key(prompt_id, values)
        hit = self.memory.get(mkey)
        if hit is not None:
            self.last_source = "memory"
            return hit
        prompt.fill(values)  # KeyError for a missing slot before any work
        with self._render_lock:
            pcm, source = self._render_prompt(prompt, values)
            self.memory.put(mkey, pcm)
            self.last_source = source
            return pcm

    def say(self, text: str) -> bytes:
        mkey = ("t", text)
        hit = self.memory.get(mkey)
        if hit is not None:
            self.last_source = "memory"
            return hit
        with self._render_lock:
            pcm, source = self._speech(text, normalize(text))
            self.memory.put(mkey, pcm)
            self.last_source = source
            return pcm

    # -- extras -------------------------------------------------------------------------------------------------
    def audio_encoded(self, prompt_id: str, slots: Mapping[str, str] | None = None, *, encoding: Encoding) -> bytes:
        """The prompt as PCM16, G.711 μ-law (``ulaw``) or A-law (``alaw``) at 8 kHz."""
        return encode(self.audio(prompt_id, slots), encoding)

    async def audio_async(self, prompt_id: str, slots: Mapping[str, str] | None = None) -> bytes:
        """:meth:`audio` without blocking the event loop (a memory hit returns at once, the rest runs in a thread)."""
        prompt = self.catalogue.get(prompt_id)
        values = {name: str((slots or {})[name]) for name in prompt.slot_names if name in (slots or {})}
        hit = self.memory.get(self._memory_key(prompt_id, values))
        if hit is not None:
            return hit
        return await asyncio.to_thread(self.audio, prompt_id, slots)

    async def say_async(self, text: str) -> bytes:
        hit = self.memory.get(("t", text))
        if hit is not None:
            return hit
        return await asyncio.to_thread(self.say, text)

    def spoken_text(self, prompt_id: str, slots: Mapping[str, str] | None = None) -> str:
        """What the voice is asked to read: normalised Chinese (slot values normalised by their kind)."""
        prompt = self.catalogue.get(prompt_id)
        return normalize(self._fill_spoken(prompt, slots or {}))

    def voice_input(self, spoken: str) -> str:
        return to_pinyin(spoken) if self.text_input == "pinyin" else spoken

    def render_all(self, *, force: bool = False) -> list[Rendered]:
        """Render every prompt without slots into the disk cache (``force``: drop cached audio first)."""
        out: list[Rendered] = []
        for pid in self.catalogue.ids():
            prompt = self.catalogue.get(pid)
            if prompt.slots:
                continue
            with self._render_lock:
                if force:
                    self.memory.discard(self._memory_key(pid, {}))
                    for key in self._prompt_keys(prompt):
                        self.disk.delete(key)
                pcm, source = self._render_prompt(prompt, {})
                self.memory.put(self._memory_key(pid, {}), pcm)
            out.append(Rendered(pid, source, len(pcm) / 16000, len(pcm)))
        return out

    def check(self) -> str:
        """Fail fast at start-up: the voice exists and speaks Mandarin (VoiceError otherwise); returns its id."""
        return self.tts.check()

    def recording_path(self, prompt: Prompt) -> Path | None:
        return self.recordings_dir / prompt.audio if prompt.audio else None

    def close(self) -> None:
        self.tts.close()

    def __enter__(self) -> PromptService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- rendering ----------------------------------------------------------------------------------------------
    @staticmethod
    def _memory_key(prompt_id: str, values: Mapping[str, str]) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        return ("p", prompt_id, tuple(sorted(values.items())))

    def _fill_spoken(self, prompt: Prompt, values: Mapping[str, str]) -> str:
        kinds = dict(prompt.slots)
        return prompt.fill({name: normalize_slot(str(values[name]), kinds[name]) for name in values if name in kinds})

    def _tts_key(self, raw: str) -> str:
        return cache_key(
            raw, self.tts.identity, self.text_input, NORMALIZER_VERSION, PYPINYIN_VERSION, str(self.peak_dbfs),
            str(self.lead_silence_ms),
        )  # fmt: skip

    def _generator_key(self) -> str:
        return cache_key("hold_music", HOLD_MUSIC_VERSION, str(self.hold_music_seconds))

    def _prompt_keys(self, prompt: Prompt) -> list[str]:
        if prompt.generator:
            return [self._generator_key()]
        return [self._tts_key(prompt.text)]

    def _render_prompt(self, prompt: Prompt, values: Mapping[str, str]) -> tuple[bytes, Source]:
        path = self.recording_path(prompt)
        if path is not None:
            pcm = self._recording(prompt, path)
            if pcm is not None:
                return pcm, "recording"
        if prompt.generator == "hold_music":
            key = self._generator_key()
            cached = self.disk.get(key)
            if cached is not None:
                return cached, "cache"
            pcm = frame_pad(hold_music(self.hold_music_seconds))
            self.disk.put(key, pcm)
            return pcm, "generator"
        raw = prompt.fill(values)
        return self._speech(raw, normalize(self._fill_spoken(prompt, values)))

    def _recording(self, prompt: Prompt, path: Path) -> bytes | None:
        try:
            blob = path.read_bytes()
        except OSError as exc:
            log.error("prompt %s: recording %s unreadable (%s); using TTS instead", prompt.prompt_id, path, exc)
            return None
        key = cache_key("recording", hashlib.sha256(blob).hexdigest(), "pcm16-8k-v1")
        cached = self.disk.get(key)
        if cached is not None:
            return cached
        try:
            samples, rate = read_wav(blob)
        except AudioError as exc:
            log.error("prompt %s: recording %s is not usable WAV (%s); using TTS instead", prompt.prompt_id, path, exc)
            return None
        if samples.size == 0:
            log.error("prompt %s: recording %s is empty; using TTS instead", prompt.prompt_id, path)
            return None
        pcm = frame_pad(telephone(samples, rate))
        self.disk.put(key, pcm)
        return pcm

    def _speech(self, raw: str, spoken: str) -> tuple[bytes, Source]:
        key = self._tts_key(raw)
        cached = self.disk.get(key)
        if cached is not None:
            return cached, "cache"
        said = self.voice_input(spoken)
        if not said.strip(" ,;.?!，。？！、；："):
            raise TTSError(f"nothing speakable in {raw[:60]!r}")
        samples, rate = self.tts.synthesize(said)
        lead = b"\0" * (2 * TELEPHONE_RATE * self.lead_silence_ms // 1000)  # the first syllable is not clipped
        pcm = frame_pad(lead + telephone(samples, rate, peak_dbfs=self.peak_dbfs))
        self.disk.put(key, pcm)
        return pcm, "tts"


__all__ = ["PromptService", "Rendered", "UnknownPrompt", "default_cache_dir"]
