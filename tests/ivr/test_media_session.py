"""MediaSession over real UDP on loopback: tone and DTMF between two sessions, RTP stream properties,
symmetric RTP, hold, playback control, bad input.  Ticks run on virtual time (deterministic under CPU load);
one test runs on the real asyncio loop clock."""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.clock import LoopClock, VirtualClock
from ivr.media import dtmf, rtcp, rtp
from ivr.media.codecs import PCMA, PCMU
from ivr.media.pacer import Pacer
from ivr.media.session import MediaError, MediaSession
from tests.ivr.pcap import CAPTURES, read_pcap_udp_payloads

PORTS = (41000, 41999)
Env = tuple[VirtualClock, Pacer, asyncio.AbstractEventLoop]


def tone(freq: float, seconds: float, amplitude: int = 8000) -> bytes:
    t = np.arange(int(8000 * seconds)) / 8000
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


def dominant_hz(pcm: bytes) -> float:
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * 8000 / len(x))


def voiced_run(frames: list[bytes], threshold: float = 500.0) -> list[bytes]:
    """The frames from the first to the last loud one; asserts there is no quiet frame (gap) in between."""
    loud = [float(np.sqrt(np.mean(np.frombuffer(f, "<i2").astype(np.float64) ** 2))) > threshold for f in frames]
    first, last = loud.index(True), len(loud) - 1 - loud[::-1].index(True)
    assert all(loud[first : last + 1]), "gap inside the received tone"
    return frames[first : last + 1]


@pytest.fixture
def env() -> Iterator[Env]:
    loop = asyncio.new_event_loop()
    clock = VirtualClock(start=1000.0)
    yield clock, Pacer(clock), loop
    loop.close()


def session(env: Env) -> MediaSession:
    clock, pacer, loop = env
    s = MediaSession(local_host="127.0.0.1", port_range=PORTS, pacer=pacer, clock=clock, loop=loop)
    s.open()
    return s


def pair(env: Env, codec: str = "PCMU") -> tuple[MediaSession, MediaSession]:
    a, b = session(env), session(env)
    pt = 0 if codec == "PCMU" else 8
    a.set_remote("127.0.0.1", b.port, payload_type=pt, codec=codec, dtmf_payload_type=101)
    b.set_remote("127.0.0.1", a.port, payload_type=pt, codec=codec, dtmf_payload_type=101)
    return a, b


class Sink:
    """A plain UDP socket standing in for a remote phone; collects the RTP it gets."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]

    def packets(self) -> list[rtp.RtpPacket]:
        out = []
        while True:
            try:
                out.append(rtp.decode(self.sock.recv(2048)))
            except BlockingIOError:
                return out

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize("codec", ["PCMU", "PCMA"])
def test_two_sessions_exchange_tones_without_gaps(env: Env, codec: str) -> None:
    clock = env[0]
    a, b = pair(env, codec)
    heard_a: list[bytes] = []
    heard_b: list[bytes] = []
    a.set_audio_sink(heard_a.append)
    b.set_audio_sink(heard_b.append)
    pa = a.play(tone(1000, 2.0))
    pb = b.play(tone(440, 1.0))
    clock.advance(3.0)
    assert pa.done.result() is True and pb.done.result() is True
    run_b = voiced_run(heard_b)
    run_a = voiced_run(heard_a)
    assert all(len(f) == 320 for f in heard_a + heard_b)
    assert len(run_b) == 100 and len(run_a) == 50  # every 20 ms frame of the tone arrived, none extra
    assert dominant_hz(b"".join(run_b)) == pytest.approx(1000, abs=5)
    assert dominant_hz(b"".join(run_a)) == pytest.approx(440, abs=5)
    for s in (a, b):
        st = s.stats()
        assert st["lost"] == 0 and st["late"] == 0 and st["bad_packets"] == 0 and st["send_errors"] == 0
        assert st["sent"] == 151 and st["playbacks_completed"] == 1
    a.close()
    b.close()


def test_rtp_stream_properties(env: Env) -> None:
    clock = env[0]
    remote = Sink()
    s = session(env)
    s.set_remote("127.0.0.1", remote.port, payload_type=8, codec="PCMA", dtmf_payload_type=None)
    clock.advance(0.2)  # silence first
    s.play(tone(500, 0.1))
    clock.advance(0.3)
    packets = remote.packets()
    assert len(packets) == 26
    assert {p.ssrc for p in packets} == {s.ssrc} and {p.payload_type for p in packets} == {8}
    for prev, cur in itertools.pairwise(packets):
        assert rtp.seq_delta(cur.sequence, prev.sequence) == 1
        assert rtp.ts_delta(cur.timestamp, prev.timestamp) == 160  # also across silence
    silence = PCMU.silence_frame(160).replace(b"\xff", b"\xd5")
    kinds = ["S" if p.payload == silence else "T" for p in packets]
    assert "".join(kinds) == "S" * 11 + "T" * 5 + "S" * 10
    assert [i for i, p in enumerate(packets) if p.marker] == [0, 11]  # stream start and the talkspurt
    s.close()
    remote.close()


def test_ssrc_sequence_and_timestamp_are_random() -> None:
    clock = VirtualClock(start=1000.0)
    pacer = Pacer(clock)
    sessions = [MediaSession(local_host="127.0.0.1", port_range=PORTS, pacer=pacer, clock=clock) for _ in range(8)]
    assert len({s.ssrc for s in sessions}) == 8
    assert len({s._seq for s in sessions}) > 1 and len({s._ts0 for s in sessions}) > 1


def test_dtmf_between_sessions_and_on_the_wire(env: Env) -> None:
    clock = env[0]
    a, b = pair(env)
    got: list[tuple[str, int]] = []
    b.set_dtmf_handler(lambda d, ms: got.append((d, ms)))
    a.send_dtmf("7", 100)
    a.send_dtmf("#", 60)
    clock.advance(0.6)
    assert got == [("7", 100), ("#", 60)]
    assert b.stats()["dtmf_received"] == 2 and a.stats()["dtmf_sent"] == 2
    b.close()  # (else a would latch back to b's RTP)
    clock.advance(0.1)
    remote = Sink()
    a.set_remote("127.0.0.1", remote.port, payload_type=0, codec="PCMU", dtmf_payload_type=101)
    a.send_dtmf("4", 80)
    clock.advance(0.3)
    events = [p for p in remote.packets() if p.payload_type == 101]
    decoded = [dtmf.decode_event(p.payload) for p in events]
    assert [e.digit for e in decoded] == ["4"] * 6
    assert [e.end for e in decoded] == [False] * 3 + [True] * 3
    assert len({p.timestamp for p in events}) == 1 and [p.marker for p in events] == [True] + [False] * 5
    a.close()
    remote.close()


def test_symmetric_rtp_latches_to_the_real_source(env: Env) -> None:
    clock = env[0]
    s = session(env)
    nat = Sink()  # the caller's real address (behind NAT), not the one in its SDP
    s.set_remote("127.0.0.1", 9, payload_type=0, codec="PCMU", dtmf_payload_type=None)
    clock.advance(0.1)
    assert nat.packets() == []
    nat.sock.sendto(rtp.encode(rtp.RtpPacket(0, 1, 160, 77, PCMU.silence_frame(160))), ("127.0.0.1", s.port))
    clock.advance(0.1)
    assert len(nat.packets()) >= 4
    assert s.remote == ("127.0.0.1", nat.port) and s.stats()["latched"] == 1
    assert s.last_rtp_at is not None and clock.now() - s.last_rtp_at < 0.1
    s.close()
    nat.close()


def test_hold_stops_sending_and_resume_keeps_the_timeline(env: Env) -> None:
    clock = env[0]
    remote = Sink()
    s = session(env)
    s.set_remote("127.0.0.1", remote.port, payload_type=0, codec="PCMU", dtmf_payload_type=None)
    clock.advance(0.1)
    before = remote.packets()
    s.set_direction("recvonly")
    clock.advance(0.2)
    assert remote.packets() == []
    s.set_direction("sendrecv")
    clock.advance(0.05)
    after = remote.packets()
    assert after[0].marker and rtp.seq_delta(after[0].sequence, before[-1].sequence) == 1
    assert rtp.ts_delta(after[0].timestamp, before[-1].timestamp) == 160 * 11  # time went on during hold
    s.set_remote("0.0.0.0", remote.port, payload_type=0, codec="PCMU", dtmf_payload_type=None)  # RFC 2543 hold
    clock.advance(0.1)
    assert remote.packets() == [] and s.remote is None
    with pytest.raises(ValueError):
        s.set_direction("sideways")  # type: ignore[arg-type]
    s.close()
    remote.close()


def test_stop_playback_interruptible_and_forced(env: Env) -> None:
    clock = env[0]
    a, b = pair(env)
    p1 = a.play(tone(300, 1.0), interruptible=False)
    p2 = a.play(tone(400, 1.0))
    p3 = a.play(tone(500, 1.0), interruptible=False)
    clock.advance(0.1)
    a.stop_playback()
    clock.advance(0.02)
    assert p2.done.result() is False and not p1.done.done() and not p3.done.done()
    a.stop_playback(force=True)
    assert p1.done.result() is False and p3.done.result() is False and not a.playing
    p4 = a.play(b"")
    clock.advance(0.04)
    assert p4.done.result() is True
    a.close()
    p5 = a.play(tone(300, 0.1))
    assert p5.done.result() is False
    b.close()


def test_garbage_is_counted_and_the_call_goes_on(env: Env) -> None:
    clock = env[0]
    a, b = pair(env)
    heard: list[bytes] = []
    b.set_audio_sink(heard.append)
    a.play(tone(700, 0.5))
    junk = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for data in (b"", b"\x00" * 5, b"hello world, not rtp", b"\x80" * 11, b"\xbf" + bytes(20), b"\x80\x65" + bytes(10),
                 b"\x80\xc8\x00\x10junk"):  # fmt: skip
        junk.sendto(data, ("127.0.0.1", b.port))
    junk.sendto(rtcp.build_bye(5), ("127.0.0.1", b.port + 1))
    junk.close()
    clock.advance(1.0)
    st = b.stats()
    assert st["bad_packets"] >= 5 and st["rtcp_received"] >= 1 and st["rtcp_bad"] == 0
    assert len(voiced_run(heard)) == 25
    a.close()
    b.close()


def test_rtcp_sender_reports_are_sent(env: Env) -> None:
    clock = env[0]
    a, b = pair(env)
    clock.advance(6.0)
    first = [p for p in b.last_rtcp if isinstance(p, rtcp.SenderReport)]
    clock.advance(5.0)
    second = [p for p in b.last_rtcp if isinstance(p, rtcp.SenderReport)]
    assert first and second and first[0].ssrc == second[0].ssrc == a.ssrc
    assert second[0].packet_count - first[0].packet_count == 250  # one SR every 5 s of 20 ms packets
    assert rtp.ts_delta(second[0].rtp_timestamp, first[0].rtp_timestamp) == 250 * 160
    assert second[0].octet_count == 160 * second[0].packet_count
    block = second[0].reports[0]  # how a hears b: nothing lost, LSR/DLSR echo b's last SR
    assert block.ssrc == b.ssrc and block.cumulative_lost == 0 and block.fraction_lost == 0
    assert block.lsr != 0 and 0 < block.dlsr < 6 * 65536
    assert a.stats()["rtcp_sent"] >= 2 and b.stats()["rtcp_received"] >= 2
    a.close()
    b.close()


def test_open_errors_and_bad_remote(env: Env) -> None:
    clock, pacer, _loop = env
    with pytest.raises(ValueError):
        MediaSession(local_host="127.0.0.1", port_range=(5, 2), pacer=pacer, clock=clock)
    s = session(env)
    with pytest.raises(MediaError):
        s.set_remote("127.0.0.1", 4000, payload_type=0, codec="PCMU", dtmf_payload_type=101, ptime=5)
    with pytest.raises(Exception, match="opus"):
        s.set_remote("127.0.0.1", 4000, payload_type=111, codec="opus", dtmf_payload_type=None)
    with pytest.raises(MediaError):
        s.send_dtmf("1")  # no telephone-event negotiated
    blocked = MediaSession(local_host="127.0.0.1", port_range=(s.port, s.port + 1), pacer=pacer, clock=clock)
    with pytest.raises(MediaError, match="no free"):
        blocked.open()
    s.close()
    s.close()  # idempotent
    assert pacer.sessions == 0


def test_real_loop_clock_exchanges_audio() -> None:
    async def main() -> tuple[list[bytes], dict[str, float | int], float]:
        clock = LoopClock()
        pacer = Pacer(clock)
        a = MediaSession(local_host="127.0.0.1", port_range=PORTS, pacer=pacer, clock=clock)
        b = MediaSession(local_host="127.0.0.1", port_range=PORTS, pacer=pacer, clock=clock)
        a.open()
        b.open()
        a.set_remote("127.0.0.1", b.port, payload_type=0, codec="PCMU", dtmf_payload_type=101)
        b.set_remote("127.0.0.1", a.port, payload_type=0, codec="PCMU", dtmf_payload_type=101)
        heard: list[bytes] = []
        b.set_audio_sink(heard.append)
        digits: list[str] = []
        b.set_dtmf_handler(lambda d, ms: digits.append(d))
        start = clock.now()
        done = await a.play(tone(1000, 1.0)).done
        a.send_dtmf("9")
        await asyncio.sleep(0.4)
        elapsed = clock.now() - start
        a.close()
        b.close()
        pacer.stop()
        assert done and digits == ["9"]
        return heard, a.stats(), elapsed

    heard, stats, elapsed = asyncio.run(main())
    assert dominant_hz(b"".join(voiced_run(heard))) == pytest.approx(1000, abs=5)
    assert len(voiced_run(heard)) == 50
    assert stats["sent"] == pytest.approx(elapsed / 0.02, abs=3)  # paced at 50 packets per second of loop time


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=200), max_size=20))
def test_fuzz_datagrams_never_break_a_session(env: Env, datagrams: list[bytes]) -> None:
    clock = env[0]
    s = session(env)
    s.set_remote("127.0.0.1", 9, payload_type=0, codec="PCMU", dtmf_payload_type=101)
    heard: list[bytes] = []
    s.set_audio_sink(heard.append)
    for i, data in enumerate(datagrams):
        # valid-looking headers for our payload types too, so the jitter buffer and DTMF receiver see garbage
        s._on_datagram(data, ("127.0.0.1", 9), clock.now())
        s._on_datagram(bytes([0x80, (0, 101, 13)[i % 3]]) + data[:10].ljust(10, b"\0") + data[10:],
                       ("127.0.0.1", 9), clock.now())  # fmt: skip
        s.tick_receive(i, clock.now())
        s.tick_send(i, clock.now())
    assert all(len(f) == 320 for f in heard)
    s.close()




@pytest.mark.skipif(not CAPTURES.exists(), reason="SIPp (sip-tester) captures not installed")
def test_sipp_g711a_capture_30ms_packets_are_reframed(env: Env) -> None:
    """SIPp's own A-law sample uses 30 ms packets: replayed with its timing, every sample comes out, in order."""
    clock = env[0]
    packets = read_pcap_udp_payloads(CAPTURES / "g711a.pcap")
    s = session(env)
    s.set_remote("127.0.0.1", 9, payload_type=8, codec="PCMA", dtmf_payload_type=None, ptime=30)
    heard: list[bytes] = []
    s.set_audio_sink(heard.append)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start = clock.now()
    first = packets[0][0]
    for t, data in packets:
        clock.advance_to(start + (t - first))
        sender.sendto(data, ("127.0.0.1", s.port))
    clock.advance(0.5)
    sender.close()
    payloads = [rtp.decode(d).payload for _, d in packets]
    assert {len(p) for p in payloads} == {240}
    expected = PCMA.decode(b"".join(payloads))
    got = b"".join(heard)
    assert all(len(f) == 320 for f in heard)
    assert expected in got  # all 7 s, sample-exact, contiguous: nothing lost, duplicated or reordered
    st = s.stats()
    assert st["other_ptime"] == len(packets) and st["lost"] == 0 and st["late"] == 0
    s.close()


def test_failing_application_callbacks_do_not_stop_the_media(env: Env) -> None:
    clock, pacer = env[0], env[1]
    a, b = pair(env)

    def bad_sink(frame: bytes) -> None:
        raise RuntimeError("bug in the application")

    def bad_handler(digit: str, ms: int) -> None:
        raise RuntimeError("bug in the application")

    b.set_audio_sink(bad_sink)
    b.set_dtmf_handler(bad_handler)
    a.play(tone(500, 0.5))
    a.send_dtmf("1")
    clock.advance(1.0)
    assert pacer.stats.errors == 0 and pacer.sessions == 2  # both legs still ticking
    sent = b.stats()["sent"]
    clock.advance(0.2)
    assert b.stats()["sent"] == sent + 10 and b.stats()["dtmf_received"] == 1
    a.close()
    b.close()


def test_without_epoll_sessions_drain_their_own_sockets() -> None:
    loop = asyncio.new_event_loop()
    clock = VirtualClock(start=1000.0)
    pacer = Pacer(clock)
    pacer._poller = None  # a platform without epoll
    a, b = (MediaSession(local_host="127.0.0.1", port_range=PORTS, pacer=pacer, clock=clock, loop=loop) for _ in "ab")
    a.open()
    b.open()
    a.set_remote("127.0.0.1", b.port, payload_type=0, codec="PCMU", dtmf_payload_type=None)
    b.set_remote("127.0.0.1", a.port, payload_type=0, codec="PCMU", dtmf_payload_type=None)
    heard: list[bytes] = []
    b.set_audio_sink(heard.append)
    a.play(tone(800, 0.4))
    clock.advance(1.0)
    assert len(voiced_run(heard)) == 20 and dominant_hz(b"".join(voiced_run(heard))) == pytest.approx(800, abs=5)
    a.close()
    b.close()
    loop.close()
