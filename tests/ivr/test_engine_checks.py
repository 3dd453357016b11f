"""What the UAS checks before processing a request (ivr.engine.checks): 420 for Require, 415 for a body type,
406 for an Accept without SDP, in and out of dialog, through the UA core on virtual time."""

from __future__ import annotations

import pytest

from ivr.engine.checks import accepts, check_request, unsupported_extensions
from ivr.sip import Request, parse_message
from tests.ivr.test_engine_core import INVITE, SDP, Ivr, first_lines, message, to_tag_of


def request(extra: str = "", body: str = "", ctype: str = "", method: str = "INVITE") -> Request:
    parsed = parse_message(message(method, 1, extra=extra, body=body, ctype=ctype))
    assert isinstance(parsed, Request)
    return parsed


def header(data: bytes, name: str) -> str | None:
    return parse_message(data).headers.get(name)


@pytest.mark.parametrize(
    ("extra", "unknown"),
    [
        ("", []),
        ("Require: norefersub\r\n", []),
        ("Require: NoReferSub\r\n", []),
        ("Require: replaces\r\n", ["replaces"]),  # an incoming Replaces (RFC 3891) is not acted on: 420, not ignored
        ("Require: 100rel\r\n", ["100rel"]),  # not implemented: 420 is what RFC 3262 §3 expects then
        ("Require: timer, norefersub\r\nRequire: foo, timer\r\n", ["timer", "foo"]),
        ("Proxy-Require: foo\r\n", []),  # for proxies: a UAS ignores it
    ],
)
def test_unsupported_extensions(extra: str, unknown: list[str]) -> None:
    assert unsupported_extensions(request(extra)) == unknown


@pytest.mark.parametrize(
    ("accept", "ok"),
    [
        (None, True),
        ("", True),  # an empty Accept is taken as absent
        ("application/sdp", True),
        ("text/plain, Application/SDP;level=1", True),
        ("application/*", True),
        ("*/*", True),
        ("text/nobodyKnowsThis", False),
        ("application/sdp;q=0, text/plain", False),
    ],
)
def test_accepts(accept: str | None, ok: bool) -> None:
    extra = f"Accept: {accept}\r\n" if accept is not None else ""
    assert accepts(request(extra), "application/sdp") is ok


def test_check_request_order_and_headers() -> None:
    both = request("Require: foo\r\nAccept: text/plain\r\n", body="<x/>", ctype="application/unknownformat")
    refusal = check_request(both)
    assert refusal is not None and refusal.status == 420 and refusal.headers == [("Unsupported", "foo")]
    refusal = check_request(request("Accept: text/plain\r\n", body="<x/>", ctype="application/unknownformat"))
    assert refusal is not None and refusal.status == 415 and refusal.headers == [("Accept", "application/sdp")]
    refusal = check_request(request("Accept: text/plain\r\n", body=SDP, ctype="application/sdp"))
    assert refusal is not None and refusal.status == 406
    info = request(body="hello", ctype="text/plain", method="INFO")
    refusal = check_request(info)
    assert refusal is not None and refusal.headers == [("Accept", "application/dtmf-relay, application/dtmf")]
    assert check_request(request(body="x", ctype="text/plain", method="OPTIONS")) is None  # a body ignored
    mixed = "multipart/mixed;boundary=b"  # e.g. SDP + ISUP from a SIP-I trunk: not refused (as before)
    assert check_request(request(body="--b\r\n\r\nx\r\n--b--\r\n", ctype=mixed)) is None
    assert check_request(request("Accept: text/plain\r\n", method="UPDATE")) is None  # no offer, no answer needed


def test_out_of_dialog_refusals_through_the_core() -> None:
    ivr = Ivr()
    sent = ivr.receive(message("OPTIONS", 1, branch="z9hG4bKr1", extra="Require: foo, bar\r\n"), 0.0)
    assert first_lines(sent) == ["SIP/2.0 420 Bad Extension"] and header(sent[0], "Unsupported") == "foo, bar"
    odd = message("INVITE", 2, branch="z9hG4bKr2", body="<audio/>", ctype="application/unknownformat")
    sent = ivr.receive(odd, 0.1)
    assert first_lines(sent) == ["SIP/2.0 100 Trying", "SIP/2.0 415 Unsupported Media Type"]
    assert header(sent[1], "Accept") == "application/sdp"
    picky = message("INVITE", 3, branch="z9hG4bKr3", body=SDP, ctype="application/sdp", extra="Accept: text/x\r\n")
    assert first_lines(ivr.receive(picky, 0.2))[-1] == "SIP/2.0 406 Not Acceptable"
    assert not ivr.core.legs and ivr.core.stats["refused_420"] == 1 and ivr.core.stats["refused_406"] == 1


def test_in_dialog_refusals_leave_the_call_up() -> None:
    ivr = Ivr()
    tag = to_tag_of(ivr.receive(INVITE, 0.0)[1])
    ivr.receive(message("ACK", 1, to_tag=tag, branch="z9hG4bKack1"), 0.1)
    reinvite = message("INVITE", 2, to_tag=tag, branch="z9hG4bKre2", body="x", ctype="text/plain")
    sent = ivr.receive(reinvite, 0.2)
    assert first_lines(sent)[-1] == "SIP/2.0 415 Unsupported Media Type"
    notify = message("NOTIFY", 3, to_tag=tag, branch="z9hG4bKn3", body="x", ctype="text/plain")
    sent = ivr.receive(notify, 0.3)
    assert first_lines(sent) == ["SIP/2.0 415 Unsupported Media Type"] and header(sent[0], "Accept") == (
        "message/sipfrag"
    )
    bye = message("BYE", 4, to_tag=tag, branch="z9hG4bKb4", extra="Require: timer\r\n")
    sent = ivr.receive(bye, 0.4)
    assert first_lines(sent) == ["SIP/2.0 420 Bad Extension"] and header(sent[0], "Unsupported") == "timer"
    (leg,) = ivr.core.legs
    assert leg.state.phase == "confirmed"
    assert first_lines(ivr.receive(message("BYE", 5, to_tag=tag, branch="z9hG4bKb5"), 0.5)) == ["SIP/2.0 200 OK"]
    assert not ivr.core.legs and ivr.core.stats["call_errors"] == 0
