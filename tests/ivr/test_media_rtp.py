"""RTP and RTCP: golden packets, round trips, and fuzzing (only the module's own error may escape)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.media import rtcp, rtp
from ivr.media.rtp import RtpError, RtpPacket

# RTP packet from SIPp's dtmf_2833_1.pcap (UDP payload of the first frame): PT 101, marker set, seq 0x1f30.
GOLDEN_DTMF = bytes.fromhex("80e51f30000033e00e05384e010a0000")


def test_golden_rtp_packet() -> None:
    p = rtp.decode(GOLDEN_DTMF)
    assert (p.payload_type, p.marker, p.sequence, p.timestamp, p.ssrc) == (101, True, 0x1F30, 0x33E0, 0x0E05384E)
    assert p.payload == bytes.fromhex("010a0000")
    assert rtp.encode(p) == GOLDEN_DTMF


def test_csrc_extension_padding_round_trip() -> None:
    p = RtpPacket(8, 65535, 0xFFFFFFFF, 0xDEADBEEF, b"\xd5" * 160, True, (1, 2, 3), (0xBEDE, b"\x10\xab\x00\x00"), 4)
    data = rtp.encode(p)
    assert data[0] == 0x80 | 0x20 | 0x10 | 3
    assert len(data) == 12 + 12 + 8 + 160 + 4
    assert rtp.decode(data) == p


def test_pack_header_into_matches_encode() -> None:
    buf = bytearray(12)
    rtp.pack_header_into(buf, True, 0, 7, 160, 42)
    assert bytes(buf) == rtp.encode(RtpPacket(0, 7, 160, 42, b"", True))


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "too short"),
        (b"\x80\x00" + bytes(9), "too short"),
        (b"\x40" + bytes(11), "version"),
        (b"\x82" + bytes(11) + bytes(4), "CSRC"),
        (b"\x90" + bytes(11) + b"\x00\x00\x00\x05", "extension"),
        (b"\xa0" + bytes(11) + b"\x00", "padding"),
        (b"\xa0" + bytes(11) + b"\x05", "padding"),
    ],
)
def test_malformed_rtp_rejected(data: bytes, reason: str) -> None:
    with pytest.raises(RtpError, match=reason):
        rtp.decode(data)


def test_sequence_and_timestamp_wrap() -> None:
    assert rtp.seq_delta(2, 65534) == 4
    assert rtp.seq_delta(65534, 2) == -4
    assert rtp.ts_delta(10, 0xFFFFFFF0) == 26


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_rtp_decode(data: bytes) -> None:
    try:
        p = rtp.decode(data)
    except RtpError:
        return
    assert 0 <= p.payload_type <= 127 and len(p.payload) <= len(data)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 127), st.integers(0, 0xFFFF), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1),
    st.binary(max_size=200), st.booleans(), st.lists(st.integers(0, 2**32 - 1), max_size=15),
    st.integers(0, 255),
)  # fmt: skip
def test_rtp_round_trip(pt: int, seq: int, ts: int, ssrc: int, payload: bytes, marker: bool, csrcs: list[int],
                        pad: int) -> None:  # fmt: skip
    p = RtpPacket(pt, seq, ts, ssrc, payload, marker, tuple(csrcs), None, pad)
    assert rtp.decode(rtp.encode(p)) == p


# -- RTCP -----------------------------------------------------------------------------------------------------------
def test_sr_with_report_and_sdes_round_trip() -> None:
    block = rtcp.ReportBlock(0x1234, 25, -3, 70000, 12, 0xAABBCCDD, 65536)
    sr = rtcp.SenderReport(0xCAFE, rtcp.ntp_from_unix(1_700_000_000.5), 160000, 1000, 160000, (block,))
    data = rtcp.build_sr(sr, cname=b"ivr@127.0.0.1")
    packets = rtcp.parse(data)
    assert packets[0] == sr
    assert isinstance(packets[1], rtcp.SourceDescription)
    assert packets[1].cname(0xCAFE) == b"ivr@127.0.0.1"
    assert (sr.ntp_timestamp >> 32) - 2208988800 == 1_700_000_000
    assert sr.ntp_timestamp & 0xFFFFFFFF == 1 << 31


def test_golden_rr_sdes_bye_compound() -> None:
    rr = struct.pack("!BBHI", 0x81, 201, 7, 0x11111111) + struct.pack("!IIIIII", 0x22222222, (5 << 24) | 9, 100,
                                                                        3, 0, 0)  # fmt: skip
    sdes = struct.pack("!BBHI", 0x81, 202, 3, 0x11111111) + b"\x01\x03abc\x00\x00\x00"
    bye = struct.pack("!BBHI", 0x81, 203, 2, 0x11111111) + b"\x03bye"
    packets = rtcp.parse(rr + sdes + bye)
    assert packets[0] == rtcp.ReceiverReport(0x11111111, (rtcp.ReportBlock(0x22222222, 5, 9, 100, 3, 0, 0),))
    assert packets[1] == rtcp.SourceDescription(((0x11111111, ((1, b"abc"),)),))
    assert packets[2] == rtcp.Goodbye((0x11111111,), b"bye")
    assert rtcp.parse(rtcp.build_bye(5)) == [rtcp.Goodbye((5,))]


def test_unknown_rtcp_types_are_skipped() -> None:
    app = struct.pack("!BBH", 0x80, 204, 2) + b"name" + b"data"
    assert rtcp.parse(app + rtcp.build_bye(9)) == [rtcp.Goodbye((9,))]


@pytest.mark.parametrize(
    "data",
    [b"\x80\xc8", b"\x40\xc8\x00\x00", b"\x80\xc8\x00\x09" + bytes(8), b"\x80\xc8\x00\x01abcd",
     b"\x81\xc9\x00\x01abcd", b"\x81\xca\x00\x01\x00\x00\x00\x01"],
)  # fmt: skip
def test_malformed_rtcp_rejected(data: bytes) -> None:
    with pytest.raises(rtcp.RtcpError):
        rtcp.parse(data)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_rtcp_parse(data: bytes) -> None:
    try:
        rtcp.parse(data)
    except rtcp.RtcpError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([200, 201, 202, 203, 204]), st.integers(0, 31), st.binary(max_size=64)),
                min_size=1, max_size=4))  # fmt: skip
def test_fuzz_rtcp_well_framed_garbage(parts: list[tuple[int, int, bytes]]) -> None:
    data = b""
    for pt, count, body in parts:
        body += bytes(-len(body) % 4)
        data += struct.pack("!BBH", 0x80 | count, pt, len(body) // 4) + body
    try:
        rtcp.parse(data)
    except rtcp.RtcpError:
        pass
