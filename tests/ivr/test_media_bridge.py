"""MediaBridge between two real sessions over UDP loopback: audio both ways (PCMU<->PCMA transcoded), DTMF
passed through, unbridge restores normal playback.

    phone X --PCMU-- [leg A | bridge | leg B] --PCMA-- phone Y
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import numpy as np
import pytest

from ivr.clock import VirtualClock
from ivr.media.bridge import MediaBridge
from ivr.media.pacer import Pacer
from ivr.media.session import MediaError, MediaSession

PORTS = (43000, 43999)


def tone(freq: float, seconds: float) -> bytes:
    t = np.arange(int(8000 * seconds)) / 8000
    return (8000 * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


def rms(frame: bytes) -> float:
    return float(np.sqrt(np.mean(np.frombuffer(frame, "<i2").astype(np.float64) ** 2)))


def loud_frames(frames: list[bytes]) -> list[bytes]:
    return [f for f in frames if rms(f) > 500]


def dominant_hz(frames: list[bytes]) -> float:
    x = np.frombuffer(b"".join(frames), "<i2").astype(np.float64)
    return float(np.argmax(np.abs(np.fft.rfft(x * np.hanning(len(x))))) * 8000 / len(x))


class Rig:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.clock = VirtualClock(start=1000.0)
        self.pacer = Pacer(self.clock)
        self.x, self.a = self.connect("PCMU", 0)
        self.y, self.b = self.connect("PCMA", 8)
        self.heard_x: list[bytes] = []
        self.heard_y: list[bytes] = []
        self.x.set_audio_sink(self.heard_x.append)
        self.y.set_audio_sink(self.heard_y.append)

    def new(self) -> MediaSession:
        s = MediaSession(local_host="127.0.0.1", port_range=PORTS, pacer=self.pacer, clock=self.clock, loop=self.loop)
        s.open()
        return s

    def connect(self, codec: str, pt: int) -> tuple[MediaSession, MediaSession]:
        phone, leg = self.new(), self.new()
        phone.set_remote("127.0.0.1", leg.port, payload_type=pt, codec=codec, dtmf_payload_type=101)
        leg.set_remote("127.0.0.1", phone.port, payload_type=pt, codec=codec, dtmf_payload_type=101)
        return phone, leg

    def close(self) -> None:
        for s in (self.x, self.a, self.b, self.y):
            s.close()
        self.loop.close()


@pytest.fixture
def rig() -> Iterator[Rig]:
    r = Rig()
    yield r
    r.close()


def test_bridge_carries_audio_both_ways_with_transcoding(rig: Rig) -> None:
    bridge = MediaBridge(rig.a, rig.b)
    assert bridge.active
    rig.x.play(tone(440, 1.0))  # the caller talks ...
    rig.y.play(tone(1200, 1.0))  # ... and the agent talks
    rig.clock.advance(1.5)
    to_y, to_x = loud_frames(rig.heard_y), loud_frames(rig.heard_x)
    assert len(to_y) == 50 and len(to_x) == 50  # every frame relayed, no gap, nothing duplicated
    assert dominant_hz(to_y) == pytest.approx(440, abs=5)
    assert dominant_hz(to_x) == pytest.approx(1200, abs=5)
    assert rig.a.stats()["lost"] == 0 and rig.b.stats()["lost"] == 0


def test_each_leg_keeps_its_own_sink_while_bridged(rig: Rig) -> None:
    recorded: list[bytes] = []
    rig.a.set_audio_sink(recorded.append)  # e.g. recording / ASR on the caller leg
    MediaBridge(rig.a, rig.b)
    rig.x.play(tone(600, 0.4))
    rig.clock.advance(0.8)
    assert len(loud_frames(recorded)) == 20 and len(loud_frames(rig.heard_y)) == 20


def test_dtmf_is_passed_through(rig: Rig) -> None:
    MediaBridge(rig.a, rig.b)
    at_leg: list[str] = []
    at_agent: list[tuple[str, int]] = []
    rig.a.set_dtmf_handler(lambda d, ms: at_leg.append(d))
    rig.y.set_dtmf_handler(lambda d, ms: at_agent.append((d, ms)))
    rig.x.send_dtmf("5", 100)
    rig.x.send_dtmf("*", 100)
    rig.clock.advance(1.0)
    assert at_leg == ["5", "*"]  # the engine still sees the caller's keys
    assert at_agent == [("5", 100), ("*", 100)]  # and the agent's phone gets them as RFC 4733


def test_playback_takes_precedence_then_bridge_resumes(rig: Rig) -> None:
    MediaBridge(rig.a, rig.b)
    whisper = rig.b.play(tone(2000, 0.2))  # a whisper to the agent
    rig.x.play(tone(440, 1.0))
    rig.clock.advance(1.5)
    assert whisper.done.result() is True
    heard = loud_frames(rig.heard_y)
    assert dominant_hz(heard[:10]) == pytest.approx(2000, abs=10)
    assert dominant_hz(heard[15:]) == pytest.approx(440, abs=5)


def test_unbridge_restores_normal_mode(rig: Rig) -> None:
    bridge = MediaBridge(rig.a, rig.b)
    rig.clock.advance(0.2)
    bridge.unbridge()
    bridge.unbridge()  # idempotent
    assert not bridge.active
    rig.x.play(tone(440, 0.5))
    rig.clock.advance(1.0)
    assert loud_frames(rig.heard_y) == []  # no longer relayed
    done = rig.b.play(tone(800, 0.2)).done
    rig.clock.advance(0.5)
    assert done.result() is True
    assert dominant_hz(loud_frames(rig.heard_y)) == pytest.approx(800, abs=10)


def test_bridge_errors_and_close_unbridges(rig: Rig) -> None:
    with pytest.raises(MediaError):
        MediaBridge(rig.a, rig.a)
    bridge = MediaBridge(rig.a, rig.b)
    with pytest.raises(MediaError, match="already bridged"):
        MediaBridge(rig.a, rig.x)
    rig.a.close()
    assert not bridge.active and rig.b.bridge_peer is None
    rig.y.play(tone(500, 0.2))
    rig.clock.advance(0.5)  # leg B alone still runs
    assert rig.b.stats()["received"] > 0
