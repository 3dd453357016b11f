"""Sans-IO UAC legs (the call state machine alone; the transaction layer ACKs non-2xx and retransmits)."""

from __future__ import annotations

from ivr.engine.callsm import step
from ivr.engine.model import (
    Action,
    Answered,
    CallState,
    DialFailure,
    Incoming,
    LocalMedia,
    Send,
    StartMedia,
    Terminated,
    Tick,
    Timers,
    TxTimeout,
    WakeAt,
)
from ivr.engine.uac import new_uac
from ivr.sip import Request, Response, make_response, parse_message
from ivr.sip.address import Endpoint
from ivr.sip.auth import DigestServer

IVR = Endpoint("udp", "127.0.0.1", 5060)
AGENT = Endpoint("udp", "127.0.0.1", 5064)
T = Timers(t1=0.5, t2=4.0)


def dial(
    now: float = 0.0, timeout: float = 20.0, credentials: tuple[str, str] | None = None
) -> tuple[CallState, list[Action]]:
    return new_uac(
        "sip:agent@127.0.0.1:5064",
        AGENT,
        from_uri="sip:12345@127.0.0.1",
        display="12345",
        local_contact="<sip:12345@127.0.0.1:5060>",
        local_media=LocalMedia("127.0.0.1", 30000, ("PCMU", "PCMA"), 101),
        local_tag="ivrtag",
        call_id="out-1@127.0.0.1",
        timers=T,
        now=now,
        dial_timeout=timeout,
        credentials=credentials,
    )


def requests(actions: list[Action]) -> list[Request]:
    return [a.message for a in actions if isinstance(a, Send) and isinstance(a.message, Request)]


def reply(req: Request, status: int, *, body: bytes = b"", headers: list[tuple[str, str]] | None = None) -> Response:
    extra = list(headers or [])
    if 200 <= status < 300 and req.method == "INVITE":
        extra.append(("Contact", "<sip:agent@127.0.0.1:5064>"))
    resp = make_response(
        req, status, to_tag="agenttag", headers=extra, body=body, content_type="application/sdp" if body else None
    )
    parsed = parse_message(resp.to_bytes())  # through the real parser, as on the wire
    assert isinstance(parsed, Response)
    return parsed


ANSWER = (
    b"v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 32000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
)


def test_dial_answered_acks_and_starts_media() -> None:
    state, actions = dial()
    invite = requests(actions)[0]
    assert invite.method == "INVITE" and invite.headers.get("Content-Type") == "application/sdp"
    assert b"RTP/AVP 0 8 101" in invite.body
    state, actions = step(state, Incoming(reply(invite, 180), AGENT, 0.2))
    assert not requests(actions)
    state, actions = step(state, Incoming(reply(invite, 200, body=ANSWER), AGENT, 1.0))
    ack = requests(actions)[0]
    assert ack.method == "ACK" and ack.cseq == (invite.cseq[0], "ACK") and ack.to_tag == "agenttag"
    assert ack.top_via.branch != invite.top_via.branch  # a 2xx ACK is its own transaction
    media = next(a.params for a in actions if isinstance(a, StartMedia))
    assert (media.codec, media.payload_type, media.remote_port) == ("PCMA", 8, 32000)
    assert any(isinstance(a, Answered) for a in actions) and state.phase == "confirmed"
    state, again = step(state, Incoming(reply(invite, 200, body=ANSWER), AGENT, 1.5))
    assert requests(again) == [ack]  # a retransmitted 200 gets the same ACK


def test_dial_busy_acks_and_fails() -> None:
    state, actions = dial()
    invite = requests(actions)[0]
    state, actions = step(state, Incoming(reply(invite, 486), AGENT, 0.3))
    assert not requests(actions)  # the client INVITE transaction ACKs a non-2xx itself
    assert [a for a in actions if isinstance(a, DialFailure)] == [DialFailure(486, "Busy Here")]
    assert any(isinstance(a, Terminated) for a in actions)


def test_dial_timeout_cancels_then_487_is_acked() -> None:
    state, actions = dial(timeout=5.0)
    invite = requests(actions)[0]
    state, actions = step(state, Incoming(reply(invite, 180), AGENT, 0.1))
    assert [a.at for a in actions if isinstance(a, WakeAt)] == [5.0]
    state, actions = step(state, Tick(5.0))
    cancel = requests(actions)[0]
    assert cancel.method == "CANCEL" and cancel.top_via.branch == invite.top_via.branch
    assert [a for a in actions if isinstance(a, DialFailure)] == [DialFailure(0, "timeout")]
    state, actions = step(state, Incoming(reply(cancel, 200), AGENT, 5.1))
    state, actions = step(state, Incoming(reply(invite, 487), AGENT, 5.2))
    assert not requests(actions) and not [a for a in actions if isinstance(a, DialFailure)]
    assert state.phase == "ended" and any(isinstance(a, Terminated) for a in actions)


def test_answer_after_giving_up_gets_ack_and_bye() -> None:
    state, actions = dial(timeout=5.0)
    invite = requests(actions)[0]
    state, actions = step(state, Tick(5.0))  # nothing heard: no CANCEL allowed, just give up
    assert [a for a in actions if isinstance(a, DialFailure)] == [DialFailure(0, "timeout")]
    state, actions = step(state, Incoming(reply(invite, 200, body=ANSWER), AGENT, 6.0))
    assert [r.method for r in requests(actions)] == ["ACK", "BYE"]


def test_invite_timeout_fails_the_dial() -> None:
    state, actions = dial()
    invite = requests(actions)[0]
    state, actions = step(state, TxTimeout(invite, "B", 32.0))
    assert [a for a in actions if isinstance(a, DialFailure)] == [DialFailure(0, "timeout")]


def test_dial_answers_digest_challenge_once() -> None:
    server = DigestServer("pbx")
    state, actions = dial(credentials=("ivr", "s3cret"))
    invite = requests(actions)[0]
    challenge = reply(invite, 407, headers=[("Proxy-Authenticate", v) for v in server.challenge(0.0)])
    state, actions = step(state, Incoming(challenge, AGENT, 0.1))
    (retry,) = requests(actions)
    assert retry.method == "INVITE" and retry.cseq[0] == invite.cseq[0] + 1
    verdict = server.verify(retry.headers.get("Proxy-Authorization") or "", "INVITE", {"ivr": "s3cret"}.get, 0.2)
    assert verdict.ok, verdict.reason
    challenge2 = reply(retry, 407, headers=[("Proxy-Authenticate", v) for v in server.challenge(0.3)])
    state, actions = step(state, Incoming(challenge2, AGENT, 0.3))
    assert next(a for a in actions if isinstance(a, DialFailure)).status == 407  # no endless loop
