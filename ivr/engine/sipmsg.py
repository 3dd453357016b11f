"""Small pure helpers for building and routing SIP messages of a call."""

from __future__ import annotations

from ivr.engine.model import CallState
from ivr.net.transport import Endpoint
from ivr.sip import Headers, Request, Response, SipParseError, new_branch, parse_name_addr, parse_uri

ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY, UPDATE"
ACCEPT = "application/sdp, application/dtmf-relay, application/dtmf, message/sipfrag"
SUPPORTED = "replaces, norefersub"


def uri_dest(uri: str, fallback: Endpoint | None = None) -> Endpoint | None:
    """Transport address of a SIP URI (no DNS: hosts are IP addresses or resolvable names as given)."""
    try:
        parsed = parse_uri(parse_name_addr(uri).uri if "<" in uri else uri)
    except SipParseError:
        return fallback
    if parsed.scheme not in ("sip", "sips"):
        return fallback
    host, port = parsed.host_port
    return Endpoint("tcp" if parsed.transport == "TCP" else "udp", host, port)


def contact_uri(message: Request | Response) -> str:
    value = message.headers.get("Contact")
    if not value:
        return ""
    try:
        return parse_name_addr(value.split(",")[0]).uri
    except SipParseError:
        return ""


def user_of(uri_or_addr: str) -> str:
    try:
        text = parse_name_addr(uri_or_addr).uri
        parsed = parse_uri(text)
    except SipParseError:
        return ""
    return parsed.user or ""


def in_dialog_dest(state: CallState) -> Endpoint:
    target = state.route_set[0] if state.route_set else state.remote_target
    dest = uri_dest(target, state.remote_endpoint) if target else state.remote_endpoint
    if dest is None:
        return Endpoint("udp", "127.0.0.1", 5060)
    if state.remote_endpoint is not None and state.remote_endpoint.transport == "tcp" and dest.transport == "udp":
        return state.remote_endpoint
    return dest


def via_for(state: CallState, dest: Endpoint, branch: str | None = None) -> str:
    """Our Via for a new request: sent-by from our Contact (its host and port), with rport (RFC 3581)."""
    sent_by = uri_dest(state.local_contact)
    host, port = (sent_by.host, sent_by.port) if sent_by is not None else ("127.0.0.1", 5060)
    transport = "TCP" if dest.transport == "tcp" else "UDP"
    return f"SIP/2.0/{transport} {host}:{port};branch={branch or new_branch()};rport"


def in_dialog_request(
    state: CallState,
    method: str,
    *,
    body: bytes = b"",
    content_type: str | None = None,
    extra: list[tuple[str, str]] | None = None,
    cseq: int | None = None,
    branch: str | None = None,
) -> tuple[Request, Endpoint]:
    """A request inside the dialog (RFC 3261 §12.2.1.1); the caller bumps ``state.local_cseq`` before."""
    dest = in_dialog_dest(state)
    headers = Headers()
    headers.add("Via", via_for(state, dest, branch))
    headers.add("Max-Forwards", "70")
    headers.add("From", f"<{state.local_uri}>;tag={state.local_tag}")
    to = f"<{state.remote_uri}>" + (f";tag={state.remote_tag}" if state.remote_tag else "")
    headers.add("To", to)
    headers.add("Call-ID", state.call_id)
    headers.add("CSeq", f"{cseq if cseq is not None else state.local_cseq} {method}")
    for route in state.route_set:
        headers.add("Route", route)
    headers.add("Contact", state.local_contact)
    for name, value in extra or []:
        headers.add(name, value)
    if body and content_type:
        headers.add("Content-Type", content_type)
    uri = state.remote_target or state.remote_uri
    return Request(method=method, uri=uri, headers=headers, body=body), dest
