"""SRTP (AES_CM_128_HMAC_SHA1_80) in the media path: two sessions on loopback, virtual time; tampered, replayed
and plain packets are dropped and counted, never crash the session."""

from __future__ import annotations

import socket

import pytest

from ivr.clock import VirtualClock
from ivr.media import rtcp
from ivr.media.srtp import KEY_LENGTH, SrtpStreams, new_master_key
from tests.ivr.test_media_session import Env, Sink, dominant_hz, env, pair, tone, voiced_run

__all__ = ["env"]  # the fixture, imported for pytest




def test_protected_audio_dtmf_and_rtcp_round_trip(env: Env) -> None:
    clock = env[0]
    a, b = pair(env)
    ka, kb = new_master_key(), new_master_key()
    a.set_srtp(ka, kb)
    b.set_srtp(kb, ka)
    heard: list[bytes] = []
    digits: list[str] = []
    b.set_audio_sink(heard.append)
    b.set_dtmf_handler(lambda d, ms: digits.append(d))
    a.play(tone(1000, 1.0))
    clock.advance(1.5)
    a.send_dtmf("5", 100)
    clock.advance(5.0)
    run = voiced_run(heard)
    assert len(run) == 50 and dominant_hz(b"".join(run)) == pytest.approx(1000, abs=5)
    assert digits == ["5"]
    assert any(isinstance(p, rtcp.SenderReport) and p.ssrc == a.ssrc for p in b.last_rtcp)  # SRTCP unprotected
    for s in (a, b):
        st = s.stats()
        assert st["srtp"] == 1 and st["srtp_auth_failures"] == 0 and st["bad_packets"] == 0 and st["lost"] == 0
    a.close()
    b.close()


def test_the_wire_carries_srtp_not_rtp(env: Env) -> None:
    """What goes out is 10 bytes longer (the HMAC-SHA1-80 tag), the payload is not the plain G.711, and the
    peer's key (not ours) takes it back."""
    clock = env[0]
    a, b = pair(env)
    b.close()
    sink = Sink()
    ka, kb = new_master_key(), new_master_key()
    a.set_srtp(ka, kb)
    a.set_remote("127.0.0.1", sink.port, payload_type=0, codec="PCMU", dtmf_payload_type=101)
    clock.advance(0.2)
    raw: list[bytes] = []
    while True:
        try:
            raw.append(sink.sock.recv(2048))
        except BlockingIOError:
            break
    assert raw and all(len(p) == 12 + 160 + 10 for p in raw)
    silence = b"\xff" * 160
    assert all(p[12:172] != silence for p in raw)
    receiver = SrtpStreams(kb, ka)
    plain = [receiver.unprotect_rtp(p) for p in raw]
    assert all(p is not None and p[12:] == silence for p in plain)
    wrong = SrtpStreams(kb, new_master_key())
    assert wrong.unprotect_rtp(raw[0]) is None and wrong.counters["srtp_auth_failures"] == 1
    a.close()
    sink.close()


def test_tampered_replayed_and_plain_packets_are_counted_and_dropped(env: Env) -> None:
    clock = env[0]
    a, b = pair(env)
    ka, kb = new_master_key(), new_master_key()
    b.set_srtp(kb, ka)
    a.close()  # a stranger with a's key and a raw socket sends to b instead
    sender = SrtpStreams(ka, kb)
    heard: list[bytes] = []
    b.set_audio_sink(heard.append)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        def packet(seq: int, payload: bytes = b"\x10" * 160) -> bytes:
            header = bytes([0x80, 0]) + seq.to_bytes(2, "big") + (seq * 160).to_bytes(4, "big") + b"\x00\x00\x12\x34"
            return sender.protect_rtp(header + payload)

        good = packet(1)
        sock.sendto(good, ("127.0.0.1", b.port))
        tampered = bytearray(packet(2))
        tampered[40] ^= 0x01  # one flipped bit in the encrypted payload
        sock.sendto(bytes(tampered), ("127.0.0.1", b.port))
        sock.sendto(good, ("127.0.0.1", b.port))  # a replay
        plain = bytes([0x80, 0, 0, 9]) + b"\x00" * 8 + b"\x10" * 160
        sock.sendto(plain, ("127.0.0.1", b.port))  # unprotected RTP: no tag, fails authentication
        sock.sendto(b"\x80", ("127.0.0.1", b.port))  # too short for anything
        sock.sendto(packet(3), ("127.0.0.1", b.port))
        clock.advance(0.5)
    st = b.stats()
    assert st["received"] == 2  # packets 1 and 3
    assert st["srtp_auth_failures"] == 2 and st["srtp_replays"] == 1 and st["srtp_errors"] == 1
    assert not b.closed
    b.close()


def test_same_keys_keep_the_state_new_keys_restart_and_clear_goes_plain(env: Env) -> None:
    a, b = pair(env)
    ka, kb = new_master_key(), new_master_key()
    a.set_srtp(ka, kb)
    first = a._srtp
    a.set_srtp(ka, kb)  # a re-INVITE with the same crypto: the replay window and ROC stay
    assert a._srtp is first
    a.set_srtp(ka, new_master_key())
    assert a._srtp is not first and a.secure
    a.clear_srtp()
    assert not a.secure and a.stats()["srtp"] == 0
    with pytest.raises(ValueError):
        SrtpStreams(b"short", kb)
    assert len(new_master_key()) == KEY_LENGTH and new_master_key() != new_master_key()
    a.close()
    b.close()


def test_one_side_secure_other_plain_hears_nothing_and_counts(env: Env) -> None:
    clock: VirtualClock = env[0]
    a, b = pair(env)
    a.set_srtp(new_master_key(), new_master_key())  # b stays plain
    heard: list[bytes] = []
    a.set_audio_sink(heard.append)
    b.play(tone(440, 0.5))
    clock.advance(0.8)
    assert a.stats()["received"] == 0 and a.stats()["srtp_auth_failures"] > 10
    a.close()
    b.close()
