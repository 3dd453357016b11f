"""SIP transports (RFC 3261 §18) over Twisted: UDP, TCP and TLS.  Thin: bytes in, bytes out, counters.

Every complete message goes to ``on_message(data, source)``; the sans-IO engine decides what to send and where
(``send(data, dest)``).  Datagrams over ``max_datagram`` are dropped and counted here; the engine counts what
it cannot parse.  TCP streams are cut into messages by a framer (``feed(bytes) -> list[bytes]``, raising
``ValueError`` on a broken stream, which closes that connection only, with one log line; when the error
carries the header section that could not be framed (:class:`ivr.sip.errors.SipFramingError` ``head``), that
head goes to ``on_message`` first, so a request gets its 400 before the close).  Responses to a request that came over
TCP go back over the same connection; a request to a TCP destination without one opens a connection.
TLS (RFC 3261 §26.2) is TCP with Twisted's TLS on its own listener port: the same framer, the same connection
table (keyed by ``Endpoint("tls", ...)``); the certificate and key come from :class:`TlsOptions`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from twisted.internet.asyncioreactor import AsyncioSelectorReactor
from twisted.internet.error import CannotListenError
from twisted.internet.protocol import ClientFactory, DatagramProtocol, Factory
from twisted.internet.protocol import Protocol as TxProtocol

from config.loader import ListenError
from ivr.sip.address import Endpoint, TransportName

log = logging.getLogger(__name__)

__all__ = ["Endpoint", "NetStats", "SipTransports", "TlsOptions"]


@dataclass(frozen=True)
class TlsOptions:
    """PEM files of the TLS listener and the trust for outgoing TLS connections."""

    cert_file: str
    key_file: str
    ca_file: str = ""  # CAs of servers we connect to; empty: the platform trust store
    verify_server: bool = True

    def server_context(self) -> Any:
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
        from twisted.internet import ssl

        pems = _pem_blocks(Path(self.cert_file).read_text())
        certs: list[Any] = [x509.load_pem_x509_certificate(pem) for pem in pems]
        if not certs:
            raise ValueError(f"no PEM certificate in {self.cert_file}")
        key: Any = load_pem_private_key(Path(self.key_file).read_bytes(), password=None)
        # pyOpenSSL takes cryptography's objects directly (its own X509/PKey wrappers are deprecated)
        return ssl.CertificateOptions(privateKey=key, certificate=certs[0], extraCertChain=certs[1:])

    def client_context(self, host: str) -> Any:
        from twisted.internet import ssl

        if not self.verify_server:
            return ssl.CertificateOptions(verify=False)
        trust: Any = ssl.platformTrust()
        if self.ca_file:
            trust = ssl.trustRootFromCertificates(
                [ssl.Certificate.loadPEM(pem) for pem in _pem_blocks(Path(self.ca_file).read_text())]
            )
        return ssl.optionsForClientTLS(host, trustRoot=trust)


def _pem_blocks(text: str) -> list[bytes]:
    """The certificates of a PEM file, one PEM block each."""
    end = "-----END CERTIFICATE-----"
    blocks = [block[block.index("-----BEGIN CERTIFICATE-----"):] for block in text.split(end)
              if "-----BEGIN CERTIFICATE-----" in block]
    return [(block + end + "\n").encode() for block in blocks]


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
    def __init__(self, owner: SipTransports, kind: TransportName = "tcp") -> None:
        self.owner = owner
        self.kind = kind
        self.framer: Framer = owner.framer_factory()
        self.peer: Endpoint | None = None

    def connectionMade(self) -> None:
        transport: Any = self.transport
        addr = transport.getPeer()
        self.peer = Endpoint(self.kind, addr.host, addr.port)
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
            log.info("closing %s connection from %s: %s", self.kind.upper(), self.peer, exc)
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
    def __init__(self, owner: SipTransports, kind: TransportName = "tcp") -> None:
        self.owner = owner
        self.kind: TransportName = kind

    def buildProtocol(self, addr: Any) -> _TcpConn:
        return _TcpConn(self.owner, self.kind)


class _TcpClientFactory(ClientFactory):
    def __init__(self, owner: SipTransports, dest: Endpoint) -> None:
        self.owner = owner
        self.dest = dest

    def buildProtocol(self, addr: Any) -> _TcpConn:
        return _TcpConn(self.owner, self.dest.transport)

    def clientConnectionLost(self, connector: Any, reason: Any) -> None:
        # a TLS handshake that fails (bad certificate) loses the connection before anything was written
        dropped = self.owner.tcp_pending.pop(self.dest, [])
        if dropped:
            self.owner.stats.send_errors += len(dropped)
            log.info("%s connection to %s:%d lost: %s", self.dest.transport.upper(), self.dest.host, self.dest.port,
                     reason.getErrorMessage())

    def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
        dropped = self.owner.tcp_pending.pop(self.dest, [])
        self.owner.stats.send_errors += len(dropped)
        log.info("%s connect to %s:%d failed: %s", self.dest.transport.upper(), self.dest.host, self.dest.port,
                 reason.getErrorMessage())
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
        tls: TlsOptions | None = None,
    ) -> None:
        self.reactor = reactor
        self.on_message = on_message
        self.framer_factory = framer_factory
        self.max_datagram = max_datagram
        self.stats = NetStats()
        self.udp_port: Any = None
        self.tcp_port: Any = None
        self.tls = tls
        self.tls_port: Any = None
        self.tcp_conns: dict[Endpoint, _TcpConn] = {}
        self.tcp_pending: dict[Endpoint, list[bytes]] = {}
        self.on_unreachable: Callable[[Endpoint], None] | None = None  # a TCP connection could not be made

    def _tls_factory(self, context: Any, is_client: bool, factory: Any) -> Any:
        """TLS around ``factory``, with this reactor as the clock of its write aggregation (``listenSSL`` and
        ``connectSSL`` take the global reactor, which does not run when this one is a private one: the writes
        would never be flushed)."""
        from twisted.protocols.tls import TLSMemoryBIOFactory

        clock: Any = self.reactor
        return TLSMemoryBIOFactory(context, is_client, factory, clock=clock)

    def listen_tls(self, host: str, port: int) -> int:
        """Open the TLS listener (needs ``tls`` options); returns its bound port."""
        assert self.tls is not None, "SIP over TLS needs TlsOptions"
        try:
            context = self.tls.server_context()
        except (OSError, ValueError) as exc:
            raise ValueError(f"SIP TLS: cannot load tls.cert_file/tls.key_file: {exc}") from exc
        except Exception as exc:  # OpenSSL.crypto.Error and friends: a bad PEM
            raise ValueError(f"SIP TLS: cannot load tls.cert_file/tls.key_file: {exc!r}") from exc
        try:
            self.tls_port = self.reactor.listenTCP(port, self._tls_factory(context, False, _TcpFactory(self, "tls")),
                                                   interface=host)
        except CannotListenError as exc:
            raise ListenError("SIP TLS", host, port, exc.socketError, "ivr.yaml tls.port") from None
        return int(self.tls_port.getHost().port)

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
        if dest.transport in ("tcp", "tls"):
            conn = self.tcp_conns.get(dest)
            tcp: Any = conn.transport if conn is not None else None
            if tcp is not None:
                tcp.write(data)
                return
            if dest.transport == "tls" and self.tls is None:
                self.stats.send_errors += 1
                log.info("no TLS configured: cannot send to %s:%d over TLS", dest.host, dest.port)
                return
            first = dest not in self.tcp_pending
            self.tcp_pending.setdefault(dest, []).append(data)
            if first:
                factory = _TcpClientFactory(self, dest)
                if dest.transport == "tls":
                    assert self.tls is not None
                    wrapped = self._tls_factory(self.tls.client_context(dest.host), True, factory)
                    self.reactor.connectTCP(dest.host, dest.port, wrapped, timeout=10)
                else:
                    self.reactor.connectTCP(dest.host, dest.port, factory, timeout=10)
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
        if self.tls_port is not None:
            self.tls_port.stopListening()
            self.tls_port = None
