"""Reading SIPp's RTP captures (classic libpcap) in the media tests."""

from __future__ import annotations

import struct
from pathlib import Path

CAPTURES = Path("/usr/share/sip-tester")


def read_pcap_udp_payloads(path: Path) -> list[tuple[float, bytes]]:
    """(capture time, UDP payload) of each IPv4/UDP frame of a classic libpcap file (Ethernet or raw IP)."""
    data = path.read_bytes()
    magic = struct.unpack_from("<I", data)[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack_from(endian + "I", data, 20)[0]
    out = []
    offset = 24
    while offset + 16 <= len(data):
        sec, usec, incl, _orig = struct.unpack_from(endian + "IIII", data, offset)
        frame = data[offset + 16 : offset + 16 + incl]
        offset += 16 + incl
        ip = frame[14:] if linktype == 1 else frame
        if linktype == 1 and frame[12:14] != b"\x08\x00":
            continue
        if ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 0x0F) * 4
        udp_len = struct.unpack_from("!H", ip, ihl + 4)[0]
        out.append((sec + usec / 1e6, bytes(ip[ihl + 8 : ihl + udp_len])))
    return out
