"""UAC side of the call state machine: outgoing INVITE (agent legs), responses, CANCEL, timeouts.

The transaction layer retransmits the INVITE (Timer A), ACKs non-2xx finals itself and reports Timer B; this
module ACKs every 2xx (also retransmitted ones), CANCELs on the dial timeout, retries once with digest
credentials on 401/407, and sends BYE when a 2xx arrives after it gave up.
"""

from __future__ import annotations

from ivr.app import TransferResult
from ivr.engine import negotiate
from ivr.engine.callops import finish, refer_done, send_bye, send_request, stamp
from ivr.engine.model import (
    Action,
    Answered,
    CallState,
    DialFailure,
    LocalMedia,
    OutRequest,
    Send,
    StartMedia,
    Timers,
)
from ivr.engine.sipmsg import ALLOW, contact_uri, in_dialog_request, local_endpoint, name_addr, user_of, via_for
from ivr.sip import Headers, Request, Response, SipParseError
from ivr.sip.address import Endpoint
from ivr.sip.auth import authorize_request
from ivr.sip.dialog import Dialog


def new_uac(
    target: str,
    dest: Endpoint,
    *,
    from_uri: str,
    display: str,
    local_contact: str,
    local_media: LocalMedia,
    local_tag: str,
    call_id: str,
    timers: Timers,
    now: float,
    dial_timeout: float,
    credentials: tuple[str, str] | None = None,
    to_uri: str | None = None,
) -> tuple[CallState, list[Action]]:
    """An outgoing call to ``target`` (Request-URI; To is ``to_uri``, e.g. the agent's AOR, default ``target``):
    INVITE with our SDP offer, CANCEL after ``dial_timeout``."""
    dialog = Dialog(
        call_id=call_id,
        local=name_addr(from_uri, local_tag),
        remote=name_addr(to_uri or target),
        remote_target=target,
        endpoint=local_endpoint(local_contact, dest),
        role="uac",
        local_cseq=0,
        state="early",
    )
    s = CallState(
        phase="calling",
        dialog=dialog,
        local_contact=local_contact,
        local_media=local_media,
        timers=timers,
        remote_endpoint=dest,
        credentials=credentials,
        caller_user=user_of(from_uri),
        called_user=user_of(to_uri or target),
    )
    s.dial_deadline = now + dial_timeout
    out: list[Action] = []
    send_invite(s, out, display=display)
    finish(s, out)
    return s, out


def send_invite(s: CallState, out: list[Action], *, display: str = "") -> None:
    dialog = s.dialog
    dialog.local_cseq += 1
    dest = s.remote_endpoint or Endpoint("udp", "127.0.0.1", 5060)
    headers = Headers()
    headers.add("Via", via_for(s, dest))
    headers.add("Max-Forwards", "70")
    name = f'"{display}" ' if display else ""
    headers.add("From", f"{name}<{dialog.local.uri}>;tag={dialog.local_tag}")
    headers.add("To", f"<{dialog.remote.uri}>")
    headers.add("Call-ID", dialog.call_id)
    headers.add("CSeq", f"{dialog.local_cseq} INVITE")
    headers.add("Contact", s.local_contact)
    headers.add("Allow", ALLOW)
    headers.add("Content-Type", "application/sdp")
    body = stamp(s, negotiate.offer(s.local_media, s.sdp_version + 1))
    invite = Request("INVITE", dialog.remote_target, headers, body)
    s.invite = invite
    send_request(s, invite, dest, "invite", out)


def cancel(s: CallState, reason: str, out: list[Action]) -> None:
    """Give up on an outgoing call: CANCEL after a provisional response, otherwise stop waiting."""
    pending = next((o for o in s.out.values() if o.purpose == "invite"), None)
    if s.phase != "calling" or pending is None:
        return
    if s.provisional_seen:
        inv = pending.request
        headers = Headers()
        headers.add("Via", inv.headers.get_lines("Via")[0])
        headers.add("Max-Forwards", "70")
        for name in ("From", "To", "Call-ID"):
            headers.add(name, inv.headers.get(name) or "")
        headers.add("CSeq", f"{inv.cseq[0]} CANCEL")
        send_request(s, Request("CANCEL", inv.uri, headers), pending.dest, "cancel", out)
        s.phase = "cancelling"
    else:  # nothing heard yet (RFC 3261 §9.1: no CANCEL before a provisional): a late 2xx gets ACK + BYE
        del s.out[pending.request.cseq[0]]
        s.phase = "ended"
    s.dial_deadline = None
    s.hangup_reason = reason
    out.append(DialFailure(0, reason))


def on_response(s: CallState, resp: Response, now: float, out: list[Action]) -> None:
    try:
        cseq, method = resp.cseq
    except SipParseError:
        return
    key = -cseq if method == "CANCEL" else cseq
    o = s.out.get(key)
    if o is None or o.request.method != method:
        if method == "INVITE" and resp.is_success:
            late_2xx(s, resp, out)
        return
    if resp.is_provisional:
        if method == "INVITE":
            s.provisional_seen = True
        return
    del s.out[key]
    if o.purpose == "invite":
        on_invite_final(s, resp, o, out)
    elif o.purpose == "bye":
        s.phase = "ended"
    elif o.purpose == "refer" and resp.status >= 300:
        refer_done(s, TransferResult(False, False, resp.status, resp.reason), out)


def late_2xx(s: CallState, resp: Response, out: list[Action]) -> None:
    """A retransmitted 2xx: the same ACK again; a 2xx for an INVITE we had given up: ACK, then BYE."""
    if s.last_ack is not None and s.ack_dest is not None and resp.to_tag == s.dialog.remote_tag:
        out.append(Send(s.last_ack, s.ack_dest))
    elif s.role == "uac" and s.phase == "ended" and s.invite is not None and resp.cseq == s.invite.cseq:
        accept_2xx(s, resp)
        ack, dest = in_dialog_request(s, "ACK", cseq=resp.cseq[0])
        s.last_ack, s.ack_dest = ack, dest
        out.append(Send(ack, dest))
        send_bye(s, out)


def accept_2xx(s: CallState, resp: Response) -> None:
    """The 2xx fixes the dialog: the remote tag, target and route set (RFC 3261 §12.1.2, §13.2.2.4)."""
    dialog = s.dialog
    dialog.remote = name_addr(dialog.remote.uri, resp.to_tag or "")
    dialog.remote_target = contact_uri(resp) or dialog.remote_target
    dialog.route_set = list(reversed(resp.headers.get_all("Record-Route")))


def on_invite_final(s: CallState, resp: Response, o: OutRequest, out: list[Action]) -> None:
    invite = o.request
    if resp.is_success:
        accept_2xx(s, resp)
        ack, dest = in_dialog_request(s, "ACK", cseq=invite.cseq[0])
        s.last_ack, s.ack_dest = ack, dest
        out.append(Send(ack, dest))
        if s.phase in ("cancelling", "ended"):  # answered while we gave up: ACK, then BYE
            send_bye(s, out)
            s.phase = "ended"
            return
        s.phase = "confirmed"
        s.dial_deadline = None
        params = negotiate.accept(s.local_media, resp.body) if resp.body else None
        if params is not None:
            s.media = params
            out.append(StartMedia(params))
        out.append(Answered())
        return
    # non-2xx: the transaction layer has sent the ACK
    if resp.status in (401, 407) and s.credentials is not None and s.auth_tries == 0 and s.phase == "calling":
        retry = authorize_request(invite, resp, *s.credentials)
        if retry is not None:
            s.auth_tries += 1
            s.dialog.local_cseq = retry.cseq[0]
            s.invite = retry
            send_request(s, retry, o.dest, "invite", out)
            return
    was_calling = s.phase == "calling"
    s.phase = "ended"
    s.dial_deadline = None
    if was_calling:
        out.append(DialFailure(resp.status, resp.reason))


def on_timeout(s: CallState, o: OutRequest, out: list[Action]) -> None:
    """Timer B/F: no final response to a request of ours."""
    if o.purpose == "invite":
        if s.phase == "calling":
            out.append(DialFailure(0, "timeout"))
        s.phase = "ended"
        s.dial_deadline = None
    elif o.purpose == "bye":
        s.phase = "ended"
    elif o.purpose == "refer" and s.refer_pending:
        refer_done(s, TransferResult(False, False, 408, "REFER timed out"), out)
