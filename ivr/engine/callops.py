"""Building blocks of the call state machine: send responses and requests, version SDP, end a call."""

from __future__ import annotations

from ivr.app import HangupEvent, TransferResult
from ivr.engine.model import Action, CallState, Deliver, OutRequest, Send, StopMedia, Terminated, WakeAt
from ivr.engine.sipmsg import ALLOW, SUPPORTED, in_dialog_request
from ivr.sip import Request, Response, make_response
from ivr.sip.address import Endpoint

DIALOG_STATE = {"early": "early", "calling": "early", "cancelling": "early", "answering": "confirmed",
                "confirmed": "confirmed"}  # what the call's phase means for its dialog (RFC 3261 §12)


def finish(s: CallState, out: list[Action]) -> None:
    """After every step: the dialog's state follows the phase; the call's wake-up, or its end."""
    s.dialog.state = DIALOG_STATE.get(s.phase, "terminated")
    if s.phase == "ended" and not s.out:
        out += [WakeAt(None), Terminated()]
        return
    times = [t for t in (s.answer_at, s.dial_deadline, s.refer_deadline) if t is not None]
    out.append(WakeAt(min(times) if times else None))


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
    tag = s.dialog.local_tag
    resp = make_response(req, status, reason, to_tag=tag, headers=extra, body=body, content_type=content_type)
    out.append(Send(resp, source))  # the transaction layer routes it (Via received/rport, TCP connection)
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
    req, dest = in_dialog_request(s, "BYE")
    send_request(s, req, dest, "bye", out)
