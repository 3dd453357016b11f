"""The call state machine: ``step(state, event) -> (state, actions)``, pure and sans-IO.

One :class:`CallState` per call leg (UAS for callers, UAC for agent legs), above the transaction layer
(:mod:`ivr.sip.transaction`, which sends 100 Trying, retransmits and absorbs retransmissions, answers CANCEL and
ACKs non-2xx finals).  The UAS rings (180) for ``answer_delay`` or answers at once with 200 + SDP answer, 488
without a common codec, 487 after a CANCEL, BYE when its 2xx is never ACKed; in the dialog it handles BYE
either way, re-INVITE / UPDATE (hold, unhold, session refresh), INFO digits, OPTIONS, REFER out with NOTIFY
progress, and answers 501 to what it does not do.  UAC legs live in :mod:`ivr.engine.uac`.
"""

from __future__ import annotations

from ivr.app import DigitEvent, HangupEvent, TransferResult
from ivr.engine import negotiate
from ivr.engine.model import (
    Action,
    AnswerCmd,
    Answered,
    CallState,
    CancelIn,
    Deliver,
    Event,
    HangupCmd,
    Incoming,
    LocalMedia,
    OutRequest,
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
from ivr.engine.sipmsg import ACCEPT, ALLOW, SUPPORTED, contact_uri, in_dialog_request, response_dest, user_of
from ivr.net.transport import Endpoint
from ivr.sip import Request, Response, SipParseError, make_response
from ivr.sip.bodies import parse_dtmf_info, parse_sipfrag


def step(state: CallState, event: Event) -> tuple[CallState, list[Action]]:
    s = state.clone()
    out: list[Action] = []
    if isinstance(event, Incoming):
        if isinstance(event.message, Request):
            on_request(s, event.message, event.source, event.now, out)
        else:
            from ivr.engine.uac import on_response

            on_response(s, event.message, event.now, out)
    elif isinstance(event, Tick):
        on_tick(s, event.now, out)
    elif isinstance(event, CancelIn):
        on_cancel(s, event.now, out)
    elif isinstance(event, TxTimeout):
        on_tx_timeout(s, event, out)
    elif isinstance(event, HangupCmd):
        hangup(s, event.now, event.reason, event.status, out)
    elif isinstance(event, TransferCmd):
        transfer(s, event.now, event.target, out)
    elif isinstance(event, AnswerCmd):
        if s.phase == "early" and s.role == "uas":
            answer(s, event.now, out)
    finish(s, out)
    return s, out


def finish(s: CallState, out: list[Action]) -> None:
    if s.phase == "ended" and not s.out:
        out += [WakeAt(None), Terminated()]
        return
    times = [t for t in (s.answer_at, s.dial_deadline, s.refer_deadline) if t is not None]
    out.append(WakeAt(min(times) if times else None))


# ---------------------------------------------------------------- responses we send


def respond(
    s: CallState,
    req: Request,
    source: Endpoint,
    status: int,
    out: list[Action],
    reason: str | None = None,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    content_type: str | None = None,
) -> Response:
    extra = list(headers or [])
    if 100 < status < 300 and req.method in ("INVITE", "UPDATE"):
        extra.append(("Contact", s.local_contact))
    if req.method in ("INVITE", "OPTIONS") or status in (405, 501):
        extra += [("Allow", ALLOW), ("Supported", SUPPORTED)]
    resp = make_response(req, status, reason, to_tag=s.local_tag, headers=extra, body=body, content_type=content_type)
    out.append(Send(resp, response_dest(req, source)))
    return resp


def invite_final(s: CallState, status: int, out: list[Action], **kw: object) -> None:
    """The final response to the pending INVITE (the transaction layer retransmits it until the ACK)."""
    assert s.invite is not None and s.invite_source is not None
    resp = respond(s, s.invite, s.invite_source, status, out, **kw)  # type: ignore[arg-type]
    s.last_invite_response = resp
    s.awaiting_ack = resp.is_success


def stamp(s: CallState, body: bytes) -> bytes:
    """``body`` (made with version ``sdp_version + 1``), or the previous SDP when nothing changed (RFC 3264 §8)."""
    if s.last_sdp is not None and _without_origin(body) == _without_origin(s.last_sdp):
        return s.last_sdp
    s.sdp_version += 1
    s.last_sdp = body
    return body


def _without_origin(body: bytes) -> bytes:
    return b"\n".join(line for line in body.splitlines() if not line.startswith(b"o="))


# ---------------------------------------------------------------- UAS answer


def answer(s: CallState, now: float, out: list[Action]) -> None:
    assert s.invite is not None
    s.answer_at = None
    offer = s.invite.body if s.invite.content_type == "application/sdp" else b""
    if offer:
        result = negotiate.answer(s.local_media, s.sdp_version + 1, offer)
        if result is None:
            warning = [("Warning", '304 - "no common codec"')]
            invite_final(s, 488, out, reason="Not Acceptable Here", headers=warning)
            s.phase = "ended"
            s.hangup_reason = "no_common_codec"
            return
        sdp, params = stamp(s, result[0]), result[1]
        s.media = params
        invite_final(s, 200, out, body=sdp, content_type="application/sdp")
        out.append(StartMedia(params))
    else:  # offer in our 200, answer in the ACK
        sdp = stamp(s, negotiate.offer(s.local_media, s.sdp_version + 1))
        s.remote_sdp_offer_pending = True
        invite_final(s, 200, out, body=sdp, content_type="application/sdp")
    s.phase = "answering"
    out.append(Answered())


def new_uas(
    invite: Request,
    source: Endpoint,
    *,
    local_media: LocalMedia,
    local_contact: str,
    local_tag: str,
    timers: Timers,
    now: float,
) -> tuple[CallState, list[Action]]:
    """Start a UAS call from an initial INVITE (the layer sent 100 Trying): ring (180) or answer at once."""
    s = CallState(
        role="uas",
        phase="early",
        call_id=invite.call_id,
        local_tag=local_tag,
        local_uri=invite.to_addr.uri,
        remote_uri=invite.from_addr.uri,
        local_contact=local_contact,
        local_media=local_media,
        timers=timers,
        remote_tag=invite.from_tag or "",
        remote_target=contact_uri(invite),
        remote_endpoint=source,
        route_set=tuple(invite.headers.get_all("Record-Route")),
        remote_cseq=invite.cseq[0],
        invite=invite,
        invite_source=source,
        caller_user=user_of(invite.headers.get("From") or ""),
        called_user=user_of(invite.uri),
    )
    out: list[Action] = []
    if timers.answer_delay > 0:
        respond(s, invite, source, 180, out)
        s.answer_at = now + timers.answer_delay
    else:
        answer(s, now, out)
    finish(s, out)
    return s, out


# ---------------------------------------------------------------- requests


def on_request(s: CallState, req: Request, source: Endpoint, now: float, out: list[Action]) -> None:
    try:
        cseq, _ = req.cseq
    except SipParseError:
        return
    if req.method == "ACK":
        on_ack(s, req, out)
        return
    if s.phase == "ended":
        respond(s, req, source, 481, out)
        return
    to_tag = req.to_tag
    if to_tag and to_tag != s.local_tag:
        respond(s, req, source, 481, out)
        return
    if cseq <= s.remote_cseq:
        respond(s, req, source, 500, out, reason="CSeq Out of Order")
        return
    s.remote_cseq = cseq
    s.remote_endpoint = source
    handler = _HANDLERS.get(req.method)
    if handler is None:
        respond(s, req, source, 501, out)
        return
    handler(s, req, source, now, out)


def on_ack(s: CallState, req: Request, out: list[Action]) -> None:
    if s.invite is None or s.last_invite_response is None or not s.last_invite_response.is_success:
        return
    try:
        if req.cseq[0] != s.invite.cseq[0]:
            return
    except SipParseError:
        return
    s.awaiting_ack = False
    if s.phase == "answering":
        s.phase = "confirmed"
    if s.remote_sdp_offer_pending:
        s.remote_sdp_offer_pending = False
        params = negotiate.accept(s.local_media, req.body) if req.body else None
        if params is not None:
            out.append(UpdateMedia(params) if s.media is not None else StartMedia(params))
            s.media = params


def on_cancel(s: CallState, now: float, out: list[Action]) -> None:
    if s.phase == "early" and s.role == "uas":
        invite_final(s, 487, out)
        s.answer_at = None
        end(s, "cancelled", True, out)


def on_invite(s: CallState, req: Request, source: Endpoint, now: float, out: list[Action]) -> None:
    """A re-INVITE (the initial INVITE is handled by :func:`new_uas`)."""
    if s.awaiting_ack or s.phase not in ("confirmed", "answering"):
        respond(s, req, source, 491, out)
        return
    s.invite, s.invite_source = req, source
    if req.body and req.content_type == "application/sdp":
        result = negotiate.answer(s.local_media, s.sdp_version + 1, req.body, current=s.media)
        if result is None:
            invite_final(s, 488, out)
            return
        sdp, params = stamp(s, result[0]), result[1]
        invite_final(s, 200, out, body=sdp, content_type="application/sdp")
        if params != s.media:
            out.append(UpdateMedia(params) if s.media is not None else StartMedia(params))
        s.media = params
    else:
        sdp = stamp(s, negotiate.offer(s.local_media, s.sdp_version + 1))
        s.remote_sdp_offer_pending = True
        invite_final(s, 200, out, body=sdp, content_type="application/sdp")


def on_update(s: CallState, req: Request, source: Endpoint, now: float, out: list[Action]) -> None:
    if not (req.body and req.content_type == "application/sdp"):
        respond(s, req, source, 200, out)
        return
    result = negotiate.answer(s.local_media, s.sdp_version + 1, req.body, current=s.media)
    if result is None:
        respond(s, req, source, 488, out)
        return
    sdp, params = stamp(s, result[0]), result[1]
    respond(s, req, source, 200, out, body=sdp, content_type="application/sdp")
    if params != s.media:
        out.append(UpdateMedia(params) if s.media is not None else StartMedia(params))
    s.media = params


def on_bye(s: CallState, req: Request, source: Endpoint, now: float, out: list[Action]) -> None:
    respond(s, req, source, 200, out)
    if s.phase == "early" and s.invite is not None:
        invite_final(s, 487, out)
    end(s, "remote_bye", True, out)


def on_info(s: CallState, req: Request, source: Endpoint, now: float, out: list[Action]) -> None:
    ctype = req.content_type
    if not req.body:
        respond(s, req, source, 200, out)
        return
    if ctype not in ("application/dtmf-relay", "application/dtmf"):
        respond(s, req, source, 415, out, headers=[("Accept", ACCEPT)])
        return
    digit = parse_dtmf_info(ctype, req.body)
    if digit is None:
        respond(s, req, source, 400, out, reason="Bad DTMF Body")
        return
    respond(s, req, source, 200, out)
    out.append(Deliver(DigitEvent(digit[0], "info", digit[1])))


def on_options(s: CallState, req: Request, source: Endpoint, now: float, out: list[Action]) -> None:
    respond(s, req, source, 200, out, headers=[("Accept", ACCEPT)])


def on_notify(s: CallState, req: Request, source: Endpoint, now: float, out: list[Action]) -> None:
    event = (req.headers.get("Event") or "").split(";")[0].strip().lower()
    if event != "refer" or not s.refer_pending:
        respond(s, req, source, 481, out, reason="Subscription Does Not Exist")
        return
    respond(s, req, source, 200, out)
    frag = parse_sipfrag(req.body)
    terminated = (req.headers.get("Subscription-State") or "").lower().startswith("terminated")
    if frag is not None and frag[0] >= 200:
        refer_done(s, TransferResult(True, 200 <= frag[0] < 300, frag[0], frag[1]), out)
    elif terminated:
        refer_done(s, TransferResult(True, False, frag[0] if frag else 0, "subscription terminated"), out)


def on_refer(s: CallState, req: Request, source: Endpoint, now: float, out: list[Action]) -> None:
    respond(s, req, source, 501, out, reason="Transfer Not Supported")


_HANDLERS = {
    "INVITE": on_invite,
    "UPDATE": on_update,
    "BYE": on_bye,
    "INFO": on_info,
    "OPTIONS": on_options,
    "NOTIFY": on_notify,
    "REFER": on_refer,
}


# ---------------------------------------------------------------- commands, timers, timeouts


def refer_done(s: CallState, result: TransferResult, out: list[Action]) -> None:
    s.refer_pending = False
    s.refer_deadline = None
    out.append(Deliver(result))


def end(s: CallState, reason: str, by_remote: bool, out: list[Action]) -> None:
    if s.phase == "ended":
        return
    s.phase = "ended"
    s.hangup_reason = reason
    s.answer_at = s.dial_deadline = None
    if s.media is not None:
        out.append(StopMedia())
    if s.refer_pending:
        refer_done(s, TransferResult(True, by_remote, 0, "call ended during transfer"), out)
    out.append(Deliver(HangupEvent(reason, by_remote)))


def send_request(s: CallState, req: Request, dest: Endpoint, purpose: str, out: list[Action]) -> None:
    key = -req.cseq[0] if purpose == "cancel" else req.cseq[0]
    s.out[key] = OutRequest(req, dest, purpose)
    out.append(Send(req, dest))


def send_bye(s: CallState, out: list[Action]) -> None:
    s.local_cseq += 1
    req, dest = in_dialog_request(s, "BYE")
    send_request(s, req, dest, "bye", out)


def hangup(s: CallState, now: float, reason: str, status: int, out: list[Action]) -> None:
    if s.phase == "early" and s.role == "uas":
        invite_final(s, status, out)
        end(s, reason, False, out)
    elif s.phase in ("answering", "confirmed"):
        send_bye(s, out)
        end(s, reason, False, out)
    elif s.phase in ("calling", "cancelling"):
        from ivr.engine.uac import cancel

        cancel(s, reason, out)


def transfer(s: CallState, now: float, target: str, out: list[Action]) -> None:
    if s.phase not in ("confirmed", "answering") or s.refer_pending:
        out.append(Deliver(TransferResult(False, False, 0, "call not established or transfer pending")))
        return
    s.local_cseq += 1
    refer_to = target if target.startswith("<") else f"<{target}>"
    req, dest = in_dialog_request(s, "REFER", extra=[("Refer-To", refer_to), ("Referred-By", f"<{s.local_uri}>")])
    send_request(s, req, dest, "refer", out)
    s.refer_pending = True
    s.refer_deadline = now + s.timers.refer_timeout


def on_tick(s: CallState, now: float, out: list[Action]) -> None:
    if s.answer_at is not None and now >= s.answer_at and s.phase == "early":
        answer(s, now, out)
    if s.refer_deadline is not None and now >= s.refer_deadline:
        refer_done(s, TransferResult(True, False, 408, "no final NOTIFY"), out)
    if s.dial_deadline is not None and now >= s.dial_deadline and s.phase == "calling":
        from ivr.engine.uac import cancel

        cancel(s, "timeout", out)


def on_tx_timeout(s: CallState, event: TxTimeout, out: list[Action]) -> None:
    req = event.request
    if event.timer in ("L", "H"):  # our final response to an INVITE was never ACKed
        if s.awaiting_ack and s.invite is not None and req.cseq == s.invite.cseq:
            s.awaiting_ack = False
            if s.phase in ("answering", "confirmed"):
                send_bye(s, out)
                end(s, "no_ack", False, out)
        return
    key = -req.cseq[0] if req.method == "CANCEL" else req.cseq[0]
    pending = s.out.pop(key, None)
    if pending is not None:
        from ivr.engine.uac import on_timeout

        on_timeout(s, pending, out)
