"""The audio format inside the application: 16-bit signed little-endian mono PCM at 8 kHz, in 20 ms frames."""

from __future__ import annotations

SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000  # 160
FRAME_BYTES = FRAME_SAMPLES * 2  # 320
