"""Generated test speech: espeak-ng (any voice, ``ko`` for the Korean test model) rendered to PCM16 8 kHz.

Used by tests and benchmarks (``bench/asr_*.py``); not on the call path.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from functools import lru_cache

import numpy as np
import soxr

RATE = 8000


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


@lru_cache(maxsize=256)
def say(text: str, voice: str = "ko", speed: int = 150) -> bytes:
    """PCM16 8 kHz mono of ``text`` spoken by espeak-ng (cached)."""
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text], capture_output=True, check=True, timeout=30
    ).stdout
    with wave.open(io.BytesIO(wav)) as wf:
        rate = wf.getframerate()
        raw = wf.readframes(wf.getnframes())
    samples = np.frombuffer(raw, dtype=np.int16).astype(np.float32)
    out = soxr.resample(samples, rate, RATE)
    return bytes(np.clip(out, -32768, 32767).astype(np.int16).tobytes())


def silence(seconds: float) -> bytes:
    return bytes(int(seconds * RATE) * 2)


def noise(seconds: float, level: float, seed: int = 0) -> bytes:
    """White noise with RMS ``level`` (in PCM16 units)."""
    rng = np.random.default_rng(seed)
    return bytes(np.clip(rng.standard_normal(int(seconds * RATE)) * level, -32768, 32767).astype(np.int16).tobytes())


def rms(pcm: bytes) -> float:
    a = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    return float(np.sqrt(np.mean(a * a))) if len(a) else 0.0


def add_noise(pcm: bytes, snr_db: float, seed: int = 0, reference: bytes | None = None) -> bytes:
    """``pcm`` plus white noise at ``snr_db`` below the RMS of ``reference`` (default: ``pcm``'s loud part)."""
    a = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    ref = np.frombuffer(reference, dtype=np.int16).astype(np.float64) if reference is not None else a[np.abs(a) > 300]
    level = float(np.sqrt(np.mean(ref * ref))) if len(ref) else 1000.0
    rng = np.random.default_rng(seed)
    noisy = a + rng.standard_normal(len(a)) * level / (10 ** (snr_db / 20))
    return bytes(np.clip(noisy, -32768, 32767).astype(np.int16).tobytes())


def frames(pcm: bytes, frame_bytes: int = 320) -> list[bytes]:
    return [pcm[i : i + frame_bytes] for i in range(0, len(pcm) - frame_bytes + 1, frame_bytes)]
