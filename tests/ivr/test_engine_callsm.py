"""Sans-IO tests of the call state machine alone (retransmissions are the transaction layer's: see
test_engine_core.py for whole calls through the UA core on virtual time)."""

from __future__ import annotations

from ivr.app import DigitEvent, HangupEvent, TransferResult
from ivr.engine.callsm import new_uas, step
from ivr.engine.model import (
    Action,
    Answered,
    CallState,
    CancelIn,
    Deliver,
    HangupCmd,
    Incoming,
    LocalMedia,
    Send,
    StartMedia,
    StopMedia,
    Terminated,
    Tick,
    Timers,
    TransferCmd,
    TxTimeout,
    UpdateMedia,
    WakeAt,
)
from ivr.sip import Request, Response, parse_message
from ivr.sip.address import Endpoint

CALLER = Endpoint("udp", "127.0.0.1", 5062)
LOCAL = LocalMedia("127.0.0.1", 30000, ("PCMU", "PCMA"), 101, 42)
CONTACT = "<sip:12345@127.0.0.1:5060>"
T = Timers(t1=0.5, t2=4.0)

OFFER = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 31000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na={dir}\r\n"
)


def request(
    method: str,
    cseq: int,
    *,
    branch: str = "z9hG4bKa1",
    to_tag: str = "",
    body: str = "",
    ctype: str = "",
    extra: str = "",
    cseq_method: str | None = None,
) -> Request:
    to = "<sip:12345@127.0.0.1:5060>" + (f";tag={to_tag}" if to_tag else "")
    text = (
        f"{method} sip:12345@127.0.0.1:5060 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:5062;branch={branch};rport\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:13800000000@127.0.0.1:5062>;tag=caller1\r\n"
        f"To: {to}\r\n"
        "Call-ID: call-1@127.0.0.1\r\n"
        f"CSeq: {cseq} {cseq_method or method}\r\n"
        "Contact: <sip:13800000000@127.0.0.1:5062>\r\n"
        f"{extra}"
        + (f"Content-Type: {ctype}\r\n" if ctype else "")
        + f"Content-Length: {len(body.encode())}\r\n\r\n{body}"
    )
    message = parse_message(text.encode())
    assert isinstance(message, Request)
    return message


def invite(direction: str = "sendrecv") -> Request:
    return request("INVITE", 1, body=OFFER.format(dir=direction), ctype="application/sdp")


def sent(actions: list[Action]) -> list[Request | Response]:
    return [a.message for a in actions if isinstance(a, Send)]


def statuses(actions: list[Action]) -> list[int]:
    return [m.status for m in sent(actions) if isinstance(m, Response)]


def wake(actions: list[Action]) -> float | None:
    return [a for a in actions if isinstance(a, WakeAt)][-1].at


def answered_call(now: float = 0.0) -> tuple[CallState, list[Action]]:
    state, actions = new_uas(
        invite(), CALLER, local_media=LOCAL, local_contact=CONTACT, local_tag="ivr1", timers=T, now=now
    )
    return state, actions


def confirmed() -> CallState:
    state, _ = answered_call()
    state, _ = step(state, Incoming(request("ACK", 1, to_tag="ivr1", branch="z9hG4bKack"), CALLER, 0.05))
    assert state.phase == "confirmed"
    return state


def test_invite_answered_with_200_sdp_answer_and_media_starts() -> None:
    state, actions = answered_call()
    assert statuses(actions) == [200]  # 100 Trying is the transaction layer's
    ok = sent(actions)[0]
    assert isinstance(ok, Response)
    assert ok.to_tag == "ivr1" and ok.headers.get("Contact") == CONTACT
    assert b"m=audio 30000 RTP/AVP 0 101" in ok.body and b"a=sendrecv" in ok.body
    media = next(a for a in actions if isinstance(a, StartMedia)).params
    assert (media.remote_host, media.remote_port, media.codec, media.dtmf_payload_type) == (
        "127.0.0.1",
        31000,
        "PCMU",
        101,
    )
    assert any(isinstance(a, Answered) for a in actions)
    assert [a.dest for a in actions if isinstance(a, Send)] == [CALLER]  # rport: back to the source
    assert state.phase == "answering" and state.awaiting_ack and wake(actions) is None


def test_ack_confirms_and_missing_ack_ends_with_bye() -> None:
    state = confirmed()
    assert not state.awaiting_ack
    state, actions = answered_call()
    assert state.invite is not None
    state, actions = step(state, TxTimeout(state.invite, "L", 32.0))  # Timer L: the 2xx was never ACKed
    bye = sent(actions)[0]
    assert isinstance(bye, Request) and bye.method == "BYE"
    assert any(isinstance(a, Deliver) and a.event == HangupEvent("no_ack", False) for a in actions)


def test_ringing_then_cancel_gives_487_and_no_answer() -> None:
    state, actions = new_uas(
        invite(),
        CALLER,
        local_media=LOCAL,
        local_contact=CONTACT,
        local_tag="ivr1",
        timers=Timers(answer_delay=5.0),
        now=0.0,
    )
    assert statuses(actions) == [180] and state.phase == "early" and wake(actions) == 5.0
    state, actions = step(state, CancelIn(1.0))
    assert statuses(actions) == [487]
    terminated = sent(actions)[0]
    assert isinstance(terminated, Response) and terminated.cseq == (1, "INVITE")
    assert any(isinstance(a, Deliver) and a.event == HangupEvent("cancelled", True) for a in actions)
    assert any(isinstance(a, Terminated) for a in actions)


def test_ringing_then_answer_timer_answers() -> None:
    state, actions = new_uas(
        invite(),
        CALLER,
        local_media=LOCAL,
        local_contact=CONTACT,
        local_tag="ivr1",
        timers=Timers(answer_delay=2.0),
        now=0.0,
    )
    state, actions = step(state, Tick(2.0))
    assert statuses(actions) == [200] and any(isinstance(a, Answered) for a in actions)


def test_bye_from_caller_ends_call() -> None:
    state = confirmed()
    bye = request("BYE", 2, to_tag="ivr1", branch="z9hG4bKbye")
    state, actions = step(state, Incoming(bye, CALLER, 5.0))
    assert statuses(actions) == [200]
    assert any(isinstance(a, StopMedia) for a in actions)
    assert [a.event for a in actions if isinstance(a, Deliver)] == [HangupEvent("remote_bye", True)]
    assert any(isinstance(a, Terminated) for a in actions)


def test_local_hangup_sends_bye_and_waits_for_its_response() -> None:
    state = confirmed()
    state, actions = step(state, HangupCmd(10.0))
    bye = sent(actions)[0]
    assert isinstance(bye, Request) and bye.method == "BYE" and bye.uri == "sip:13800000000@127.0.0.1:5062"
    assert bye.to_tag == "caller1" and bye.from_tag == "ivr1" and bye.cseq[1] == "BYE"
    assert not any(isinstance(a, Terminated) for a in actions)  # the BYE transaction is still open
    reply = parse_message(b"SIP/2.0 200 OK\r\n" + b"".join(f"{n}: {v}\r\n".encode() for n, v in bye.headers) + b"\r\n")
    state, actions = step(state, Incoming(reply, CALLER, 10.6))
    assert state.phase == "ended" and not state.out and any(isinstance(a, Terminated) for a in actions)


def test_info_digits_both_content_types() -> None:
    state = confirmed()
    relay = request("INFO", 2, to_tag="ivr1", body="Signal=5\r\nDuration=160\r\n", ctype="application/dtmf-relay")
    state, actions = step(state, Incoming(relay, CALLER, 1.0))
    assert statuses(actions) == [200]
    assert [a.event for a in actions if isinstance(a, Deliver)] == [DigitEvent("5", "info", 160)]
    plain = request("INFO", 3, to_tag="ivr1", body="#", ctype="application/dtmf", branch="z9hG4bKi3")
    state, actions = step(state, Incoming(plain, CALLER, 1.1))
    assert [a.event for a in actions if isinstance(a, Deliver)] == [DigitEvent("#", "info", 0)]
    junk = request("INFO", 4, to_tag="ivr1", body="Signal=Q", ctype="application/dtmf-relay", branch="z9hG4bKi4")
    state, actions = step(state, Incoming(junk, CALLER, 1.2))
    assert statuses(actions) == [400] and sent(actions)[0].reason == "Bad DTMF Body"  # type: ignore[union-attr]
    other = request("INFO", 5, to_tag="ivr1", body="x", ctype="text/plain", branch="z9hG4bKi5")
    state, actions = step(state, Incoming(other, CALLER, 1.3))
    assert statuses(actions) == [415]


def test_reinvite_hold_unhold_and_refresh() -> None:
    state = confirmed()
    version0 = state.sdp_version
    hold = request(
        "INVITE", 2, to_tag="ivr1", body=OFFER.format(dir="sendonly"), ctype="application/sdp", branch="z9hG4bKr2"
    )
    state, actions = step(state, Incoming(hold, CALLER, 2.0))
    ok = sent(actions)[0]
    assert isinstance(ok, Response) and ok.status == 200 and b"a=recvonly" in ok.body
    assert [a.params.direction for a in actions if isinstance(a, UpdateMedia)] == ["recvonly"]
    state, _ = step(state, Incoming(request("ACK", 2, to_tag="ivr1", branch="z9hG4bKa2"), CALLER, 2.1))
    unhold = request(
        "INVITE", 3, to_tag="ivr1", body=OFFER.format(dir="sendrecv"), ctype="application/sdp", branch="z9hG4bKr3"
    )
    state, actions = step(state, Incoming(unhold, CALLER, 3.0))
    assert b"a=sendrecv" in sent(actions)[0].body
    assert [a.params.direction for a in actions if isinstance(a, UpdateMedia)] == ["sendrecv"]
    state, _ = step(state, Incoming(request("ACK", 3, to_tag="ivr1", branch="z9hG4bKa3"), CALLER, 3.1))
    assert state.sdp_version == version0 + 2
    refresh = request(
        "INVITE", 4, to_tag="ivr1", body=OFFER.format(dir="sendrecv"), ctype="application/sdp", branch="z9hG4bKr4"
    )
    state, actions = step(state, Incoming(refresh, CALLER, 4.0))
    assert statuses(actions) == [200] and not any(isinstance(a, UpdateMedia) for a in actions)
    assert state.sdp_version == version0 + 2  # unchanged SDP keeps its o= version


def test_offer_without_common_codec_gets_488() -> None:
    g729 = (
        OFFER.format(dir="sendrecv")
        .replace("RTP/AVP 0 8 101", "RTP/AVP 18")
        .replace("a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n", "a=rtpmap:18 G729/8000\r\n")
    )
    bad = request("INVITE", 1, body=g729, ctype="application/sdp")
    state, actions = new_uas(bad, CALLER, local_media=LOCAL, local_contact=CONTACT, local_tag="ivr1", timers=T, now=0)
    assert statuses(actions) == [488]
    assert not any(isinstance(a, (StartMedia, Answered)) for a in actions)
    assert state.phase == "ended"


def test_in_dialog_errors_501_481_500_and_options() -> None:
    state = confirmed()
    state, actions = step(state, Incoming(request("MESSAGE", 2, to_tag="ivr1", branch="z9hG4bKm"), CALLER, 1))
    assert statuses(actions) == [501] and "INVITE" in (sent(actions)[0].headers.get("Allow") or "")
    state, actions = step(state, Incoming(request("REFER", 3, to_tag="ivr1", branch="z9hG4bKrf"), CALLER, 1))
    assert statuses(actions) == [501]
    state, actions = step(state, Incoming(request("INFO", 4, to_tag="other", branch="z9hG4bKx"), CALLER, 1))
    assert statuses(actions) == [481]
    state, actions = step(state, Incoming(request("INFO", 2, to_tag="ivr1", branch="z9hG4bKy"), CALLER, 1))
    assert statuses(actions) == [500]  # CSeq went backwards
    state, actions = step(state, Incoming(request("OPTIONS", 9, to_tag="ivr1", branch="z9hG4bKo"), CALLER, 1))
    assert statuses(actions) == [200]


def test_cseq_rule_of_rfc3261_12_2_2_lower_is_500_with_retry_after_equal_is_in_order() -> None:
    state = confirmed()
    state, actions = step(state, Incoming(request("INFO", 5, to_tag="ivr1", branch="z9hG4bKi5"), CALLER, 1))
    assert statuses(actions) == [200] and state.dialog.remote_cseq == 5
    state, actions = step(state, Incoming(request("INFO", 4, to_tag="ivr1", branch="z9hG4bKi4"), CALLER, 1))
    (error,) = sent(actions)
    assert isinstance(error, Response) and (error.status, error.reason) == (500, "CSeq Out of Order")
    assert error.headers.get("Retry-After") == "1" and error.to_tag == "ivr1"
    assert state.dialog.remote_cseq == 5  # an out-of-order request records nothing
    # Equal is not out of order (§12.2.2 rejects lower only): a retransmission never reaches the call (the
    # transaction layer absorbs it, see test_engine_core), so an equal number here is a new transaction.
    state, actions = step(state, Incoming(request("INFO", 5, to_tag="ivr1", branch="z9hG4bKi5b"), CALLER, 1))
    assert statuses(actions) == [200]
    state, actions = step(state, Incoming(request("OPTIONS", 6, to_tag="ivr1", branch="z9hG4bKo6"), CALLER, 1))
    assert statuses(actions) == [200] and state.dialog.remote_cseq == 6


def _response_to(req: Request, status: int, body: str = "", to_tag: str = "caller1") -> Response:
    head = f"SIP/2.0 {status} X\r\n" + "".join(
        f"{n}: {v};tag={to_tag}\r\n" if n == "To" and ";tag=" not in v else f"{n}: {v}\r\n"
        for n, v in req.headers
        if n in ("Via", "From", "To", "Call-ID", "CSeq")
    )
    message = parse_message((head + f"Content-Length: {len(body)}\r\n\r\n{body}").encode())
    assert isinstance(message, Response)
    return message


def test_refer_out_reports_notify_progress_and_final_result() -> None:
    state = confirmed()
    state, actions = step(state, TransferCmd(1.0, "sip:agent@127.0.0.1:5064"))
    refer = sent(actions)[0]
    assert isinstance(refer, Request) and refer.method == "REFER"
    assert refer.headers.get("Refer-To") == "<sip:agent@127.0.0.1:5064>"
    state, actions = step(state, Incoming(_response_to(refer, 202), CALLER, 1.1))
    assert not any(isinstance(a, Deliver) for a in actions)

    def notify(cseq: int, frag: str, sub: str) -> Request:
        return request(
            "NOTIFY",
            cseq,
            to_tag="ivr1",
            body=frag,
            ctype="message/sipfrag",
            branch=f"z9hG4bKn{cseq}",
            extra=f"Event: refer\r\nSubscription-State: {sub}\r\n",
        )

    state, actions = step(state, Incoming(notify(2, "SIP/2.0 100 Trying\r\n", "active;expires=60"), CALLER, 1.2))
    assert statuses(actions) == [200] and not any(isinstance(a, Deliver) for a in actions)
    state, actions = step(state, Incoming(notify(3, "SIP/2.0 200 OK\r\n", "terminated;reason=noresource"), CALLER, 2))
    assert [a.event for a in actions if isinstance(a, Deliver)] == [TransferResult(True, True, 200, "OK")]


def test_refer_rejected_and_refer_timeout() -> None:
    state = confirmed()
    state, actions = step(state, TransferCmd(1.0, "sip:agent@127.0.0.1:5064"))
    rejected, result = step(state, Incoming(_response_to(sent(actions)[0], 403), CALLER, 1.1))  # type: ignore[arg-type]
    assert not rejected.refer_pending
    assert [a.event for a in result if isinstance(a, Deliver)] == [TransferResult(False, False, 403, "X")]
    state, actions = step(state, Incoming(_response_to(sent(actions)[0], 202), CALLER, 1.1))  # type: ignore[arg-type]
    state, actions = step(state, Tick(1.0 + T.refer_timeout))
    assert [a.event for a in actions if isinstance(a, Deliver)] == [TransferResult(True, False, 408, "no final NOTIFY")]
