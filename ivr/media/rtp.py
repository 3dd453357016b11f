"""RTP packets (RFC 3550 §5.1): decode and encode, sans-IO."""

from __future__ import annotations

import struct
from dataclasses import dataclass

_HEADER = struct.Struct("!BBHII")
HEADER_SIZE = 12
RTP_VERSION = 2


class RtpError(ValueError):
    """The datagram is not a well-formed RTP packet."""


@dataclass(frozen=True, slots=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    extension: tuple[int, bytes] | None = None  # (profile-defined 16 bits, extension data)
    padding: int = 0  # number of padding octets that followed the payload


def decode(data: bytes) -> RtpPacket:
    """Parse one RTP packet; raises :class:`RtpError` on anything malformed."""
    n = len(data)
    if n < HEADER_SIZE:
        raise RtpError(f"packet too short ({n} bytes)")
    b0, b1, seq, ts, ssrc = _HEADER.unpack_from(data)
    if b0 == 0x80:  # fast path: v2, no padding, no extension, no CSRC
        return RtpPacket(b1 & 0x7F, seq, ts, ssrc, data[12:], bool(b1 & 0x80))
    if b0 >> 6 != RTP_VERSION:
        raise RtpError(f"RTP version {b0 >> 6}, expected 2")
    offset = HEADER_SIZE
    cc = b0 & 0x0F
    if n < offset + 4 * cc:
        raise RtpError("truncated CSRC list")
    csrcs = struct.unpack_from(f"!{cc}I", data, offset) if cc else ()
    offset += 4 * cc
    extension = None
    if b0 & 0x10:
        if n < offset + 4:
            raise RtpError("truncated header extension")
        profile, words = struct.unpack_from("!HH", data, offset)
        offset += 4
        if n < offset + 4 * words:
            raise RtpError("truncated header extension data")
        extension = (profile, bytes(data[offset : offset + 4 * words]))
        offset += 4 * words
    end = n
    padding = 0
    if b0 & 0x20:
        padding = data[-1]
        if padding == 0 or offset + padding > n:
            raise RtpError(f"invalid padding length {padding}")
        end -= padding
    return RtpPacket(b1 & 0x7F, seq, ts, ssrc, bytes(data[offset:end]), bool(b1 & 0x80), csrcs, extension, padding)


def encode(packet: RtpPacket) -> bytes:
    """Serialise ``packet`` (padding of ``packet.padding`` octets is added when non-zero)."""
    if not 0 <= packet.payload_type <= 127:
        raise RtpError(f"payload type {packet.payload_type} out of range")
    if len(packet.csrcs) > 15:
        raise RtpError("more than 15 CSRCs")
    b0 = (RTP_VERSION << 6) | len(packet.csrcs)
    ext = b""
    if packet.extension is not None:
        profile, data = packet.extension
        if len(data) % 4:
            raise RtpError("header extension length must be a multiple of 4")
        b0 |= 0x10
        ext = struct.pack("!HH", profile & 0xFFFF, len(data) // 4) + data
    pad = b""
    if packet.padding:
        if not 0 < packet.padding < 256:
            raise RtpError("padding must be 1..255 octets")
        b0 |= 0x20
        pad = bytes(packet.padding - 1) + bytes((packet.padding,))
    head = _HEADER.pack(
        b0,
        (0x80 if packet.marker else 0) | packet.payload_type,
        packet.sequence & 0xFFFF,
        packet.timestamp & 0xFFFFFFFF,
        packet.ssrc & 0xFFFFFFFF,
    )
    csrc = struct.pack(f"!{len(packet.csrcs)}I", *packet.csrcs) if packet.csrcs else b""
    return head + csrc + ext + packet.payload + pad


def pack_header_into(buf: bytearray, marker: bool, payload_type: int, sequence: int, timestamp: int, ssrc: int) -> None:
    """Write a plain 12-byte header at the start of ``buf`` (hot send path: no allocation)."""
    _HEADER.pack_into(buf, 0, 0x80, (0x80 if marker else 0) | payload_type, sequence, timestamp, ssrc)


def seq_delta(a: int, b: int) -> int:
    """Signed distance from sequence number ``b`` to ``a`` modulo 2**16 (positive when ``a`` is newer)."""
    return ((a - b + 0x8000) & 0xFFFF) - 0x8000


def ts_delta(a: int, b: int) -> int:
    """Signed distance from timestamp ``b`` to ``a`` modulo 2**32."""
    return ((a - b + 0x80000000) & 0xFFFFFFFF) - 0x80000000
