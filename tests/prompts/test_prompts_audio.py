"""Telephone audio: WAV in any format (made by sox, an independent encoder), soxr resampling, G.711, hold music."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from audio.g711 import alaw_decode, ulaw_decode
from prompts.audio import AudioError, encode, read_wav, resample, telephone, to_pcm16, wav_bytes
from prompts.holdmusic import hold_music

SOX = shutil.which("sox")


def _tone(freq: float, rate: int, seconds: float = 1.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x.astype(np.float64)))))


def test_soxr_keeps_the_phone_band_and_does_not_alias() -> None:
    inband = resample(_tone(1000, 22050), 22050)
    assert inband.size == 8000
    assert _rms(inband[400:-400]) == pytest.approx(0.5 / np.sqrt(2), rel=0.02)
    above = resample(_tone(6000, 22050), 22050)  # naive decimation would fold this to 2 kHz
    assert _rms(above[400:-400]) < 0.001


@pytest.mark.skipif(SOX is None, reason="sox not installed")
@pytest.mark.parametrize(
    "sox_args",
    [
        ["-r", "44100", "-c", "2", "-b", "24"],
        ["-r", "48000", "-c", "1", "-e", "floating-point", "-b", "32"],
        ["-r", "16000", "-c", "1", "-e", "unsigned-integer", "-b", "8"],
        ["-r", "8000", "-c", "1", "-e", "mu-law"],
        ["-r", "8000", "-c", "1", "-e", "a-law"],
        ["-r", "11025", "-c", "2", "-b", "32"],
    ],
)
def test_recordings_in_any_format_become_8k_pcm16(tmp_path: Path, sox_args: list[str]) -> None:
    src = tmp_path / "src.wav"
    src.write_bytes(wav_bytes(to_pcm16(_tone(440, 22050, 0.5)), 22050))
    out = tmp_path / "out.wav"
    assert SOX is not None
    subprocess.run([SOX, str(src), *sox_args, str(out)], check=True, capture_output=True)
    samples, rate = read_wav(out.read_bytes())
    pcm = telephone(samples, rate)
    x = np.frombuffer(pcm, "<i2").astype(np.float64) / 32768
    assert len(pcm) == pytest.approx(2 * 4000, abs=8)
    assert _rms(x[200:-200]) == pytest.approx(0.5 / np.sqrt(2), rel=0.05)
    spectrum = np.abs(np.fft.rfft(x[200:3800]))
    assert abs(np.argmax(spectrum) * 8000 / 3600 - 440) < 5


def test_bad_wav_is_a_clear_error() -> None:
    with pytest.raises(AudioError, match="not a RIFF"):
        read_wav(b"hello")
    with pytest.raises(AudioError, match="without fmt"):
        read_wav(b"RIFF\x04\x00\x00\x00WAVE")
    bad = bytearray(wav_bytes(b"\0\0" * 10))
    bad[20:22] = (85).to_bytes(2, "little")  # MP3-in-WAV
    with pytest.raises(AudioError, match="unsupported"):
        read_wav(bytes(bad))


def test_g711_encodings_round_trip() -> None:
    pcm = to_pcm16(_tone(800, 8000, 0.2))
    x = np.frombuffer(pcm, "<i2").astype(np.float64)
    for enc, dec in (("ulaw", ulaw_decode), ("alaw", alaw_decode)):
        coded = encode(pcm, enc)  # type: ignore[arg-type]
        assert len(coded) == len(pcm) // 2
        y = np.frombuffer(dec(coded), "<i2").astype(np.float64)
        snr = 10 * np.log10(np.sum(x**2) / np.sum((x - y) ** 2))
        assert snr > 30
        samples, rate = read_wav(wav_bytes(coded, 8000, enc))  # type: ignore[arg-type]
        assert rate == 8000 and samples.size == len(coded)


def test_hold_music_is_quiet_tonal_deterministic_and_free_of_dtmf_columns() -> None:
    pcm = hold_music(12.0)
    assert pcm == hold_music(12.0)
    x = np.frombuffer(pcm, "<i2").astype(np.float64) / 32768
    assert x.size == 96000
    assert np.max(np.abs(x)) == pytest.approx(10 ** (-14 / 20), rel=0.01)
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(x.size, 1 / 8000)
    assert spectrum[freqs > 1180].sum() < 1e-3 * spectrum.sum()
    assert spectrum[(freqs > 350) & (freqs < 700)].sum() > 0.8 * spectrum.sum()
