"""The VADs on generated speech: clean and noisy lines, and the auto engine's switch."""

from __future__ import annotations

import pytest

from asr.synth import add_noise, espeak_available, frames, say, silence
from asr.vad import AutoVad, make_vad

pytestmark = pytest.mark.skipif(not espeak_available(), reason="espeak-ng not installed")


def voiced_share(engine: str, pcm: bytes) -> tuple[float, float]:
    """(share of speech frames flagged in the middle second, share of the leading second flagged)."""
    vad = make_vad(engine)
    flags = [vad.speech(f) for f in frames(pcm)]
    lead = flags[:50]
    speech = flags[50:100]
    return sum(speech) / len(speech), sum(lead) / len(lead)


def utterance() -> bytes:
    return silence(1.0) + say("하나 둘 셋 넷 다섯 여섯") + silence(1.0)


@pytest.mark.parametrize("engine", ["webrtc", "silero", "auto"])
def test_clean_speech_is_found_and_silence_is_not(engine: str) -> None:
    hit, lead = voiced_share(engine, utterance())
    assert hit > 0.6 and lead == 0.0


def test_webrtc_fails_in_noise_where_silero_and_auto_hold() -> None:
    speech = say("하나 둘 셋 넷 다섯 여섯")
    noisy = add_noise(utterance(), 5.0, seed=1, reference=speech)
    assert voiced_share("webrtc", noisy)[1] > 0.9  # noise called speech
    for engine in ("silero", "auto"):
        hit, lead = voiced_share(engine, noisy)
        assert hit > 0.5 and lead < 0.2, engine


def test_auto_switches_with_the_noise_floor() -> None:
    vad = AutoVad()
    for f in frames(utterance()):
        vad.speech(f)
    assert not vad.noisy
    for f in frames(add_noise(utterance(), 5.0, seed=2, reference=say("하나 둘 셋 넷 다섯 여섯"))):
        vad.speech(f)
    assert vad.noisy
    vad.reset()
    assert not vad.noisy


def test_odd_frames_do_not_crash() -> None:
    for engine in ("webrtc", "silero", "auto"):
        vad = make_vad(engine)
        assert vad.speech(b"") in (True, False)
        assert vad.speech(b"\x01") in (True, False)
    with pytest.raises(ValueError, match="unknown VAD"):
        make_vad("nope")
