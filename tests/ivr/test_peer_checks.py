"""The check every peer test ends with (``tests/ivr/conftest.py``, ``Ivr.stop``) can fail: a state machine bug
in the in-process engine, which the UA core turns into a hang-up, is reported.  A plain UDP socket plays the
phone here, so this runs without baresip or SIPp."""

from __future__ import annotations

import socket

import pytest

from ivr.engine import indialog
from ivr.engine.model import Action, CallState
from ivr.sip import Request, Response, parse_message
from ivr.sip.address import Endpoint
from tests.ivr.peers.fixtures import Ivr
from tests.ivr.peers.harness import LOOPBACK, wait_until

SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


def request(method: str, cseq: int, port: int, target: str, to_tag: str = "", body: str = "") -> bytes:
    to = f"<sip:12345@{target}>" + (f";tag={to_tag}" if to_tag else "")
    return (
        f"{method} sip:12345@{target} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {LOOPBACK}:{port};branch=z9hG4bKchk{cseq}{method};rport\r\n"
        f"Max-Forwards: 70\r\nFrom: <sip:13800000000@{LOOPBACK}:{port}>;tag=chk1\r\nTo: {to}\r\n"
        f"Call-ID: check-1@{LOOPBACK}\r\nCSeq: {cseq} {method}\r\nContact: <sip:13800000000@{LOOPBACK}:{port}>\r\n"
        + ("Content-Type: application/sdp\r\n" if body else "")
        + f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


def final_response(sock: socket.socket) -> Response:
    while True:
        message = parse_message(sock.recv(65535))
        if isinstance(message, Response) and message.status >= 200:
            return message


def test_the_peer_check_reports_a_state_machine_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(s: CallState, req: Request, source: Endpoint, now: float, out: list[Action]) -> None:
        raise RuntimeError("injected state machine bug")

    monkeypatch.setitem(indialog.HANDLERS, "INFO", broken)
    server = Ivr().start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((LOOPBACK, 0))
            sock.settimeout(5)
            port = sock.getsockname()[1]
            dest = (LOOPBACK, server.engine.port)
            sock.sendto(request("INVITE", 1, port, server.target, body=SDP), dest)
            ok = final_response(sock)
            assert ok.status == 200 and ok.to_tag
            sock.sendto(request("ACK", 1, port, server.target, to_tag=ok.to_tag), dest)
            sock.sendto(request("INFO", 2, port, server.target, to_tag=ok.to_tag), dest)
            wait_until(lambda: server.call_errors() == 1, 5, what="the engine to hit the injected bug")
        with pytest.raises(AssertionError, match="1 call state machine error"):
            server.check_no_call_errors()  # what tests/ivr/conftest.py runs after every test
    finally:
        with pytest.raises(AssertionError, match="1 call state machine error"):
            server.stop()  # and what ends every module-scoped engine
