"""The UDP side of a media session: binding an RTP/RTCP port pair, draining a non-blocking socket."""

from __future__ import annotations

import errno
import random
import socket
from collections.abc import Callable


class MediaError(Exception):
    """A media session cannot do what was asked (no port free, no telephone-event negotiated, closed...)."""


def _bind(host: str, port: int) -> socket.socket | None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, errno.EACCES):
            return None
        raise MediaError(f"cannot bind {host}:{port}: {exc}") from exc
    sock.setblocking(False)
    return sock


def bind_rtp_pair(
    host: str, port_range: tuple[int, int], *, with_rtcp: bool
) -> tuple[socket.socket, socket.socket | None, int]:
    """Non-blocking sockets on a free even port of ``port_range`` (from a random start) and, optionally, port+1."""
    low, high = port_range
    candidates = list(range(low + (low & 1), high, 2))
    if not candidates:
        raise MediaError(f"no even port in {port_range}")
    start = random.randrange(len(candidates))
    for port in candidates[start:] + candidates[:start]:
        rtp_sock = _bind(host, port)
        if rtp_sock is None:
            continue
        rtcp_sock = None
        if with_rtcp:
            rtcp_sock = _bind(host, port + 1)
            if rtcp_sock is None:
                rtp_sock.close()
                continue
        return rtp_sock, rtcp_sock, port
    raise MediaError(f"no free RTP port pair in {port_range} on {host}")


def drain(sock: socket.socket, handle: Callable[[bytes, tuple[str, int]], None], limit: int) -> None:
    """Hand up to ``limit`` waiting datagrams to ``handle``; returns when the socket is empty."""
    for _ in range(limit):
        try:
            data, addr = sock.recvfrom(2048)
        except OSError:  # EAGAIN (empty), or an ICMP error surfaced on the socket
            return
        handle(data, addr)
