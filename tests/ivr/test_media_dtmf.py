"""RFC 4733 telephone-events: SIPp's captures, the receiver state machine, the sender plan, fuzzing."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.media import dtmf, rtp
from ivr.media.dtmf import DigitReceived, EventPacket, Poll, ReceiverState, TelephoneEvent
from tests.ivr.pcap import CAPTURES, read_pcap_udp_payloads


def run_receiver(packets: list[tuple[float, bytes]]) -> list[DigitReceived]:
    state = ReceiverState()
    digits: list[DigitReceived] = []
    for arrival, data in packets:
        p = rtp.decode(data)
        state, out = dtmf.step(state, EventPacket(p.ssrc, p.timestamp, dtmf.decode_event(p.payload), arrival))
        digits += out
    state, out = dtmf.step(state, Poll(packets[-1][0] + 5))
    return digits + out


@pytest.mark.skipif(not CAPTURES.exists(), reason="SIPp (sip-tester) captures not installed")
@pytest.mark.parametrize("name, digit", [("1", "1"), ("0", "0"), ("9", "9"), ("star", "*"), ("pound", "#")])
def test_sipp_capture_yields_exactly_one_digit(name: str, digit: str) -> None:
    packets = read_pcap_udp_payloads(CAPTURES / f"dtmf_2833_{name}.pcap")
    assert len(packets) >= 4
    assert all(rtp.decode(d).payload_type == 101 for _, d in packets)
    ends = [d for _, d in packets if dtmf.decode_event(rtp.decode(d).payload).end]
    assert len(ends) == 3  # the capture repeats its end packet three times ...
    digits = run_receiver(packets)
    assert [d.digit for d in digits] == [digit]  # ... and the receiver reports the key once
    last = dtmf.decode_event(rtp.decode(packets[-1][1]).payload)
    assert digits[0].duration_ms == last.duration // 8


def test_payload_codec_round_trip_and_errors() -> None:
    ev = TelephoneEvent(11, True, 10, 800)
    assert dtmf.encode_event(ev) == b"\x0b\x8a\x03\x20"
    assert dtmf.decode_event(b"\x0b\x8a\x03\x20") == ev and ev.digit == "#"
    assert TelephoneEvent(16, False, 0, 0).digit is None  # flash: not a digit
    with pytest.raises(dtmf.DtmfError):
        dtmf.decode_event(b"\x01\x02")
    with pytest.raises(dtmf.DtmfError):
        dtmf.digit_code("x")


def pkt(ts: int, event: int, end: bool, duration: int, arrival: float, ssrc: int = 1) -> EventPacket:
    return EventPacket(ssrc, ts, TelephoneEvent(event, end, 10, duration), arrival)


def feed(events: Sequence[EventPacket | Poll]) -> list[tuple[str, int]]:
    state = ReceiverState()
    out: list[tuple[str, int]] = []
    for e in events:
        state, digits = dtmf.step(state, e)
        out += [(d.digit, d.duration_ms) for d in digits]
    return out


def test_receiver_reports_on_first_end_and_ignores_retransmissions() -> None:
    seq = [pkt(1000, 5, False, 160, 0.0), pkt(1000, 5, False, 320, 0.02), pkt(1000, 5, True, 480, 0.04)]
    seq += [pkt(1000, 5, True, 480, 0.04), pkt(1000, 5, True, 480, 0.05)]
    assert feed(list(seq)) == [("5", 60)]


def test_receiver_same_digit_twice_is_two_events() -> None:
    a = [pkt(1000, 7, False, 160, 0.0), pkt(1000, 7, True, 320, 0.02), pkt(1000, 7, True, 320, 0.02)]
    b = [pkt(3000, 7, False, 160, 0.3), pkt(3000, 7, True, 800, 0.4)]
    assert feed(a + b) == [("7", 40), ("7", 100)]


def test_receiver_lost_end_packets_reported_on_next_event_or_timeout() -> None:
    assert feed([pkt(1000, 1, False, 480, 0.0), pkt(2000, 2, True, 160, 0.2)]) == [("1", 60), ("2", 20)]
    assert feed([pkt(1000, 3, False, 480, 0.0), Poll(0.1)]) == []
    assert feed([pkt(1000, 3, False, 480, 0.0), Poll(0.1), Poll(0.35)]) == [("3", 60)]


def test_receiver_drops_late_packets_of_an_older_event_and_handles_wrap() -> None:
    events = [pkt(0xFFFFFF00, 4, True, 160, 0.0), pkt(0x100, 6, True, 160, 0.2), pkt(0xFFFFFF00, 4, True, 160, 0.3)]
    assert feed(list(events)) == [("4", 20), ("6", 20)]


def test_receiver_new_ssrc_is_a_new_event() -> None:
    assert feed([pkt(1000, 8, True, 160, 0.0, ssrc=1), pkt(1000, 8, True, 160, 0.1, ssrc=2)]) == [("8", 20), ("8", 20)]


def test_sender_plan() -> None:
    plan = dtmf.sender_payloads("9", 100)
    events = [dtmf.decode_event(p) for p, _ in plan]
    assert [m for _, m in plan] == [True] + [False] * (len(plan) - 1)
    assert [e.end for e in events] == [False] * 4 + [True] * 3
    assert [e.duration for e in events] == [160, 320, 480, 640, 800, 800, 800]
    assert {e.event for e in events} == {9}
    short = dtmf.sender_payloads("*", 20)
    assert [m for _, m in short] == [True, False, False] and dtmf.decode_event(short[0][0]).end


def test_sender_plan_round_trips_through_receiver() -> None:
    for digit in "0123456789*#ABCD":
        plan = dtmf.sender_payloads(digit, 120)
        got = feed([EventPacket(9, 4242, dtmf.decode_event(p), i * 0.02) for i, (p, _) in enumerate(plan)])
        assert got == [(digit, 120)]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=16))
def test_fuzz_event_decode(data: bytes) -> None:
    try:
        dtmf.decode_event(data)
    except dtmf.DtmfError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2**32 - 1), st.binary(min_size=4, max_size=4), st.integers(0, 3)),
                max_size=30))  # fmt: skip
def test_fuzz_receiver_never_raises_and_reports_valid_digits(items: list[tuple[int, bytes, int]]) -> None:
    state = ReceiverState()
    for i, (ts, payload, ssrc) in enumerate(items):
        state, digits = dtmf.step(state, EventPacket(ssrc, ts, dtmf.decode_event(payload), i * 0.02))
        assert all(d.digit in dtmf.EVENT_CODES and d.duration_ms >= 0 for d in digits)


def test_dtmf_sender_gives_each_digit_its_own_event_timestamp() -> None:
    sender = dtmf.DtmfSender()
    assert not sender and sender.next_packet(0) is None
    sender.queue("1", 40)
    sender.queue("2", 40)
    out = []
    ts = 1000
    while sender:
        packet = sender.next_packet(ts)
        assert packet is not None
        out.append(packet)
        ts += 160
    assert [dtmf.decode_event(p).digit for p, _, _ in out] == ["1"] * 4 + ["2"] * 4
    assert [m for _, m, _ in out] == [True, False, False, False] * 2
    assert [t for _, _, t in out] == [1000] * 4 + [1640] * 4
    assert sender.digits_sent == 2 and sender.next_packet(ts) is None
