"""Codecs the media layer speaks on the wire (G.711 PCMU/PCMA), as small immutable descriptors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from audio import g711


class CodecError(ValueError):
    """An unknown or unsupported codec name."""


@dataclass(frozen=True)
class Codec:
    name: str  # SDP encoding name, upper case
    static_pt: int
    clock_rate: int
    silence: int  # byte value of a zero sample
    encode: Callable[[bytes], bytes]  # PCM16 LE → payload
    decode: Callable[[bytes], bytes]  # payload → PCM16 LE
    attenuate: bytes  # bytes.translate table, -6 dB

    def silence_frame(self, samples: int) -> bytes:
        return bytes((self.silence,)) * samples


PCMU = Codec("PCMU", 0, 8000, g711.ULAW_SILENCE, g711.ulaw_encode, g711.ulaw_decode, g711.ULAW_HALF)
PCMA = Codec("PCMA", 8, 8000, g711.ALAW_SILENCE, g711.alaw_encode, g711.alaw_decode, g711.ALAW_HALF)

_BY_NAME = {"PCMU": PCMU, "PCMA": PCMA}
_TRANSCODE = {("PCMU", "PCMA"): g711.ULAW_TO_ALAW, ("PCMA", "PCMU"): g711.ALAW_TO_ULAW}


def codec_by_name(name: str) -> Codec:
    try:
        return _BY_NAME[name.upper()]
    except KeyError:
        raise CodecError(f"unsupported codec {name!r} (supported: {', '.join(_BY_NAME)})") from None


def transcode_table(src: Codec, dst: Codec) -> bytes | None:
    """``bytes.translate`` table from ``src`` payload to ``dst`` payload, None when they are the same codec."""
    if src.name == dst.name:
        return None
    return _TRANSCODE[(src.name, dst.name)]
