"""The TCP side of ivr.net.transport on Twisted's StringTransport (no socket): a stream that cannot be framed gets
its 400 when the request head can be read, then the connection is closed with one log line and no traceback."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport

from ivr.net.transport import SipTransports, _TcpConn
from ivr.sip import Request, make_response, parse_message
from ivr.sip.address import Endpoint
from ivr.sip.errors import SipFramingError, SipParseError
from ivr.sip.parser import StreamFramer

HEAD = (
    "OPTIONS sip:12345@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:40000;branch=z9hG4bKtcp1\r\n"
    "Max-Forwards: 70\r\nFrom: <sip:a@127.0.0.1>;tag=t1\r\nTo: <sip:12345@127.0.0.1>\r\n"
    "Call-ID: tcp-1@127.0.0.1\r\nCSeq: 1 OPTIONS\r\n"
)


class Sink:
    """Plays the engine: answers what parses with 200 and what does not (but has a request head) with 400."""

    def __init__(self) -> None:
        self.owner: SipTransports | None = None
        self.got: list[bytes] = []

    def __call__(self, data: bytes, source: Endpoint) -> None:
        self.got.append(data)
        assert self.owner is not None
        try:
            message = parse_message(data, stream=True)
        except SipParseError as exc:
            if exc.partial is not None:
                self.owner.send(make_response(exc.partial, exc.status, exc.reason).to_bytes(), source)
            return
        assert isinstance(message, Request)
        self.owner.send(make_response(message, 200).to_bytes(), source)


def connect() -> tuple[SipTransports, Sink, _TcpConn, StringTransport]:
    sink = Sink()
    reactor: Any = None  # never used: nothing listens or connects here
    owner = SipTransports(reactor, sink, StreamFramer)
    sink.owner = owner
    conn = _TcpConn(owner)
    wire = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 40000))
    conn.makeConnection(wire)
    return owner, sink, conn, wire


def test_framing_error_is_a_value_error_carrying_the_head() -> None:
    framer = StreamFramer()
    with pytest.raises(SipFramingError) as caught:
        framer.feed((HEAD + "Content-Length: 5\r\nContent-Length: 13\r\n\r\nhello").encode())
    assert isinstance(caught.value, ValueError) and caught.value.head is not None
    assert caught.value.head.startswith(b"OPTIONS sip:12345@127.0.0.1 SIP/2.0\r\n")
    assert not caught.value.head.endswith(b"\r\n\r\n")


@pytest.mark.parametrize(
    ("tail", "reason"),
    [
        ("Content-Length: 5\r\nContent-Length: 13\r\n\r\nhello", "400 Multiple Content-Length values"),  # mcl01
        ("Content-Length: -3\r\n\r\n", "400 Bad Content-Length"),
        ("\r\n", "400 Missing Content-Length"),
        ("Content-Length: 99999999\r\n\r\n", "400 Content-Length exceeds body"),  # over the framer's 1 MiB
    ],
)
def test_unframable_request_gets_400_then_the_connection_closes(
    tail: str, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    owner, _sink, conn, wire = connect()
    good = (HEAD + "Content-Length: 0\r\n\r\n").encode()
    with caplog.at_level(logging.INFO, logger="ivr.net.transport"):
        conn.dataReceived(good + (HEAD.replace("CSeq: 1", "CSeq: 2") + tail).encode())
    answers = wire.value().split(b"SIP/2.0 ")[1:]
    assert [a.split(b"\r\n", 1)[0].decode() for a in answers] == ["200 OK", reason]
    assert wire.disconnecting
    assert owner.stats.tcp_stream_errors == 1 and "handler_errors" not in owner.stats.extra
    records = [r for r in caplog.records if r.name == "ivr.net.transport"]
    assert len(records) == 1 and records[0].exc_info is None and "closing TCP connection" in records[0].message


def test_unframable_garbage_is_closed_without_an_answer(caplog: pytest.LogCaptureFixture) -> None:
    owner, sink, conn, wire = connect()
    with caplog.at_level(logging.INFO, logger="ivr.net.transport"):
        conn.dataReceived(b"x" * 20000)  # no header section end within max_header_bytes: no head to answer
    assert wire.value() == b"" and wire.disconnecting and sink.got == []
    records = [r for r in caplog.records if r.name == "ivr.net.transport"]
    assert len(records) == 1 and records[0].exc_info is None
    assert owner.stats.tcp_stream_errors == 1
