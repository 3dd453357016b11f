"""Dialogs (RFC 3261 §12): state for UAS and UAC, in-dialog request builders and validation."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from ivr.sip.errors import SipParseError
from ivr.sip.events import Address
from ivr.sip.headers import Headers, NameAddr, parse_name_addr
from ivr.sip.message import Request, Response, make_response, new_branch
from ivr.sip.uri import parse_uri

TARGET_REFRESH = frozenset({"INVITE", "UPDATE", "SUBSCRIBE", "NOTIFY", "REFER"})
OUT_OF_ORDER: tuple[int, str, tuple[tuple[str, str], ...]] = (500, "CSeq Out of Order", (("Retry-After", "1"),))
"""The answer to an in-dialog request numbered lower than the last one (RFC 3261 §12.2.2, §21.5.1)."""


@dataclass(frozen=True)
class LocalEndpoint:
    """How we appear on the wire: the sent-by for Via, the transport, our Contact URI, User-Agent."""

    host: str
    port: int
    transport: str = "UDP"
    contact: str = ""
    user_agent: str = "hotline12345"

    @property
    def contact_uri(self) -> str:
        return self.contact or f"sip:ivr@{self.host}:{self.port}"

    def via(self, branch: str | None = None) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"SIP/2.0/{self.transport.upper()} {host}:{self.port};branch={branch or new_branch()};rport"


@dataclass
class Dialog:
    """One dialog.  ``local``/``remote`` are the From/To addresses as seen by us (with tags).

    ``remote_target`` is the remote's Contact URI; empty when it sent none, then requests go to ``remote.uri``.
    """

    call_id: str
    local: NameAddr
    remote: NameAddr
    remote_target: str
    endpoint: LocalEndpoint
    role: Literal["uas", "uac"]
    local_cseq: int
    remote_cseq: int | None = None
    route_set: list[str] = field(default_factory=list)
    secure: bool = False
    state: str = "confirmed"  # "early" | "confirmed" | "terminated"

    @property
    def local_tag(self) -> str:
        return self.local.tag or ""

    @property
    def remote_tag(self) -> str:
        return self.remote.tag or ""

    @property
    def id(self) -> tuple[str, str, str]:
        return self.call_id, self.local_tag, self.remote_tag

    # ------------------------------------------------------------------ creation
    @classmethod
    def from_uas(cls, invite: Request, local_tag: str, endpoint: LocalEndpoint, *, local_cseq: int | None = None
                 ) -> Dialog:
        """Dialog of a UAS answering ``invite`` with To tag ``local_tag`` (RFC 3261 §12.1.1)."""
        contact = _contact_uri(invite)
        return cls(
            call_id=invite.call_id,
            local=invite.to_addr.with_tag(local_tag),
            remote=invite.from_addr,
            remote_target=contact or invite.from_addr.uri,
            endpoint=endpoint,
            role="uas",
            local_cseq=local_cseq if local_cseq is not None else secrets.randbelow(2**16) + 1,
            remote_cseq=invite.cseq[0],
            route_set=invite.headers.get_all("Record-Route"),
            secure=invite.uri.lower().startswith("sips:"),
        )

    @classmethod
    def from_uac(cls, invite: Request, response: Response, endpoint: LocalEndpoint) -> Dialog:
        """Dialog of a UAC from a 1xx-with-tag (early) or 2xx response to ``invite`` (RFC 3261 §12.1.2)."""
        contact = _contact_uri(response)
        return cls(
            call_id=invite.call_id,
            local=invite.from_addr,
            remote=response.to_addr,
            remote_target=contact or invite.uri,
            endpoint=endpoint,
            role="uac",
            local_cseq=invite.cseq[0],
            route_set=list(reversed(response.headers.get_all("Record-Route"))),
            secure=invite.uri.lower().startswith("sips:"),
            state="confirmed" if response.is_success else "early",
        )

    def confirm(self, response: Response) -> None:
        """Early -> confirmed on the 2xx (route set and target are recomputed, RFC 3261 §13.2.2.4)."""
        self.route_set = list(reversed(response.headers.get_all("Record-Route")))
        self.refresh_target(response)
        self.state = "confirmed"

    def refresh_target(self, message: Request | Response) -> None:
        """Target refresh: a Contact in a re-INVITE/UPDATE (or its 2xx) replaces the remote target."""
        contact = _contact_uri(message)
        if contact:
            self.remote_target = contact

    # ------------------------------------------------------------------ incoming
    def in_order(self, request: Request) -> bool:
        """The CSeq rule of RFC 3261 §12.2.2: a request numbered lower than the last one from the remote is out
        of order (answer :data:`OUT_OF_ORDER`).  An equal number is not: a retransmission never gets here (the
        transaction layer absorbs it; ACK and CANCEL reuse the INVITE's number and are matched there), and the
        RFC rejects only lower numbers."""
        return self.remote_cseq is None or request.cseq[0] >= self.remote_cseq

    def take_request(self, request: Request) -> None:
        """Record an in-order request: its CSeq, and a new remote target from a target-refresh request."""
        self.remote_cseq = request.cseq[0]
        if request.method in TARGET_REFRESH:
            self.refresh_target(request)

    def check_request(self, request: Request) -> Response | None:
        """Validate an in-dialog request; returns the error response to send, or None (CSeq recorded).

        ACK and CANCEL reuse the INVITE's CSeq and are not checked.
        """
        if request.method in ("ACK", "CANCEL"):
            return None
        if not self.in_order(request):
            status, reason, headers = OUT_OF_ORDER
            return make_response(request, status, reason, to_tag=self.local_tag, headers=list(headers))
        self.take_request(request)
        return None

    # ------------------------------------------------------------------ outgoing
    def next_hop(self) -> str:
        """URI to send in-dialog requests to: the first route if any, else the remote target."""
        if self.route_set:
            return parse_name_addr(self.route_set[0]).uri
        return self.remote_target or self.remote.uri

    def destination(self) -> Address:
        """(host, port) of :meth:`next_hop` (no DNS: the shell resolves names)."""
        return parse_uri(self.next_hop()).host_port

    def create_request(
        self,
        method: str,
        *,
        body: bytes = b"",
        content_type: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        cseq: int | None = None,
    ) -> Request:
        """A new in-dialog request (RFC 3261 §12.2.1.1); increments the local CSeq unless ``cseq`` is given."""
        if cseq is None:
            self.local_cseq += 1
            cseq = self.local_cseq
        target = self.remote_target or self.remote.uri
        uri = target
        routes = list(self.route_set)
        if routes and "lr" not in parse_uri(parse_name_addr(routes[0]).uri).params:
            # Strict router: it becomes the Request-URI; the remote target is appended as last Route.
            uri = parse_name_addr(routes[0]).uri
            routes = [*routes[1:], f"<{target}>"]
        out = Headers()
        out.add("Via", self.endpoint.via())
        out.add("Max-Forwards", "70")
        out.add("From", str(self.local))
        out.add("To", str(self.remote))
        out.add("Call-ID", self.call_id)
        out.add("CSeq", f"{cseq} {method}")
        for route in routes:
            out.add("Route", route)
        if method in TARGET_REFRESH:
            out.add("Contact", f"<{self.endpoint.contact_uri}>")
        out.add("User-Agent", self.endpoint.user_agent)
        for name, value in headers:
            out.add(name, value)
        if body and content_type:
            out.add("Content-Type", content_type)
        return Request(method=method, uri=uri, headers=out, body=body)

    def ack(self, invite_cseq: int, *, body: bytes = b"", content_type: str | None = None) -> Request:
        """ACK for a 2xx to the INVITE with CSeq ``invite_cseq`` (its own branch, same CSeq number)."""
        return self.create_request("ACK", body=body, content_type=content_type, cseq=invite_cseq)

    def bye(self, reason: str | None = None) -> Request:
        extra = [("Reason", reason)] if reason else []
        self.state = "terminated"
        return self.create_request("BYE", headers=extra)

    def info(self, body: bytes, content_type: str = "application/dtmf-relay") -> Request:
        return self.create_request("INFO", body=body, content_type=content_type)

    def refer(self, refer_to: str, referred_by: str | None = None) -> Request:
        """Blind transfer: REFER with Refer-To (and Referred-By, default our own URI)."""
        target = refer_to if refer_to.startswith("<") else f"<{refer_to}>"
        by = referred_by or f"<{self.local.uri}>"
        return self.create_request("REFER", headers=[("Refer-To", target), ("Referred-By", by)])

    def notify(self, event: str, subscription_state: str, body: bytes = b"",
               content_type: str = "message/sipfrag;version=2.0") -> Request:
        return self.create_request(
            "NOTIFY",
            headers=[("Event", event), ("Subscription-State", subscription_state)],
            body=body,
            content_type=content_type,
        )

    def reinvite(self, sdp: bytes) -> Request:
        return self.create_request("INVITE", body=sdp, content_type="application/sdp")

    def update(self, sdp: bytes) -> Request:
        return self.create_request("UPDATE", body=sdp, content_type="application/sdp")


class DialogStore:
    """Dialogs of one UA, looked up by (Call-ID, local tag, remote tag)."""

    def __init__(self) -> None:
        self._dialogs: dict[tuple[str, str, str], Dialog] = {}

    def add(self, dialog: Dialog) -> None:
        self._dialogs[dialog.id] = dialog

    def remove(self, dialog: Dialog) -> None:
        self._dialogs.pop(dialog.id, None)

    def rekey(self, dialog: Dialog, remote: NameAddr) -> None:
        """Change the remote address/tag (an early dialog confirmed by a 2xx from another fork)."""
        self.remove(dialog)
        dialog.remote = remote
        self.add(dialog)

    def for_request(self, request: Request) -> Dialog | None:
        """The dialog an incoming request belongs to (To tag is ours, From tag theirs)."""
        try:
            return self._dialogs.get((request.call_id, request.to_tag or "", request.from_tag or ""))
        except SipParseError:
            return None

    def for_response(self, response: Response) -> Dialog | None:
        try:
            return self._dialogs.get((response.call_id, response.from_tag or "", response.to_tag or ""))
        except SipParseError:
            return None

    def check_request(self, request: Request) -> tuple[Dialog | None, Response | None]:
        """For a request with a To tag: its dialog, or the 481 to send; then CSeq checks (500)."""
        dialog = self.for_request(request)
        if dialog is None:
            if request.method == "ACK":
                return None, None
            return None, make_response(request, 481)
        return dialog, dialog.check_request(request)

    def __len__(self) -> int:
        return len(self._dialogs)

    def __iter__(self) -> Iterator[Dialog]:
        return iter(list(self._dialogs.values()))


def _contact_uri(message: Request | Response) -> str | None:
    values = message.headers.get_all("Contact")
    if not values:
        return None
    try:
        return parse_name_addr(values[0]).uri
    except SipParseError:
        return None

