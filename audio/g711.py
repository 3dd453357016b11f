"""G.711 μ-law (PCMU) and A-law (PCMA) with lookup tables.

Encoding indexes a 65536-entry table with the 16-bit sample (viewed as unsigned), decoding a 256-entry table,
both vectorised with numpy.  Bit-exact with the reference (Sun) implementation that ``audioop`` also uses.
Byte-to-byte operations (PCMU<->PCMA transcoding, attenuation for loss concealment) are ``bytes.translate``
tables, so they cost no decode/encode round trip.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_SEG_ULAW_END = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)
_SEG_ALAW_END = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], dtype=np.int32)


def _build_ulaw_encode() -> npt.NDArray[np.uint8]:
    lin = np.arange(65536, dtype=np.int32)
    lin = np.where(lin >= 32768, lin - 65536, lin) >> 2  # 14-bit
    mask = np.where(lin < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(lin), 8159) + (0x84 >> 2)
    seg = np.searchsorted(_SEG_ULAW_END, mag, side="left")
    shifted = (mag >> np.minimum(seg + 1, 31)) & 0xF
    uval = np.where(seg >= 8, 0x7F, (np.minimum(seg, 7) << 4) | shifted)
    return ((uval ^ mask) & 0xFF).astype(np.uint8)


def _build_alaw_encode() -> npt.NDArray[np.uint8]:
    lin = np.arange(65536, dtype=np.int32)
    lin = np.where(lin >= 32768, lin - 65536, lin) >> 3  # 13-bit
    mask = np.where(lin >= 0, 0xD5, 0x55)
    mag = np.where(lin >= 0, lin, -lin - 1)
    seg = np.searchsorted(_SEG_ALAW_END, mag, side="left")
    quant = np.where(seg < 2, (mag >> 1) & 0xF, (mag >> np.minimum(seg, 31)) & 0xF)
    aval = np.where(seg >= 8, 0x7F, (np.minimum(seg, 7) << 4) | quant)
    return ((aval ^ mask) & 0xFF).astype(np.uint8)


def _build_ulaw_decode() -> npt.NDArray[np.int16]:
    u = (~np.arange(256, dtype=np.int32)) & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, 0x84 - t, t - 0x84).astype(np.int16)


def _build_alaw_decode() -> npt.NDArray[np.int16]:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    seg = (a & 0x70) >> 4
    t = (a & 0x0F) << 4
    t = np.where(seg == 0, t + 8, np.where(seg == 1, t + 0x108, (t + 0x108) << np.maximum(seg - 1, 0)))
    return np.where(a & 0x80, t, -t).astype(np.int16)


ULAW_ENCODE = _build_ulaw_encode()
ALAW_ENCODE = _build_alaw_encode()
ULAW_DECODE = _build_ulaw_decode()
ALAW_DECODE = _build_alaw_decode()

ULAW_SILENCE = int(ULAW_ENCODE[0])  # 0xFF
ALAW_SILENCE = int(ALAW_ENCODE[0])  # 0xD5


def _pcm_view(pcm: bytes | bytearray | memoryview) -> npt.NDArray[np.uint16]:
    if len(pcm) % 2:
        pcm = bytes(pcm[:-1])
    return np.frombuffer(pcm, dtype="<u2")


def ulaw_encode(pcm: bytes | bytearray | memoryview) -> bytes:
    """PCM16 little-endian → μ-law bytes (an odd trailing byte is ignored)."""
    return ULAW_ENCODE[_pcm_view(pcm)].tobytes()


def alaw_encode(pcm: bytes | bytearray | memoryview) -> bytes:
    """PCM16 little-endian → A-law bytes (an odd trailing byte is ignored)."""
    return ALAW_ENCODE[_pcm_view(pcm)].tobytes()


def ulaw_decode(data: bytes | bytearray | memoryview) -> bytes:
    """μ-law bytes → PCM16 little-endian."""
    return ULAW_DECODE[np.frombuffer(data, dtype=np.uint8)].astype("<i2", copy=False).tobytes()


def alaw_decode(data: bytes | bytearray | memoryview) -> bytes:
    """A-law bytes → PCM16 little-endian."""
    return ALAW_DECODE[np.frombuffer(data, dtype=np.uint8)].astype("<i2", copy=False).tobytes()


def _translate_table(decode: npt.NDArray[np.int16], encode: npt.NDArray[np.uint8], gain: float) -> bytes:
    lin = np.clip(np.round(decode.astype(np.float64) * gain), -32768, 32767).astype(np.int16)
    return encode[lin.view(np.uint16)].tobytes()


ULAW_TO_ALAW = _translate_table(ULAW_DECODE, ALAW_ENCODE, 1.0)
ALAW_TO_ULAW = _translate_table(ALAW_DECODE, ULAW_ENCODE, 1.0)
ULAW_HALF = _translate_table(ULAW_DECODE, ULAW_ENCODE, 0.5)  # -6 dB, for loss concealment
ALAW_HALF = _translate_table(ALAW_DECODE, ALAW_ENCODE, 0.5)
