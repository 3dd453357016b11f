"""WAV in any common format → telephone audio (PCM16 mono 8 kHz), resampled with soxr HQ; WAV out.

:func:`read_wav` parses RIFF/WAVE itself: integer PCM 8/16/24/32-bit, IEEE float 32/64, G.711 μ-law/A-law and
WAVE_FORMAT_EXTENSIBLE, any number of channels (mixed down to mono), any sample rate.
"""

from __future__ import annotations

import struct
from typing import Literal

import numpy as np
import numpy.typing as npt
import soxr

from audio.g711 import ALAW_DECODE, ULAW_DECODE, alaw_encode, ulaw_encode
from audio.pcm import SAMPLE_RATE

TELEPHONE_RATE = SAMPLE_RATE
Encoding = Literal["pcm16", "ulaw", "alaw"]
_FMT_PCM, _FMT_FLOAT, _FMT_ALAW, _FMT_ULAW, _FMT_EXT = 1, 3, 6, 7, 0xFFFE


class AudioError(ValueError):
    """Audio data that cannot be read or converted; the message says why."""


def _decode(data: bytes, fmt: int, bits: int, channels: int) -> npt.NDArray[np.float32]:
    width = bits // 8
    usable = len(data) - len(data) % (width * channels)
    data = data[:usable]
    if fmt == _FMT_PCM and bits == 8:
        x = (np.frombuffer(data, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif fmt == _FMT_PCM and bits == 16:
        x = np.frombuffer(data, "<i2").astype(np.float32) / 32768.0
    elif fmt == _FMT_PCM and bits == 24:
        b = np.frombuffer(data, np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = (np.where(v >= 1 << 23, v - (1 << 24), v)).astype(np.float32) / float(1 << 23)
    elif fmt == _FMT_PCM and bits == 32:
        x = (np.frombuffer(data, "<i4").astype(np.float64) / 2147483648.0).astype(np.float32)
    elif fmt == _FMT_FLOAT and bits in (32, 64):
        x = np.nan_to_num(np.frombuffer(data, "<f4" if bits == 32 else "<f8").astype(np.float32))
    elif fmt in (_FMT_ULAW, _FMT_ALAW) and bits == 8:
        table = ULAW_DECODE if fmt == _FMT_ULAW else ALAW_DECODE
        x = table[np.frombuffer(data, np.uint8)].astype(np.float32) / 32768.0
    else:
        raise AudioError(f"unsupported WAV sample format {fmt} with {bits} bits")
    if channels > 1:
        x = x.reshape(-1, channels).mean(axis=1)
    return np.clip(x, -1.0, 1.0).astype(np.float32)


def read_wav(blob: bytes) -> tuple[npt.NDArray[np.float32], int]:
    """Mono float32 samples in [-1, 1] and the sample rate of a RIFF/WAVE file's bytes."""
    if len(blob) < 12 or blob[:4] != b"RIFF" or blob[8:12] != b"WAVE":
        raise AudioError("not a RIFF/WAVE file")
    pos, fmt_info, data = 12, None, None
    while pos + 8 <= len(blob):
        cid, size = blob[pos : pos + 4], struct.unpack("<I", blob[pos + 4 : pos + 8])[0]
        body = blob[pos + 8 : pos + 8 + size]
        if cid == b"fmt ":
            if len(body) < 16:
                raise AudioError("WAV fmt chunk too short")
            fmt, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            if fmt == _FMT_EXT and len(body) >= 26:
                fmt = struct.unpack("<H", body[24:26])[0]
            fmt_info = (fmt, channels, rate, bits)
        elif cid == b"data":
            data = body
            if fmt_info is not None:
                break
        pos += 8 + size + (size & 1)
    if fmt_info is None or data is None:
        raise AudioError("WAV file without fmt or data chunk")
    fmt, channels, rate, bits = fmt_info
    if channels < 1 or rate < 1000 or rate > 384000 or bits not in (8, 16, 24, 32, 64):
        raise AudioError(f"implausible WAV header: {channels} channels, {rate} Hz, {bits} bits")
    return _decode(data, fmt, bits, channels), rate


def resample(samples: npt.NDArray[np.float32], rate: int, target: int = TELEPHONE_RATE) -> npt.NDArray[np.float32]:
    """soxr HQ resampling (band-limited: no aliasing of the 4-11 kHz speech energy into the phone band)."""
    if rate == target or samples.size == 0:
        return samples.astype(np.float32)
    out: npt.NDArray[np.float32] = soxr.resample(samples.astype(np.float32), rate, target, quality="HQ")
    return out


def to_pcm16(samples: npt.NDArray[np.float32], *, peak_dbfs: float | None = None) -> bytes:
    """Float samples → PCM16 little-endian; ``peak_dbfs`` scales the peak to that level (None: clip only)."""
    x = samples.astype(np.float64)
    if peak_dbfs is not None and x.size:
        peak = float(np.max(np.abs(x)))
        if peak > 1e-6:
            x = x * (10 ** (peak_dbfs / 20.0) / peak)
    return (np.clip(np.round(x * 32767.0), -32768, 32767).astype("<i2")).tobytes()


def telephone(samples: npt.NDArray[np.float32], rate: int, *, peak_dbfs: float | None = None) -> bytes:
    """Any-rate mono float samples → PCM16 8 kHz bytes ready for ``ivr.app.Call.play``."""
    return to_pcm16(resample(samples, rate), peak_dbfs=peak_dbfs)


def encode(pcm: bytes, encoding: Encoding) -> bytes:
    """PCM16 → the same PCM16, G.711 μ-law or A-law (audio.g711 tables)."""
    if encoding == "pcm16":
        return pcm
    if encoding == "ulaw":
        return ulaw_encode(pcm)
    if encoding == "alaw":
        return alaw_encode(pcm)
    raise AudioError(f"unknown encoding {encoding!r}")


def wav_bytes(audio: bytes, rate: int = TELEPHONE_RATE, encoding: Encoding = "pcm16") -> bytes:
    """A WAV file holding ``audio`` (PCM16, or already μ-law/A-law encoded bytes)."""
    fmt, bits, width = {"pcm16": (_FMT_PCM, 16, 2), "ulaw": (_FMT_ULAW, 8, 1), "alaw": (_FMT_ALAW, 8, 1)}[encoding]
    if fmt == _FMT_PCM:
        fmt_chunk = struct.pack("<HHIIHH", fmt, 1, rate, rate * width, width, bits)
    else:
        fmt_chunk = struct.pack("<HHIIHHH", fmt, 1, rate, rate * width, width, bits, 0)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk
    body += b"data" + struct.pack("<I", len(audio)) + audio + (b"\0" if len(audio) & 1 else b"")
    return b"RIFF" + struct.pack("<I", len(body)) + body


def duration(pcm: bytes, rate: int = TELEPHONE_RATE) -> float:
    return len(pcm) / 2 / rate
