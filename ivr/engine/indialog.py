"""Requests inside a dialog (both call directions): re-INVITE, UPDATE, BYE, INFO, OPTIONS, NOTIFY, REFER."""

from __future__ import annotations

from collections.abc import Callable

from ivr.app import DigitEvent, TransferResult
from ivr.engine import negotiate
from ivr.engine.callops import end, invite_final, refer_done, respond, stamp
from ivr.engine.model import Action, CallState, Deliver, StartMedia, UpdateMedia
from ivr.engine.sipmsg import ACCEPT
from ivr.sip import Request
from ivr.sip.address import Endpoint
from ivr.sip.bodies import parse_dtmf_info, parse_sipfrag

Handler = Callable[[CallState, Request, Endpoint, float, list[Action]], None]


def on_invite(s: CallState, req: Request, source: Endpoint, now: float, out: list[Action]) -> None:
    """A re-INVITE (the initial INVITE is handled by :func:`new_uas`)."""
    if s.awaiting_ack or s.phase not in ("confirmed", "answering"):
        respond(s, req, source, 491, out)
        return
    s.invite, s.invite_source = req, source
    if req.body and req.content_type == "application/sdp":
        result = negotiate.answer(s.local_media, s.sdp_version + 1, req.body)
        if result is None:
            invite_final(s, 488, out)
            return
        sdp, params = stamp(s, result[0]), result[1]
        invite_final(s, 200, out, body=sdp, content_type="application/sdp")
        if params != s.media:
            out.append(UpdateMedia(params) if s.media is not None else StartMedia(params))
        s.media = params
    else:
        secure = s.media is not None and s.media.srtp is not None
        sdp = stamp(s, negotiate.offer(s.local_media, s.sdp_version + 1, secure=secure))
        s.remote_sdp_offer_pending = True
        invite_final(s, 200, out, body=sdp, content_type="application/sdp")


def on_update(s: CallState, req: Request, source: Endpoint, now: float, out: list[Action]) -> None:
    if not (req.body and req.content_type == "application/sdp"):
        respond(s, req, source, 200, out)
        return
    result = negotiate.answer(s.local_media, s.sdp_version + 1, req.body)
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


HANDLERS: dict[str, Handler] = {
    "INVITE": on_invite,
    "UPDATE": on_update,
    "BYE": on_bye,
    "INFO": on_info,
    "OPTIONS": on_options,
    "NOTIFY": on_notify,
    "REFER": on_refer,
}
