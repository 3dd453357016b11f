"""The RTCP side of a session, sans-IO: reception statistics of the remote source (RFC 3550 §6.4.1, A.3, A.8)
fed once per received audio packet, the remote's last reports, and our sender reports with a report block.
"""

from __future__ import annotations

from ivr.media import rtcp
from ivr.media.rtcp import ReportBlock
from ivr.media.rtp import seq_delta, ts_delta


class ReceptionStats:
    __slots__ = (
        "_expected_prior",
        "_received_prior",
        "_transit",
        "base_ext",
        "jitter",
        "max_ext",
        "max_seq",
        "received",
        "ssrc",
    )

    def __init__(self) -> None:
        self._reset(None, 0)

    def _reset(self, ssrc: int | None, seq: int) -> None:
        self.ssrc = ssrc
        self.received = 0
        self.base_ext = seq
        self.max_ext = seq
        self.max_seq = seq
        self.jitter = 0.0  # timestamp units
        self._transit: int | None = None
        self._expected_prior = 0
        self._received_prior = 0

    def update(self, ssrc: int, seq: int, timestamp: int, arrival: int) -> None:
        """One packet: ``arrival`` in timestamp units of our own clock."""
        if ssrc != self.ssrc:
            self._reset(ssrc, seq)
        else:
            delta = seq_delta(seq, self.max_seq)
            if delta > 0:
                self.max_ext += delta
                self.max_seq = seq
        self.received += 1
        transit = arrival - timestamp
        if self._transit is not None:
            d = abs(ts_delta(transit & 0xFFFFFFFF, self._transit & 0xFFFFFFFF))
            self.jitter += (d - self.jitter) / 16
        self._transit = transit

    @property
    def expected(self) -> int:
        return self.max_ext - self.base_ext + 1 if self.ssrc is not None else 0

    @property
    def cumulative_lost(self) -> int:
        return max(-0x800000, min(0x7FFFFF, self.expected - self.received))

    def report_block(self, lsr: int = 0, dlsr: int = 0) -> ReportBlock | None:
        """The block for our next SR/RR (and the start of the next interval), None before any packet."""
        if self.ssrc is None:
            return None
        expected_interval = self.expected - self._expected_prior
        received_interval = self.received - self._received_prior
        self._expected_prior, self._received_prior = self.expected, self.received
        lost_interval = expected_interval - received_interval
        fraction = (lost_interval << 8) // expected_interval if expected_interval > 0 and lost_interval > 0 else 0
        return ReportBlock(
            self.ssrc, min(fraction, 255), self.cumulative_lost, self.max_ext & 0xFFFFFFFF, int(self.jitter), lsr, dlsr
        )


class RtcpPeer:
    """What one session knows from and tells the remote over RTCP: its last compound packet, LSR/DLSR, our SR."""

    def __init__(self, ssrc: int, cname: bytes) -> None:
        self.ssrc = ssrc
        self.cname = cname
        self.reception = ReceptionStats()
        self.last: list[rtcp.RtcpPacket] = []
        self._last_sr: tuple[int, float] | None = None  # (middle 32 bits of its NTP time, when it came)

    def on_packet(self, data: bytes, now: float) -> None:
        """Parse a received compound packet; raises :class:`~ivr.media.rtcp.RtcpError` on garbage."""
        self.last = rtcp.parse(data)
        for packet in self.last:
            if isinstance(packet, rtcp.SenderReport):
                self._last_sr = ((packet.ntp_timestamp >> 16) & 0xFFFFFFFF, now)

    def sender_report(self, *, rtp_ts: int, packets: int, octets: int, now: float, wallclock: float) -> bytes:
        lsr, dlsr = 0, 0
        if self._last_sr is not None:
            lsr, dlsr = self._last_sr[0], int((now - self._last_sr[1]) * 65536) & 0xFFFFFFFF
        block = self.reception.report_block(lsr, dlsr)
        report = rtcp.SenderReport(
            self.ssrc, rtcp.ntp_from_unix(wallclock), rtp_ts, packets, octets, (block,) if block is not None else ()
        )
        return rtcp.build_sr(report, cname=self.cname)
