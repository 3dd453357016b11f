"""G.711 tables against audioop (the reference Sun implementation) for every input."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from audio import g711
from ivr.media.codecs import PCMA, PCMU, CodecError, codec_by_name, transcode_table

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    audioop = pytest.importorskip("audioop")

ALL_SAMPLES = np.arange(-32768, 32768, dtype="<i2").tobytes()
ALL_BYTES = bytes(range(256))


def test_ulaw_encode_all_65536_inputs() -> None:
    assert g711.ulaw_encode(ALL_SAMPLES) == audioop.lin2ulaw(ALL_SAMPLES, 2)


def test_alaw_encode_all_65536_inputs() -> None:
    assert g711.alaw_encode(ALL_SAMPLES) == audioop.lin2alaw(ALL_SAMPLES, 2)


def test_decode_all_256_codes() -> None:
    assert g711.ulaw_decode(ALL_BYTES) == audioop.ulaw2lin(ALL_BYTES, 2)
    assert g711.alaw_decode(ALL_BYTES) == audioop.alaw2lin(ALL_BYTES, 2)


def test_transcode_tables_equal_decode_then_encode() -> None:
    assert ALL_BYTES.translate(g711.ULAW_TO_ALAW) == audioop.lin2alaw(audioop.ulaw2lin(ALL_BYTES, 2), 2)
    assert ALL_BYTES.translate(g711.ALAW_TO_ULAW) == audioop.lin2ulaw(audioop.alaw2lin(ALL_BYTES, 2), 2)


def test_attenuation_halves_the_amplitude() -> None:
    for codec in (PCMU, PCMA):
        loud = codec.encode(np.full(160, 16000, dtype="<i2").tobytes())
        quiet = np.frombuffer(codec.decode(loud.translate(codec.attenuate)), dtype="<i2")
        assert np.all(np.abs(quiet - 8000) < 300)


def test_silence_and_odd_length() -> None:
    assert g711.ulaw_encode(bytes(320)) == bytes([0xFF]) * 160
    assert g711.alaw_encode(bytes(320)) == bytes([0xD5]) * 160
    assert g711.ulaw_encode(b"\x00\x00\x01") == b"\xff"  # trailing odd byte ignored, never raises


def test_codec_lookup() -> None:
    assert codec_by_name("pcmu") is PCMU
    assert transcode_table(PCMU, PCMU) is None
    with pytest.raises(CodecError):
        codec_by_name("opus")
