"""SRTP/SRTCP (RFC 3711) of one call leg with SDES keys (RFC 4568), AES_CM_128_HMAC_SHA1_80, via ``pylibsrtp``.

Sans-IO: :class:`SrtpStreams` turns plain packets into protected ones and back at the packet boundary; the
media session calls it between its RTP cores and its sockets.  A packet that fails authentication or the replay
check is dropped and counted (``None`` from ``unprotect_*``), never raised.
"""

from __future__ import annotations

import secrets

import pylibsrtp

SUITE = "AES_CM_128_HMAC_SHA1_80"
KEY_LENGTH = 30  # 16 bytes master key + 14 bytes master salt


def new_master_key() -> bytes:
    """A fresh master key + salt (30 random bytes) for our side of one call."""
    return secrets.token_bytes(KEY_LENGTH)


class SrtpStreams:
    """Both directions of one leg: ``tx_key`` protects what we send, ``rx_key`` (the peer's) checks what we get."""

    def __init__(self, tx_key: bytes, rx_key: bytes) -> None:
        if len(tx_key) != KEY_LENGTH or len(rx_key) != KEY_LENGTH:
            raise ValueError(f"SRTP master key + salt must be {KEY_LENGTH} bytes")
        self.tx_key = tx_key
        self.rx_key = rx_key
        self._tx = pylibsrtp.Session(
            pylibsrtp.Policy(key=tx_key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
        )
        self._rx = pylibsrtp.Session(
            pylibsrtp.Policy(key=rx_key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND)
        )
        self.counters = {"srtp_auth_failures": 0, "srtp_replays": 0, "srtp_errors": 0}

    def protect_rtp(self, packet: bytes) -> bytes:
        return self._tx.protect(packet)

    def protect_rtcp(self, packet: bytes) -> bytes:
        return self._tx.protect_rtcp(packet)

    def unprotect_rtp(self, packet: bytes) -> bytes | None:
        """The plain RTP packet, or None (counted) when it fails authentication or is a replay."""
        try:
            return self._rx.unprotect(packet)
        except (pylibsrtp.Error, ValueError) as exc:
            self._count(exc)
            return None

    def unprotect_rtcp(self, packet: bytes) -> bytes | None:
        try:
            return self._rx.unprotect_rtcp(packet)
        except (pylibsrtp.Error, ValueError) as exc:
            self._count(exc)
            return None

    def _count(self, exc: Exception) -> None:
        text = str(exc)
        if "authentication" in text:
            self.counters["srtp_auth_failures"] += 1
        elif "replay" in text or "too old" in text:
            self.counters["srtp_replays"] += 1
        else:  # too short to be SRTP, unknown stream ...
            self.counters["srtp_errors"] += 1
