"""MediaSession: the RTP side of one call leg (UDP socket shell around the sans-IO media cores).

The shared :class:`~ivr.media.pacer.Pacer` drives every session.  In the send phase of a tick the session sends
exactly one packet: a DTMF event packet, a playback frame, bridged audio, or silence.  In the receive phase it
drains its non-blocking socket (no per-packet event-loop wake-ups), feeds the jitter buffer and the RFC 4733
receiver, and pops one frame for its audio sink / bridge peer.  RTP timestamps are derived from the pacer's
frame number, so they advance 160 per frame even across silence, hold or skipped frames.
With SRTP on (:meth:`MediaSession.set_srtp`), every packet is protected right before ``sendto`` and unprotected
right after ``recvfrom`` (:class:`~ivr.media.srtp.SrtpStreams`); a packet failing authentication is dropped and
counted (``srtp_auth_failures``), the RTP cores never see it.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import socket
import struct
import time
from collections.abc import Callable
from typing import Literal

from ivr.app import FRAME_SAMPLES, Playback
from ivr.clock import Clock
from ivr.media import dtmf, rtcp
from ivr.media.codecs import PCMU, Codec, codec_by_name, transcode_table
from ivr.media.jitter import JitterBuffer
from ivr.media.pacer import Pacer
from ivr.media.playback import PlaybackQueue
from ivr.media.reception import RtcpPeer
from ivr.media.rtp import RtpError, decode, pack_header_into
from ivr.media.srtp import SrtpStreams
from ivr.media.udp import MediaError, bind_rtp_pair, drain

log = logging.getLogger(__name__)

Direction = Literal["sendrecv", "sendonly", "recvonly", "inactive"]
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
CN_PAYLOAD_TYPE = 13
MAX_DRAIN = 64  # datagrams read per socket per tick
MAX_PAYLOAD = 1280  # bytes of G.711 in one packet (160 ms)
RTCP_INTERVAL_FRAMES = 250  # 5 s
_playback_ids = itertools.count(1)
_SEQ_TS_SSRC = struct.Struct("!HII")


class MediaSession:
    """The RTP media of one call leg; see ivr/media/README.md for the API the engine uses."""

    def __init__(
        self,
        *,
        local_host: str,
        port_range: tuple[int, int],
        pacer: Pacer,
        clock: Clock,
        loop: asyncio.AbstractEventLoop | None = None,
        jitter_target_ms: int = 60,
        with_rtcp: bool = True,
    ) -> None:
        low, high = port_range
        if not 0 < low < high <= 65535:
            raise ValueError(f"bad port range {port_range}")
        self.local_host = local_host
        self.port_range = (low, high)
        self.pacer = pacer
        self.clock = clock
        self._loop = loop
        self._jitter_target_ms = jitter_target_ms
        self._use_rtcp = with_rtcp
        self.port = 0
        self.closed = False
        self.direction: Direction = "sendrecv"
        self._receiving = True
        self._sending = True
        self._sock: socket.socket | None = None
        self._watched = False  # the pacer reads our RTP socket when it is readable (epoll)
        self._rtcp_sock: socket.socket | None = None
        self._srtp: SrtpStreams | None = None
        self._srtp_counters = {"srtp_auth_failures": 0, "srtp_replays": 0, "srtp_errors": 0}
        # remote / negotiated
        self.codec: Codec = PCMU
        self.payload_type = PCMU.static_pt
        self.dtmf_payload_type: int | None = None
        self.remote_ptime = 20
        self._dest: tuple[str, int] | None = None
        self._rtcp_dest: tuple[str, int] | None = None
        self._signalled: tuple[str, int] | None = None
        # send state
        self.ssrc = secrets.randbits(32)
        self._phase = self.ssrc % RTCP_INTERVAL_FRAMES  # spreads RTCP work of many sessions over the ticks
        self._seq = secrets.randbits(16)
        self._ts0 = secrets.randbits(32)
        self._n0: int | None = None
        self._gap = True  # next packet starts a talkspurt (marker)
        self._last_sent_frame = -2
        self._buf = bytearray(12 + FRAME_SAMPLES)
        self._silence = PCMU.silence_frame(FRAME_SAMPLES)
        self._playback = PlaybackQueue()
        self._dtmf_out = dtmf.DtmfSender()
        self._bridge_in: bytes | None = None
        self._bridge_peer: MediaSession | None = None
        # receive state
        self._jb = self._new_jitter_buffer()
        self._dtmf_rx = dtmf.ReceiverState()
        self._sink: Callable[[bytes], None] | None = None
        self._dtmf_handler: Callable[[str, int], None] | None = None
        self._rtcp = RtcpPeer(self.ssrc, f"ivr@{local_host}".encode())
        self._reception = self._rtcp.reception
        self.last_rtp_at: float | None = None  # clock time of the last valid RTP packet (for RTP timeouts)
        self.counters = dict.fromkeys(
            (
                "sent", "sent_bytes", "send_errors", "received", "bad_packets", "foreign_pt", "latched",
                "dtmf_received", "rtcp_received", "rtcp_bad", "rtcp_sent", "other_ptime",
            ),
            0,
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"<MediaSession {self.local_host}:{self.port} ssrc={self.ssrc:08x} dest={self._dest}>"

    def _new_jitter_buffer(self) -> JitterBuffer:
        return JitterBuffer(
            silence=self.codec.silence_frame(FRAME_SAMPLES),
            attenuate=self.codec.attenuate,
            target_ms=self._jitter_target_ms,
        )

    # -- setup ----------------------------------------------------------------------------------------------------
    def open(self) -> int:
        """Bind an even RTP port (and port+1 for RTCP) from the range; register with the pacer."""
        if self._sock is not None:
            return self.port
        if self.closed:
            raise MediaError("session is closed")
        self._sock, self._rtcp_sock, self.port = bind_rtp_pair(
            self.local_host, self.port_range, with_rtcp=self._use_rtcp
        )
        self._watched = self.pacer.watch(self._sock.fileno(), self._read_one)
        self.pacer.register(self)
        return self.port

    def set_remote(
        self, host: str, port: int, *, payload_type: int, codec: str, dtmf_payload_type: int | None, ptime: int = 20
    ) -> None:
        """Where to send (until symmetric RTP latches to the real source), and the negotiated formats."""
        if not 10 <= ptime <= 150:
            raise MediaError(f"ptime {ptime} ms out of range")
        self.remote_ptime = ptime  # we always send 20 ms packets; received packets of any duration are re-framed
        if not 0 <= payload_type <= 127 or (dtmf_payload_type is not None and not 0 <= dtmf_payload_type <= 127):
            raise MediaError("payload type out of range")
        new_codec = codec_by_name(codec)
        if new_codec.name != self.codec.name:
            self.codec = new_codec
            self._silence = new_codec.silence_frame(FRAME_SAMPLES)
            self._jb = self._new_jitter_buffer()
            self.payload_type = payload_type
        self.dtmf_payload_type = dtmf_payload_type
        if (host, port) != self._signalled:  # a new address in the SDP (re-INVITE) overrides the latch
            self._signalled = (host, port)
            if port == 0 or host in ("0.0.0.0", "::", ""):  # stream rejected, or RFC 2543 hold: send nothing
                self._dest = self._rtcp_dest = None
            else:
                self._dest = (host, port)
                self._rtcp_dest = (host, port + 1)

    def set_srtp(self, tx_key: bytes, rx_key: bytes) -> None:
        """Protect RTP/RTCP with ``tx_key`` and check what arrives with ``rx_key`` (30-byte SDES master key || salt,
        AES_CM_128_HMAC_SHA1_80).  The same keys again (a re-INVITE) keep the running SRTP state."""
        current = self._srtp
        if current is not None and current.tx_key == tx_key and current.rx_key == rx_key:
            return
        self._fold_srtp_counters()
        self._srtp = SrtpStreams(tx_key, rx_key)

    def clear_srtp(self) -> None:
        """Back to plain RTP (a re-INVITE without crypto)."""
        self._fold_srtp_counters()
        self._srtp = None

    @property
    def secure(self) -> bool:
        return self._srtp is not None

    def _fold_srtp_counters(self) -> None:
        if self._srtp is not None:
            for name, value in self._srtp.counters.items():
                self._srtp_counters[name] += value

    def _srtp_stats(self) -> dict[str, int]:
        live = self._srtp.counters if self._srtp is not None else {}
        return {name: value + live.get(name, 0) for name, value in self._srtp_counters.items()}

    @property
    def remote(self) -> tuple[str, int] | None:
        """Where RTP is sent now (the latched source address once the remote has sent RTP)."""
        return self._dest

    # -- application API --------------------------------------------------------------------------------------------
    def play(self, pcm: bytes, *, interruptible: bool = True) -> Playback:
        loop = self._loop or asyncio.get_running_loop()
        handle = Playback(next(_playback_ids), loop.create_future())
        if self.closed:
            handle.done.set_result(False)
        else:
            self._playback.add(bytes(pcm), handle, interruptible=interruptible)
        return handle

    def stop_playback(self, force: bool = False) -> None:
        self._playback.stop(force=force)

    @property
    def playing(self) -> bool:
        return self._playback.active

    def set_audio_sink(self, cb: Callable[[bytes], None] | None) -> None:
        self._sink = cb

    def set_dtmf_handler(self, cb: Callable[[str, int], None] | None) -> None:
        self._dtmf_handler = cb

    def send_dtmf(self, digit: str, duration_ms: int = 100) -> None:
        """Queue an RFC 4733 event; audio pauses while it is sent."""
        if self.dtmf_payload_type is None:
            raise MediaError("no telephone-event payload type negotiated")
        self._dtmf_out.queue(digit, duration_ms)

    def set_direction(self, direction: Direction) -> None:
        """Our direction: ``sendonly`` / ``inactive`` stop delivering received audio, ``recvonly`` stops sending."""
        if direction not in DIRECTIONS:
            raise ValueError(f"unknown direction {direction!r}")
        self.direction = direction
        self._receiving = direction in ("sendrecv", "recvonly")
        self._sending = direction in ("sendrecv", "sendonly")

    def set_bridge_peer(self, peer: MediaSession | None) -> None:
        """Send our received audio (and digits) to ``peer`` instead of nowhere; see :mod:`ivr.media.bridge`."""
        self._bridge_peer = peer
        self._bridge_in = None

    @property
    def bridge_peer(self) -> MediaSession | None:
        return self._bridge_peer

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.pacer.unregister(self)
        self._playback.stop(force=True)
        peer = self._bridge_peer
        if peer is not None and peer._bridge_peer is self:
            peer.set_bridge_peer(None)
        self._bridge_peer = None
        if self._rtcp_sock is not None and self._rtcp_dest is not None and self.counters["sent"]:
            self._sendto(self._rtcp_sock, self._rtcp_out(rtcp.build_bye(self.ssrc)), self._rtcp_dest)
        if self._sock is not None and self._watched:
            self.pacer.unwatch(self._sock.fileno())
        for sock in (self._sock, self._rtcp_sock):
            if sock is not None:
                sock.close()
        self._sock = self._rtcp_sock = None

    def stats(self) -> dict[str, float | int]:
        jb = self._jb.stats
        pacer = self.pacer.stats
        return {
            **self.counters,
            **self._srtp_stats(),
            "srtp": int(self._srtp is not None),
            "dtmf_sent": self._dtmf_out.digits_sent,
            "lost": jb.lost,
            "late": jb.late,
            "duplicates": jb.duplicates,
            "concealed": jb.concealed,
            "underruns": jb.underruns,
            "jitter_ms": round(self._reception.jitter * 1000 / self.codec.clock_rate, 3),
            "remote_lost": self._reception.cumulative_lost,
            "late_ticks": pacer.late_ticks,
            "max_lateness_ms": round(pacer.max_lateness * 1000, 3),
            "skipped_frames": pacer.skipped_frames,
            "playbacks_completed": self._playback.completed,
            "playbacks_stopped": self._playback.stopped,
        }

    # -- pacer ticks ------------------------------------------------------------------------------------------------
    def tick_receive(self, frame_no: int, now: float) -> None:
        sock = self._sock
        if sock is None:
            return
        if not self._watched:  # no epoll: drain here
            for _ in range(MAX_DRAIN):
                try:
                    data, addr = sock.recvfrom(2048)
                except OSError:  # EAGAIN: drained
                    break
                self._on_datagram(data, addr, now)
        if (frame_no + self._phase) % 25 == 0 and self._rtcp_sock is not None:
            drain(self._rtcp_sock, self._on_rtcp, MAX_DRAIN)
        frame = self._jb.pop_frame(now)
        if frame is not None and self._receiving:
            peer = self._bridge_peer
            if peer is not None:
                table = transcode_table(self.codec, peer.codec)
                peer._bridge_in = frame.translate(table) if table is not None else frame
            sink = self._sink
            if sink is not None:
                try:
                    sink(self.codec.decode(frame))
                except Exception:  # an application bug must not stop this call's media: drop the sink
                    log.exception("%r: audio sink failed; sink removed", self)
                    self._sink = None
        if not self._dtmf_rx.reported:
            self._dtmf_step(dtmf.Poll(now))

    def _read_one(self, now: float) -> None:
        """The pacer saw our RTP socket readable: take one datagram."""
        sock = self._sock
        if sock is None:
            return
        try:
            data, addr = sock.recvfrom(2048)
        except OSError:
            return
        self._on_datagram(data, addr, now)

    def tick_send(self, frame_no: int, now: float) -> None:
        if self._n0 is None:
            self._n0 = frame_no
        dest = self._dest
        sock = self._sock
        if dest is None or not self._sending or sock is None:
            self._gap = True
            self._bridge_in = None
            return
        ts = (self._ts0 + (frame_no - self._n0) * FRAME_SAMPLES) & 0xFFFFFFFF
        marker = self._gap or frame_no != self._last_sent_frame + 1
        self._gap = False
        self._last_sent_frame = frame_no
        event = self._dtmf_out.next_packet(ts) if self._dtmf_out else None
        if event is not None:
            self._send_dtmf_packet(event, dest)
            return
        bridged, self._bridge_in = self._bridge_in, None
        nxt = self._playback.next_frame(self.codec) if self._playback.active else None
        if nxt is not None:
            payload, starts = nxt
            marker = marker or starts
        else:
            payload = bridged if bridged is not None else self._silence
        buf = self._buf  # 12 + 160 bytes; every audio payload is one 20 ms frame
        pack_header_into(buf, marker, self.payload_type, self._seq, ts, self.ssrc)
        buf[12:] = payload
        self._seq = (self._seq + 1) & 0xFFFF
        try:
            sock.sendto(buf if self._srtp is None else self._srtp.protect_rtp(bytes(buf)), dest)
        except OSError:  # buffer full, unreachable, bad address: count it, never break the tick
            self.counters["send_errors"] += 1
        else:
            counters = self.counters
            counters["sent"] += 1
            counters["sent_bytes"] += 12 + FRAME_SAMPLES
        if nxt is not None:
            self._playback.finish_if_done()
        if (frame_no + self._phase) % RTCP_INTERVAL_FRAMES == 0:
            self._send_sr(ts)

    def _send_dtmf_packet(self, event: tuple[bytes, bool, int], dest: tuple[str, int]) -> None:
        payload, marker, event_ts = event
        pt = self.dtmf_payload_type if self.dtmf_payload_type is not None else 101
        header = bytearray(12)
        pack_header_into(header, marker, pt, self._seq, event_ts, self.ssrc)
        self._seq = (self._seq + 1) & 0xFFFF
        packet = bytes(header) + payload
        if self._srtp is not None:
            packet = self._srtp.protect_rtp(packet)
        if self._sock is not None and self._sendto(self._sock, packet, dest):
            self.counters["sent"] += 1
        self._gap = True  # audio after the event starts a new talkspurt

    def _sendto(self, sock: socket.socket, data: bytes | memoryview, dest: tuple[str, int]) -> bool:
        try:
            sock.sendto(data, dest)
            return True
        except OSError:  # buffer full, unreachable, bad address: count it, never break the tick
            self.counters["send_errors"] += 1
            return False

    # -- receive path -----------------------------------------------------------------------------------------------
    def _on_datagram(self, data: bytes, addr: tuple[str, int], now: float) -> None:
        counters = self.counters
        srtp = self._srtp
        if srtp is not None:
            if len(data) >= 2 and 200 <= data[1] <= 204:  # SRTCP multiplexed on the RTP port (RFC 5761)
                self._on_rtcp(data, addr)
                return
            plain = srtp.unprotect_rtp(data)
            if plain is None:  # authentication or replay failure: counted by the SRTP streams, dropped
                return
            data = plain
        if (
            len(data) == 12 + FRAME_SAMPLES
            and data[0] == 0x80
            and data[1] & 0x7F == self.payload_type
            and self._signalled is not None
        ):  # fast path: a plain 20 ms audio packet of the negotiated type
            seq, timestamp, ssrc = _SEQ_TS_SSRC.unpack_from(data, 2)
            if self._receiving:
                self._jb.insert(ssrc, seq, data[12:], now)
            self._reception.update(ssrc, seq, timestamp, int(now * self.codec.clock_rate))
            counters["received"] += 1
            self.last_rtp_at = now
            if addr != self._dest:
                self._latch(addr)
            return
        if len(data) < 12 or data[0] & 0xC0 != 0x80:
            counters["bad_packets"] += 1
            return
        if 200 <= data[1] <= 204:  # RTCP multiplexed on the RTP port (RFC 5761)
            self._on_rtcp(data, addr)
            return
        try:
            packet = decode(data)
        except RtpError:
            counters["bad_packets"] += 1
            return
        pt = packet.payload_type
        if self._signalled is None:
            counters["foreign_pt"] += 1
            return
        if pt == self.payload_type:
            if not 0 < len(packet.payload) <= MAX_PAYLOAD:
                counters["bad_packets"] += 1
                return
            if len(packet.payload) != FRAME_SAMPLES:
                counters["other_ptime"] += 1  # not 20 ms: re-framed on the way out of the jitter buffer
            if self._receiving:
                self._jb.push(packet, now)
            self._reception.update(packet.ssrc, packet.sequence, packet.timestamp, int(now * self.codec.clock_rate))
        elif pt == self.dtmf_payload_type:
            self._jb.push_non_audio(packet, now)
            try:
                event = dtmf.decode_event(packet.payload)
            except dtmf.DtmfError:
                counters["bad_packets"] += 1
                return
            self._dtmf_step(dtmf.EventPacket(packet.ssrc, packet.timestamp, event, now))
        elif pt == CN_PAYLOAD_TYPE:
            self._jb.push_non_audio(packet, now)
        else:
            counters["foreign_pt"] += 1
            return
        counters["received"] += 1
        self.last_rtp_at = now
        if addr != self._dest:
            self._latch(addr)

    def _latch(self, addr: tuple[str, int]) -> None:
        """Symmetric RTP: answer where the remote's RTP really comes from."""
        self._dest = addr
        self._rtcp_dest = (addr[0], addr[1] + 1)
        self.counters["latched"] += 1

    def _dtmf_step(self, event: dtmf.EventPacket | dtmf.Poll) -> None:
        self._dtmf_rx, digits = dtmf.step(self._dtmf_rx, event)
        for d in digits:
            self.counters["dtmf_received"] += 1
            peer = self._bridge_peer
            if peer is not None and peer.dtmf_payload_type is not None:
                peer.send_dtmf(d.digit, max(40, d.duration_ms))
            handler = self._dtmf_handler
            if handler is not None:
                try:
                    handler(d.digit, d.duration_ms)
                except Exception:
                    log.exception("%r: DTMF handler failed on %r", self, d.digit)

    # -- RTCP -------------------------------------------------------------------------------------------------------
    def _rtcp_out(self, packet: bytes) -> bytes:
        return packet if self._srtp is None else self._srtp.protect_rtcp(packet)

    def _on_rtcp(self, data: bytes, addr: tuple[str, int]) -> None:
        if self._srtp is not None:
            plain = self._srtp.unprotect_rtcp(data)
            if plain is None:
                return
            data = plain
        try:
            self._rtcp.on_packet(data, self.clock.now())
        except rtcp.RtcpError:
            self.counters["rtcp_bad"] += 1
            return
        self.counters["rtcp_received"] += 1

    @property
    def last_rtcp(self) -> list[rtcp.RtcpPacket]:
        return list(self._rtcp.last)

    def _send_sr(self, rtp_ts: int) -> None:
        if self._rtcp_sock is None or self._rtcp_dest is None:
            return
        sent = self.counters["sent"]
        octets = max(0, self.counters["sent_bytes"] - 12 * sent)
        packet = self._rtcp.sender_report(
            rtp_ts=rtp_ts, packets=sent, octets=octets, now=self.clock.now(), wallclock=time.time()
        )
        if self._sendto(self._rtcp_sock, self._rtcp_out(packet), self._rtcp_dest):
            self.counters["rtcp_sent"] += 1
