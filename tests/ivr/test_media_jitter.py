"""Jitter buffer on virtual time: reorder, duplicates, loss and concealment, wrap, jumps, SSRC change, late."""

from __future__ import annotations

import random
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.media.codecs import PCMU
from ivr.media.jitter import JitterBuffer
from ivr.media.rtp import RtpPacket

SILENCE = PCMU.silence_frame(160)


def frame(i: int) -> bytes:
    return struct.pack("!H", i) + bytes([0x10 + i % 0x60]) * 158  # distinct per sequence number, not silence


def packet(seq: int, ssrc: int = 1, ts: int | None = None, payload: bytes | None = None) -> RtpPacket:
    return RtpPacket(0, seq & 0xFFFF, (ts if ts is not None else seq * 160) & 0xFFFFFFFF, ssrc,
                     payload if payload is not None else frame(seq & 0xFFFF))  # fmt: skip


def new_buffer(**kw: int) -> JitterBuffer:
    return JitterBuffer(silence=SILENCE, attenuate=PCMU.attenuate, **kw)


def run(jb: JitterBuffer, arrivals: list[tuple[float, RtpPacket]], until: float) -> list[bytes | None]:
    """Pop every 20 ms from t=0, pushing each packet at its arrival time before the pop of that instant."""
    arrivals = sorted(arrivals, key=lambda a: a[0])
    out: list[bytes | None] = []
    i = 0
    for tick in range(round(until / 0.02)):
        now = tick * 0.02
        while i < len(arrivals) and arrivals[i][0] <= now:
            jb.push(arrivals[i][1], arrivals[i][0])
            i += 1
        out.append(jb.pop(now))
    return out


def played(out: list[bytes | None]) -> list[bytes]:
    return [f for f in out if f is not None]


def test_in_order_stream_starts_after_target_and_plays_everything() -> None:
    jb = new_buffer(target_ms=60)
    out = run(jb, [(i * 0.02 + 0.001, packet(i)) for i in range(50)], 1.2)
    first = next(i for i, f in enumerate(out) if f is not None)
    assert first == 3  # 60 ms of buffering
    assert played(out)[:50] == [frame(i) for i in range(50)]
    assert jb.stats.lost == jb.stats.late == 0


def test_reordered_and_duplicated_packets_come_out_in_order() -> None:
    jb = new_buffer(target_ms=60)
    arrivals = [(i * 0.02 + 0.001, packet(i)) for i in range(100)]
    rng = random.Random(7)
    jittered = [(t + rng.uniform(0, 0.035), p) for t, p in arrivals]  # up to 35 ms of jitter reorders neighbours
    jittered += [(t + 0.005, p) for t, p in arrivals[::10]]  # duplicates
    out = run(jb, jittered, 2.5)
    assert played(out)[:100] == [frame(i) for i in range(100)]
    assert jb.stats.duplicates == 10 and jb.stats.lost == 0 and jb.stats.late == 0


def test_loss_is_concealed_then_silence() -> None:
    jb = new_buffer(target_ms=40)
    arrivals = [(i * 0.02, packet(i)) for i in range(40) if not 10 <= i < 15]
    frames = played(run(jb, arrivals, 0.8))  # stop before the stream's end (whose underruns are concealed too)
    assert frames[:10] == [frame(i) for i in range(10)]
    conceal1 = frame(9).translate(PCMU.attenuate)
    assert frames[10] == conceal1  # last frame at -6 dB
    assert frames[11] == conceal1.translate(PCMU.attenuate)
    assert frames[12:15] == [SILENCE] * 3
    assert frames[15:] == [frame(i) for i in range(15, 39)]
    assert jb.stats.lost == 5 and jb.stats.concealed == 2


def test_late_packet_dropped_and_counted() -> None:
    jb = new_buffer(target_ms=40)
    arrivals = [(i * 0.02, packet(i)) for i in range(30) if i != 5] + [(0.5, packet(5))]
    frames = played(run(jb, arrivals, 1.0))
    assert jb.stats.late == 1 and jb.stats.lost == 1
    assert frame(5) not in frames and frames[6:29] == [frame(i) for i in range(6, 29)]


def test_sequence_wrap_around() -> None:
    jb = new_buffer(target_ms=40)
    arrivals = [(i * 0.02, packet(65530 + i)) for i in range(20)]
    frames = played(run(jb, arrivals, 0.6))
    assert frames[:20] == [frame((65530 + i) & 0xFFFF) for i in range(20)]
    assert jb.stats.lost == jb.stats.late == jb.stats.resets == 0


def test_timestamp_jump_with_continuous_sequence_plays_on() -> None:
    jb = new_buffer(target_ms=40)
    arrivals = [(i * 0.02, packet(i, ts=i * 160 + (800_000 if i >= 10 else 0))) for i in range(30)]
    frames = played(run(jb, arrivals, 0.8))
    assert frames[:30] == [frame(i) for i in range(30)]
    assert jb.stats.lost == 0


def test_ssrc_change_resets_the_stream() -> None:
    jb = new_buffer(target_ms=40)
    first = [(i * 0.02, packet(1000 + i, ssrc=1)) for i in range(10)]
    second = [(0.2 + i * 0.02, packet(30000 + i, ssrc=2, payload=frame(200 + i))) for i in range(10)]
    frames = played(run(jb, first + second, 0.8))
    assert jb.stats.resets == 1 and jb.stats.late == 0
    new = [frame(200 + i) for i in range(10)]
    assert [f for f in frames if f in set(new)] == new
    assert frames.index(new[0]) > frames.index(frame(1008))
    assert jb.stats.played + jb.stats.flushed == 20
    assert jb.stats.lost == 0  # 30000 - 1009 is not a loss of 29000 frames


def test_sender_sequence_restart_within_same_ssrc() -> None:
    jb = new_buffer(target_ms=40)
    arrivals = [(i * 0.02, packet(i)) for i in range(10)] + [(0.2 + i * 0.02, packet(40000 + i)) for i in range(10)]
    run(jb, arrivals, 0.8)
    assert jb.stats.resets == 1 and jb.stats.lost == 0


def test_stream_stops_goes_idle_and_restarts() -> None:
    jb = new_buffer(target_ms=40, idle_frames=5)
    arrivals = [(i * 0.02, packet(i)) for i in range(10)] + [(1.0 + i * 0.02, packet(10 + i)) for i in range(10)]
    out = run(jb, arrivals, 1.6)
    assert out[40] is None  # idle while the remote sends nothing
    assert [f for f in played(out) if f in {frame(i) for i in range(20)}] == [frame(i) for i in range(20)]
    assert out.index(frame(10)) == 51  # re-primed: 40 ms (2 frames) buffered again
    assert jb.stats.lost == 0 and jb.stats.late == 0


def test_non_audio_slot_plays_silence_without_loss() -> None:
    jb = new_buffer(target_ms=40)
    for i in range(6):
        p = packet(i)
        if i == 3:
            jb.push_non_audio(p, 0.0)
        else:
            jb.push(p, 0.0)
    frames = [jb.pop(0.1) for _ in range(6)]
    assert frames[3] == SILENCE and frames[4] == frame(4) and jb.stats.lost == 0


def test_burst_after_delay_spike_is_trimmed_back_to_target() -> None:
    jb = new_buffer(target_ms=60, slack_ms=60)
    arrivals = [(i * 0.02, packet(i)) for i in range(10)]
    arrivals += [(0.5, packet(i)) for i in range(10, 25)]  # 300 ms of delay, then everything at once
    arrivals += [(0.5 + (i - 24) * 0.02, packet(i)) for i in range(25, 60)]
    out = run(jb, arrivals, 1.4)
    assert jb.stats.trimmed > 0 and jb.stats.late == 0
    frames = [f for f in played(out) if f in {frame(i) for i in range(60)}]
    assert frames == sorted(frames)  # still in order
    assert out.index(frame(59)) - round(1.2 / 0.02) <= 3  # the last frame plays with the target delay again


def test_overflow_drops_oldest() -> None:
    jb = new_buffer(target_ms=40, max_ms=100)
    for i in range(20):
        jb.push(packet(i), 0.0)
    assert jb.depth == 5 and jb.stats.overflow_dropped == 15
    assert jb.pop(1.0) == frame(15)


def test_random_loss_and_reorder_accounting() -> None:
    rng = random.Random(1)
    jb = new_buffer(target_ms=60)
    arrivals = [(i * 0.02 + rng.uniform(0, 0.03), packet(i)) for i in range(500) if rng.random() > 0.05]
    sent = len(arrivals)
    frames = played(run(jb, arrivals, 11.0))
    real = [f for f in frames if f in {frame(i) for i in range(500)}]
    assert real == sorted(real)  # never out of order
    assert len(real) + jb.stats.late == sent  # every packet is played once or counted late
    assert jb.stats.lost + jb.stats.late >= 500 - sent


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("push"), st.integers(0, 0xFFFF), st.integers(0, 3), st.booleans()),
            st.tuples(st.just("pop"), st.just(0), st.just(0), st.just(False)),
        ),
        max_size=120,
    )
)
def test_fuzz_push_pop_invariants(ops: list[tuple[str, int, int, bool]]) -> None:
    jb = new_buffer(target_ms=60, max_ms=200)
    now = 0.0
    for kind, seq, ssrc, non_audio in ops:
        now += 0.007
        if kind == "push":
            p = packet(seq, ssrc=ssrc)
            if non_audio:
                jb.push_non_audio(p, now)
            else:
                jb.push(p, now)
            assert jb.depth <= jb.max_frames
        else:
            out = jb.pop(now)
            assert out is None or len(out) == 160
    s = jb.stats
    assert s.played + s.duplicates + s.late + s.overflow_dropped + s.flushed + s.trimmed + jb.depth == s.received


def test_pop_frame_reframes_30ms_packets_into_20ms_frames() -> None:
    jb = new_buffer(target_ms=60)
    samples = bytes(range(256)) * 30  # 7680 bytes = 32 packets of 240 (30 ms each)
    out = []
    sent = 0
    for tick in range(60):
        now = tick * 0.02
        while sent < 32 and sent * 0.03 <= now:
            jb.push(packet(sent, payload=samples[sent * 240 : (sent + 1) * 240]), now)
            sent += 1
        out.append(jb.pop_frame(now))
    frames = [f for f in out if f is not None]
    assert all(len(f) == 160 for f in frames)
    assert samples in b"".join(frames)  # every byte, in order, contiguous
    assert jb.stats.played == 32 and jb.stats.lost == 0
