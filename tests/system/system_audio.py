"""Audio checks for the system tests: find a rendered prompt inside what a real caller recorded.

Prompts are located by the normalised cross-correlation of 10 ms energy envelopes (robust to G.711 and to the
caller's jitter buffer adding or dropping a frame); at the best lag the decoded PCM is compared sample by sample
over a short stretch, and silent holes are counted frame by frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 8000
FRAME = RATE // 100  # 10 ms envelope frames
SILENCE_RMS = 300.0


def pcm16(data: bytes) -> np.ndarray:
    return np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.float64)


def read_live_wav(path: Path | None) -> np.ndarray:
    """Samples of a WAV file that baresip is still writing (its header sizes are not final yet)."""
    if path is None or not path.exists():
        return np.zeros(0)
    raw = path.read_bytes()
    at = raw.find(b"data", 12)
    return pcm16(raw[at + 8 :]) if at >= 0 else np.zeros(0)


def envelope(samples: np.ndarray) -> np.ndarray:
    n = len(samples) // FRAME
    if n == 0:
        return np.zeros(0)
    return np.sqrt(np.mean(samples[: n * FRAME].reshape(n, FRAME) ** 2, axis=1))


@dataclass(frozen=True)
class Match:
    start_s: float  # where the prompt starts in the recording
    envelope_corr: float  # Pearson correlation of the energy envelopes at that lag
    duration_s: float  # the prompt's length


def find_prompt(
    recording: np.ndarray, prompt: np.ndarray, *, after_s: float = 0.0, head_s: float | None = None
) -> Match:
    """Best match of ``prompt`` (or its first ``head_s`` seconds) in ``recording`` at or after ``after_s``."""
    template = prompt if head_s is None else prompt[: int(head_s * RATE)]
    t = envelope(template)
    offset = int(after_s * 100)
    x = envelope(recording)[offset:]
    m = len(t)
    if m == 0 or len(x) < m:
        return Match(-1.0, 0.0, len(prompt) / RATE)
    t0 = t - t.mean()
    numerator = np.correlate(x, t0, mode="valid")
    c1 = np.concatenate([[0.0], np.cumsum(x)])
    c2 = np.concatenate([[0.0], np.cumsum(x * x)])
    s1 = c1[m:] - c1[:-m]
    s2 = c2[m:] - c2[:-m]
    var = np.maximum(s2 - s1 * s1 / m, 1e-9)
    corr = numerator / (np.sqrt(var) * np.linalg.norm(t0) + 1e-9)
    best = int(np.argmax(corr))
    return Match((offset + best) / 100, float(corr[best]), len(prompt) / RATE)


def pcm_corr(recording: np.ndarray, prompt: np.ndarray, start_s: float, seconds: float = 1.5) -> float:
    """Peak normalised correlation of the decoded PCM against the prompt's loudest ``seconds`` (±30 ms search)."""
    env = envelope(prompt)
    width = int(seconds * 100)
    if len(env) <= width:
        first = 0
    else:
        energy = np.convolve(env, np.ones(width), mode="valid")
        first = int(np.argmax(energy))
    a = prompt[first * FRAME : first * FRAME + int(seconds * RATE)]
    best = 0.0
    base = int(start_s * RATE) + first * FRAME
    for lag in range(-240, 241):
        lo = base + lag
        if lo < 0 or lo + len(a) > len(recording):
            continue
        b = recording[lo : lo + len(a)]
        denom = np.linalg.norm(a) * np.linalg.norm(b)
        if denom > 0:
            best = max(best, float(np.dot(a, b) / denom))
    return best


def longest_hole_ms(samples: np.ndarray, silence_rms: float = SILENCE_RMS) -> int:
    """Longest run of silent 10 ms frames between the first and last loud frame."""
    env = envelope(samples)
    loud = np.flatnonzero(env > silence_rms)
    if len(loud) == 0:
        return 0
    quiet = env[loud[0] : loud[-1] + 1] <= silence_rms
    longest = run = 0
    for q in quiet:
        run = run + 1 if q else 0
        longest = max(longest, run)
    return longest * 10


def trim_tail(samples: np.ndarray, silence_rms: float = SILENCE_RMS) -> np.ndarray:
    """``samples`` without the silence after the last loud 10 ms frame (a caller may hang up inside it)."""
    loud = np.flatnonzero(envelope(samples) > silence_rms)
    return samples[: (int(loud[-1]) + 1) * FRAME] if len(loud) else samples[:0]


def segment(recording: np.ndarray, match: Match) -> np.ndarray:
    lo = int(match.start_s * RATE)
    return recording[lo : lo + int(match.duration_s * RATE)]
