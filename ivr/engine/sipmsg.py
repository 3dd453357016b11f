"""Small pure helpers for building and routing SIP messages of a call."""

from __future__ import annotations

from ivr.engine.model import CallState
from ivr.sip import NameAddr, Request, Response, SipParseError, parse_name_addr, parse_uri
from ivr.sip.address import Endpoint, transport_name
from ivr.sip.dialog import LocalEndpoint
from ivr.sip.uri import SipUri

ALLOW = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY, UPDATE"
ACCEPT = "application/sdp, application/dtmf-relay, application/dtmf, message/sipfrag"
SUPPORTED = "norefersub"  # no "replaces": an incoming Replaces header (RFC 3891) is not acted on


def uri_dest(uri: str, fallback: Endpoint | None = None) -> Endpoint | None:
    """Transport address of a SIP URI (no DNS: hosts are IP addresses or resolvable names as given)."""
    try:
        parsed = parse_uri(parse_name_addr(uri).uri if "<" in uri else uri)
    except SipParseError:
        return fallback
    if parsed.scheme not in ("sip", "sips"):
        return fallback
    host, port = parsed.host_port
    return Endpoint(transport_name(parsed.transport), host, port)


def bare_uri(uri: str) -> str:
    """The URI of ``<uri>;params`` (or ``uri`` itself)."""
    try:
        return parse_name_addr(uri).uri if "<" in uri else uri
    except SipParseError:
        return uri


def local_contact(user: str, host: str, port: int, transport: str = "udp") -> str:
    """Our Contact (``<sip:user@host:port>``) for a call or an answer: the one place it is built.

    ``user`` is unescaped (as :func:`user_of` gives it, e.g. the Request-URI's user ``sips:user@example.com``
    of RFC 4475 esc01) and is escaped again here, so the Contact is one valid SIP URI a BYE can be sent to;
    an empty user becomes ``ivr``.
    """
    params: dict[str, str | None] = {"transport": transport} if transport in ("tcp", "tls") else {}
    return f"<{SipUri(scheme='sip', user=user or 'ivr', host=host, port=port, params=params)}>"


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
    dialog = state.dialog
    target = dialog.route_set[0] if dialog.route_set else dialog.remote_target
    dest = uri_dest(target, state.remote_endpoint) if target else state.remote_endpoint
    if dest is None:
        return Endpoint("udp", "127.0.0.1", 5060)
    if state.remote_endpoint is not None and state.remote_endpoint.transport != "udp" and dest.transport == "udp":
        return state.remote_endpoint
    return dest


def local_endpoint(local_contact: str, dest: Endpoint) -> LocalEndpoint:
    """How a call appears on the wire toward ``dest``: sent-by and Contact from our Contact URI."""
    contact = parse_name_addr(local_contact).uri if local_contact else ""
    sent_by = uri_dest(contact) if contact else None
    host, port = (sent_by.host, sent_by.port) if sent_by is not None else ("127.0.0.1", 5060)
    return LocalEndpoint(host, port, dest.sip_transport, contact)


def via_for(state: CallState, dest: Endpoint) -> str:
    """Our Via for a new request (with rport, RFC 3581)."""
    return local_endpoint(state.local_contact, dest).via()


def name_addr(uri: str, tag: str = "") -> NameAddr:
    """``<uri>`` with ``;tag=`` when there is one (how the call puts its From/To on the wire)."""
    return NameAddr(uri, params={"tag": tag} if tag else {})


def in_dialog_request(
    state: CallState,
    method: str,
    *,
    body: bytes = b"",
    content_type: str | None = None,
    extra: list[tuple[str, str]] | None = None,
    cseq: int | None = None,
) -> tuple[Request, Endpoint]:
    """A request inside the dialog, built by the call's :class:`ivr.sip.dialog.Dialog` (RFC 3261 §12.2.1.1: route
    set, strict routers, Contact on target-refresh requests); it takes the next local CSeq unless ``cseq`` is
    given (the ACK reuses its INVITE's)."""
    dest = in_dialog_dest(state)
    dialog = state.dialog
    dialog.endpoint = local_endpoint(state.local_contact, dest)  # the transport toward dest names our Via
    request = dialog.create_request(method, body=body, content_type=content_type, headers=extra or (), cseq=cseq)
    return request, dest
