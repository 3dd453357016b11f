"""SIP transports (RFC 3261 §18) over Twisted: UDP and TCP.  Thin: bytes in, bytes out, counters.

Every complete message goes to ``on_message(data, source)``; the sans-IO engine decides what to send and where
(``send(data, dest)``).  Datagrams over ``max_datagram`` are dropped and counted here; the engine counts what
it cannot parse.  TCP streams are cut into messages by a framer (``feed(bytes) -> list[bytes]``, raising
``ValueError`` on a broken stream, which closes that connection only, with one log line; when the error
carries the header section that could not be framed (:class:`ivr.sip.errors.SipFramingError` ``head``), that
head goes to ``on_message`` first, so a request gets its 400 before the close).  Responses to a request that came over
TCP go back over the same connection; a request to a TCP destination without one opens a connection.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from twisted.internet.asyncioreactor import AsyncioSelectorReactor
from twisted.internet.error import CannotListenError
from twisted.internet.protocol import ClientFactory, DatagramProtocol, Factory
from twisted.internet.protocol import Protocol as TxProtocol

from config.loader import ListenError
from ivr.sip.address import Endpoint

log = logging.getLogger(__name__)

__all__ = ["Endpoint", "NetStats", "SipTransports"]


@dataclass
class NetStats:
    datagrams_in: int = 0
    oversize_dropped: int = 0
    garbage_dropped: int = 0  # counted by the engine: unparseable input
    bad_requests: int = 0  # answered 400
    tcp_connections: int = 0
    tcp_stream_errors: int = 0
    send_errors: int = 0
    sent: int = 0
    extra: dict[str, int] = field(default_factory=dict)


class Framer(Protocol):
    def feed(self, data: bytes) -> list[bytes]: ...


MessageSink = Callable[[bytes, Endpoint], None]


class _Udp(DatagramProtocol):
    def __init__(self, owner: SipTransports) -> None:
        self.owner = owner

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self.owner.stats.datagrams_in += 1
        if len(datagram) > self.owner.max_datagram:
            self.owner.stats.oversize_dropped += 1
            return
        host, port = addr[0], addr[1]
        self.owner.deliver(datagram, Endpoint("udp", host, port))


class _TcpConn(TxProtocol):
    def __init__(self, owner: SipTransports) -> None:
        self.owner = owner
        self.framer: Framer = owner.framer_factory()
        self.peer: Endpoint | None = None

    def connectionMade(self) -> None:
        transport: Any = self.transport
        addr = transport.getPeer()
        self.peer = Endpoint("tcp", addr.host, addr.port)
        self.owner.stats.tcp_connections += 1
        self.owner.tcp_conns[self.peer] = self
        pending = self.owner.tcp_pending.pop(self.peer, [])
        for data in pending:
            transport.write(data)

    def dataReceived(self, data: bytes) -> None:
        assert self.peer is not None
        try:
            messages = self.framer.feed(data)
        except ValueError as exc:  # SipFramingError among them: the stream cannot be cut any further
            self.owner.stats.tcp_stream_errors += 1
            log.info("closing TCP connection from %s: %s", self.peer, exc)
            for message in getattr(exc, "framed", []):  # the messages ahead of the break are whole
                self.owner.deliver(message, self.peer)
            head = getattr(exc, "head", None)
            if isinstance(head, bytes):
                # the header section alone still fails to parse (its Content-Length is what is wrong), so
                # the engine answers a request with 400 over this connection before it is closed
                self.owner.deliver(head + b"\r\n\r\n", self.peer)
            transport: Any = self.transport
            transport.loseConnection()
            return
        for message in messages:
            self.owner.deliver(message, self.peer)

    def connectionLost(self, reason: Any = None) -> None:
        if self.peer is not None and self.owner.tcp_conns.get(self.peer) is self:
            del self.owner.tcp_conns[self.peer]


class _TcpFactory(Factory):
    def __init__(self, owner: SipTransports) -> None:
        self.owner = owner

    def buildProtocol(self, addr: Any) -> _TcpConn:
        return _TcpConn(self.owner)


class _TcpClientFactory(ClientFactory):
    def __init__(self, owner: SipTransports, dest: Endpoint) -> None:
        self.owner = owner
        self.dest = dest

    def buildProtocol(self, addr: Any) -> _TcpConn:
        return _TcpConn(self.owner)

    def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
        dropped = self.owner.tcp_pending.pop(self.dest, [])
        self.owner.stats.send_errors += len(dropped)
        log.info("TCP connect to %s:%d failed: %s", self.dest.host, self.dest.port, reason.getErrorMessage())
        if self.owner.on_unreachable is not None:
            self.owner.on_unreachable(self.dest)


class SipTransports:
    """The UDP socket and TCP listener of one SIP endpoint."""

    def __init__(
        self,
        reactor: AsyncioSelectorReactor,
        on_message: MessageSink,
        framer_factory: Callable[[], Framer],
        *,
        max_datagram: int = 65535,
    ) -> None:
        self.reactor = reactor
        self.on_message = on_message
        self.framer_factory = framer_factory
        self.max_datagram = max_datagram
        self.stats = NetStats()
        self.udp_port: Any = None
        self.tcp_port: Any = None
        self.tcp_conns: dict[Endpoint, _TcpConn] = {}
        self.tcp_pending: dict[Endpoint, list[bytes]] = {}
        self.on_unreachable: Callable[[Endpoint], None] | None = None  # a TCP connection could not be made

    def listen(self, host: str, port: int, transports: list[str]) -> int:
        """Open the sockets; returns the bound port (UDP and TCP share it; ``port=0`` picks a free one)."""
        kind = "UDP"
        try:
            if "udp" in transports:
                self.udp_port = self.reactor.listenUDP(
                    port, _Udp(self), interface=host, maxPacketSize=self.max_datagram + 1
                )
                port = self.udp_port.getHost().port
            kind = "TCP"
            if "tcp" in transports:
                self.tcp_port = self.reactor.listenTCP(port, _TcpFactory(self), interface=host)
                port = self.tcp_port.getHost().port
        except CannotListenError as exc:  # one clear line for the operator, not a Twisted traceback
            if self.udp_port is not None:
                self.udp_port.stopListening()
                self.udp_port = None
            raise ListenError(f"SIP {kind}", host, port, exc.socketError, "ivr.yaml port or hotline serve --port") \
                from None
        return port

    def deliver(self, data: bytes, source: Endpoint) -> None:
        try:
            self.on_message(data, source)
        except Exception:  # one bad message never takes the endpoint down
            self.stats.extra["handler_errors"] = self.stats.extra.get("handler_errors", 0) + 1
            log.exception("error handling a message from %s", source)

    def send(self, data: bytes, dest: Endpoint) -> None:
        self.stats.sent += 1
        if dest.transport == "tcp":
            conn = self.tcp_conns.get(dest)
            tcp: Any = conn.transport if conn is not None else None
            if tcp is not None:
                tcp.write(data)
                return
            first = dest not in self.tcp_pending
            self.tcp_pending.setdefault(dest, []).append(data)
            if first:
                self.reactor.connectTCP(dest.host, dest.port, _TcpClientFactory(self, dest), timeout=10)
            return
        if self.udp_port is None:
            self.stats.send_errors += 1
            return
        try:
            self.udp_port.write(data, (dest.host, dest.port))
        except Exception as exc:  # e.g. EMSGSIZE, unreachable host
            self.stats.send_errors += 1
            log.info("UDP send to %s:%d failed: %s", dest.host, dest.port, exc)

    def close(self) -> None:
        for conn in list(self.tcp_conns.values()):
            tcp: Any = conn.transport
            if tcp is not None:
                tcp.loseConnection()
        if self.udp_port is not None:
            self.udp_port.stopListening()
            self.udp_port = None
        if self.tcp_port is not None:
            self.tcp_port.stopListening()
            self.tcp_port = None
