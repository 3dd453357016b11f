"""RTCP (RFC 3550 §6): parse compound packets (SR, RR, SDES, BYE; others skipped) and build SR/RR, sans-IO."""

from __future__ import annotations

import struct
from dataclasses import dataclass

SR, RR, SDES, BYE, APP = 200, 201, 202, 203, 204
_NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01


class RtcpError(ValueError):
    """The datagram is not a well-formed RTCP compound packet."""


@dataclass(frozen=True)
class ReportBlock:
    ssrc: int
    fraction_lost: int  # 0..255, fixed point /256
    cumulative_lost: int  # signed 24 bits
    highest_seq: int  # extended highest sequence number received
    jitter: int  # in timestamp units
    lsr: int  # middle 32 bits of the last SR's NTP timestamp
    dlsr: int  # delay since last SR, 1/65536 s


@dataclass(frozen=True)
class SenderReport:
    ssrc: int
    ntp_timestamp: int  # 64-bit NTP
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    reports: tuple[ReportBlock, ...] = ()


@dataclass(frozen=True)
class ReceiverReport:
    ssrc: int
    reports: tuple[ReportBlock, ...] = ()


@dataclass(frozen=True)
class SourceDescription:
    chunks: tuple[tuple[int, tuple[tuple[int, bytes], ...]], ...]  # (ssrc, ((item type, value), ...))

    def cname(self, ssrc: int) -> bytes | None:
        for chunk_ssrc, items in self.chunks:
            if chunk_ssrc == ssrc:
                for kind, value in items:
                    if kind == 1:
                        return value
        return None


@dataclass(frozen=True)
class Goodbye:
    ssrcs: tuple[int, ...]
    reason: bytes = b""


RtcpPacket = SenderReport | ReceiverReport | SourceDescription | Goodbye


def _report_blocks(body: bytes, offset: int, count: int) -> tuple[ReportBlock, ...]:
    if len(body) < offset + 24 * count:
        raise RtcpError("truncated report blocks")
    blocks = []
    for i in range(count):
        ssrc, lost_word, highest, jitter, lsr, dlsr = struct.unpack_from("!IIIIII", body, offset + 24 * i)
        cumulative = lost_word & 0xFFFFFF
        if cumulative & 0x800000:
            cumulative -= 0x1000000
        blocks.append(ReportBlock(ssrc, lost_word >> 24, cumulative, highest, jitter, lsr, dlsr))
    return tuple(blocks)


def _sdes(body: bytes, count: int) -> SourceDescription:
    chunks = []
    offset = 0
    for _ in range(count):
        if len(body) < offset + 4:
            raise RtcpError("truncated SDES chunk")
        (ssrc,) = struct.unpack_from("!I", body, offset)
        offset += 4
        items = []
        while True:
            if offset >= len(body):
                raise RtcpError("SDES chunk without end item")
            kind = body[offset]
            if kind == 0:
                offset = (offset + 4) & ~3  # skip the null octet(s) up to the next 32-bit boundary
                break
            if offset + 2 > len(body) or offset + 2 + body[offset + 1] > len(body):
                raise RtcpError("truncated SDES item")
            length = body[offset + 1]
            items.append((kind, bytes(body[offset + 2 : offset + 2 + length])))
            offset += 2 + length
        chunks.append((ssrc, tuple(items)))
    return SourceDescription(tuple(chunks))


def parse(data: bytes) -> list[RtcpPacket]:
    """Parse a compound RTCP packet; unknown packet types (APP, XR, feedback) are skipped.

    Raises :class:`RtcpError` when the framing is broken (wrong version, lengths not adding up, truncation).
    """
    if len(data) < 4:
        raise RtcpError("packet too short")
    packets: list[RtcpPacket] = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < 4:
            raise RtcpError("trailing bytes after last RTCP packet")
        b0, pt, words = struct.unpack_from("!BBH", data, offset)
        if b0 >> 6 != 2:
            raise RtcpError(f"RTCP version {b0 >> 6}, expected 2")
        end = offset + 4 * (words + 1)
        if end > len(data):
            raise RtcpError("RTCP length field beyond the datagram")
        body = bytes(data[offset + 4 : end])
        if b0 & 0x20:
            if not body or body[-1] == 0 or body[-1] > len(body):
                raise RtcpError("invalid RTCP padding")
            body = body[: -body[-1]]
        count = b0 & 0x1F
        if pt == SR:
            if len(body) < 24:
                raise RtcpError("truncated sender report")
            ssrc, ntp_hi, ntp_lo, rtp_ts, pkts, octets = struct.unpack_from("!IIIIII", body)
            blocks = _report_blocks(body, 24, count)
            packets.append(SenderReport(ssrc, (ntp_hi << 32) | ntp_lo, rtp_ts, pkts, octets, blocks))
        elif pt == RR:
            if len(body) < 4:
                raise RtcpError("truncated receiver report")
            packets.append(ReceiverReport(struct.unpack_from("!I", body)[0], _report_blocks(body, 4, count)))
        elif pt == SDES:
            packets.append(_sdes(body, count))
        elif pt == BYE:
            if len(body) < 4 * count:
                raise RtcpError("truncated BYE")
            ssrcs = struct.unpack_from(f"!{count}I", body) if count else ()
            reason = b""
            rest = body[4 * count :]
            if rest:
                if 1 + rest[0] > len(rest):
                    raise RtcpError("truncated BYE reason")
                reason = bytes(rest[1 : 1 + rest[0]])
            packets.append(Goodbye(tuple(ssrcs), reason))
        offset = end
    return packets


def ntp_from_unix(seconds: float) -> int:
    """64-bit NTP timestamp for a Unix time in seconds."""
    whole = int(seconds)
    frac = int((seconds - whole) * (1 << 32)) & 0xFFFFFFFF
    return ((whole + _NTP_EPOCH_OFFSET) & 0xFFFFFFFF) << 32 | frac


def _block_bytes(block: ReportBlock) -> bytes:
    lost_word = ((block.fraction_lost & 0xFF) << 24) | (block.cumulative_lost & 0xFFFFFF)
    return struct.pack("!IIIIII", block.ssrc, lost_word, block.highest_seq, block.jitter, block.lsr, block.dlsr)


def _sdes_cname(ssrc: int, cname: bytes) -> bytes:
    chunk = struct.pack("!I", ssrc) + bytes((1, len(cname))) + cname + b"\x00"
    chunk += bytes(-len(chunk) % 4)
    return struct.pack("!BBH", 0x81, SDES, len(chunk) // 4) + chunk


def build_sr(report: SenderReport, cname: bytes | None = None) -> bytes:
    """A compound packet: the sender report (with its report blocks) and, if given, an SDES CNAME."""
    if len(report.reports) > 31:
        raise RtcpError("more than 31 report blocks")
    body = struct.pack(
        "!IIIIII",
        report.ssrc,
        (report.ntp_timestamp >> 32) & 0xFFFFFFFF,
        report.ntp_timestamp & 0xFFFFFFFF,
        report.rtp_timestamp & 0xFFFFFFFF,
        report.packet_count & 0xFFFFFFFF,
        report.octet_count & 0xFFFFFFFF,
    ) + b"".join(_block_bytes(b) for b in report.reports)
    out = struct.pack("!BBH", 0x80 | len(report.reports), SR, len(body) // 4) + body
    if cname is not None:
        out += _sdes_cname(report.ssrc, cname[:255])
    return out


def build_bye(ssrc: int) -> bytes:
    return struct.pack("!BBHI", 0x81, BYE, 1, ssrc)
