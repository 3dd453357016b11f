"""The call state machine: ``step(state, event) -> (state, actions)``, pure and sans-IO.

One :class:`CallState` per call leg (UAS for callers, UAC for agent legs), above the transaction layer
(:mod:`ivr.sip.transaction`, which sends 100 Trying, retransmits and absorbs retransmissions, answers CANCEL and
ACKs non-2xx finals).  The UAS rings (180) for ``answer_delay`` or answers at once with 200 + SDP answer, 488
without a common codec, 487 after a CANCEL, BYE when its 2xx is never ACKed; in the dialog it handles BYE
either way, re-INVITE / UPDATE (hold, unhold, session refresh), INFO digits, OPTIONS, REFER out with NOTIFY
progress, and answers 501 to what it does not do (handlers in :mod:`ivr.engine.indialog`, building blocks in
:mod:`ivr.engine.callops`).  UAC legs live in :mod:`ivr.engine.uac`.
"""

from __future__ import annotations

from ivr.app import TransferResult
from ivr.engine import negotiate
from ivr.engine.callops import end, finish, invite_final, refer_done, respond, send_bye, send_request, stamp
from ivr.engine.indialog import HANDLERS
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
    StartMedia,
    Tick,
    Timers,
    TransferCmd,
    TxTimeout,
    UpdateMedia,
)
from ivr.engine.sipmsg import contact_uri, in_dialog_request, local_endpoint, name_addr, user_of
from ivr.sip import Request, SipParseError
from ivr.sip.address import Endpoint
from ivr.sip.dialog import OUT_OF_ORDER, Dialog


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


# ---------------------------------------------------------------- UAS answer


def answer(s: CallState, now: float, out: list[Action]) -> None:
    assert s.invite is not None
    s.answer_at = None
    offer = s.invite.body if s.invite.content_type == "application/sdp" else b""
    if offer:
        result = negotiate.answer(s.local_media, s.sdp_version + 1, offer)
        if result is None:
            warning, s.hangup_reason = negotiate.refusal(s.local_media, offer)
            invite_final(s, 488, out, reason="Not Acceptable Here", headers=[("Warning", warning)])
            s.phase = "ended"
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
    dialog = Dialog(
        call_id=invite.call_id,
        local=name_addr(invite.to_addr.uri, local_tag),
        remote=name_addr(invite.from_addr.uri, invite.from_tag or ""),
        remote_target=contact_uri(invite),
        endpoint=local_endpoint(local_contact, source),
        role="uas",
        local_cseq=0,
        remote_cseq=invite.cseq[0],
        route_set=invite.headers.get_all("Record-Route"),
        state="early",
    )
    s = CallState(
        phase="early",
        dialog=dialog,
        local_contact=local_contact,
        local_media=local_media,
        timers=timers,
        remote_endpoint=source,
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
        req.cseq  # noqa: B018 - a request without a valid CSeq is dropped
    except SipParseError:
        return
    if req.method == "ACK":
        on_ack(s, req, out)
        return
    if s.phase == "ended":
        respond(s, req, source, 481, out)
        return
    to_tag = req.to_tag
    if to_tag and to_tag != s.dialog.local_tag:
        respond(s, req, source, 481, out)
        return
    if not s.dialog.in_order(req):  # RFC 3261 §12.2.2, the rule of ivr.sip.dialog
        status, reason, headers = OUT_OF_ORDER
        respond(s, req, source, status, out, reason=reason, headers=list(headers))
        return
    s.dialog.take_request(req)  # CSeq, and the remote target of a target-refresh request
    s.remote_endpoint = source
    handler = HANDLERS.get(req.method)
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


# ---------------------------------------------------------------- commands, timers, timeouts


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
    refer_to = target if target.startswith("<") else f"<{target}>"
    referred_by = f"<{s.dialog.local.uri}>"
    req, dest = in_dialog_request(s, "REFER", extra=[("Refer-To", refer_to), ("Referred-By", referred_by)])
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
