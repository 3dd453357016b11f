"""A gentle, non-speech hold melody synthesised with numpy (used for ``hold.music`` when no recording is given).

Single notes of a C-major pentatonic tune (G4–E5) with a soft second harmonic kept below 1150 Hz, slow attack
and long release, at -14 dBFS peak, rendered straight at 8 kHz.  Nothing sounds in the DTMF column band
(1209-1633 Hz), so the hold tune can never look like a key press to a detector.  Deterministic: same bytes every time.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

HOLD_MUSIC_VERSION = "1"

_HARMONIC_LIMIT = 1150.0  # no energy in the DTMF column band (1209-1633 Hz)
_NOTES = {"G4": 392.00, "A4": 440.00, "C5": 523.25, "D5": 587.33, "E5": 659.25, "-": 0.0}
# (note, beats) – a calm 16-bar phrase in 3/4 that loops without a seam
_TUNE = [
    ("E5", 2), ("D5", 1), ("C5", 2), ("A4", 1), ("G4", 3), ("A4", 2), ("C5", 1), ("D5", 3),
    ("E5", 2), ("D5", 1), ("C5", 2), ("D5", 1), ("A4", 3), ("-", 3),
    ("C5", 2), ("D5", 1), ("E5", 2), ("D5", 1), ("C5", 3), ("A4", 2), ("G4", 1), ("A4", 3),
    ("C5", 2), ("A4", 1), ("G4", 2), ("A4", 1), ("C5", 3), ("-", 3),
]  # fmt: skip


def _note(freq: float, seconds: float, rate: int) -> npt.NDArray[np.float64]:
    n = int(seconds * rate)
    t = np.arange(n) / rate
    if freq <= 0:
        return np.zeros(n)
    tone = np.sin(2 * np.pi * freq * t)
    if 2 * freq < _HARMONIC_LIMIT:
        tone = tone + 0.2 * np.sin(2 * np.pi * 2 * freq * t)
    attack = np.minimum(1.0, t / 0.06)
    release = np.exp(-t / max(seconds * 0.55, 0.05))
    tail = np.minimum(1.0, (seconds - t) / 0.04)  # no click at the note's end
    return np.asarray(tone * attack * release * np.clip(tail, 0.0, 1.0))


def hold_music(seconds: float = 30.0, rate: int = 8000, *, bpm: float = 84.0) -> bytes:
    """PCM16 mono at ``rate``: the tune repeated to ``seconds`` (at least one bar), faded in and out."""
    beat = 60.0 / bpm
    phrase = np.concatenate([_note(_NOTES[name], beats * beat, rate) for name, beats in _TUNE])
    total = max(int(seconds * rate), int(3 * beat * rate))
    reps = -(-total // phrase.size)
    x = np.tile(phrase, reps)[:total]
    fade = min(int(0.5 * rate), total // 4)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        x[:fade] *= ramp
        x[-fade:] *= ramp[::-1]
    peak = float(np.max(np.abs(x))) or 1.0
    x = x / peak * 10 ** (-14 / 20)
    return (np.round(x * 32767).astype("<i2")).tobytes()
