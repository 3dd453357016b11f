"""SIP request and response messages and their serialisation (RFC 3261 §7, §8.2.6)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from ivr.sip.headers import Headers, NameAddr, Via, parse_cseq, parse_name_addr, parse_vias

SIP_VERSION = "SIP/2.0"

REASON_PHRASES: dict[int, str] = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued", 183: "Session Progress",
    200: "OK", 202: "Accepted", 300: "Multiple Choices", 301: "Moved Permanently", 302: "Moved Temporarily",
    400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    406: "Not Acceptable", 407: "Proxy Authentication Required", 408: "Request Timeout", 410: "Gone",
    413: "Request Entity Too Large", 415: "Unsupported Media Type", 416: "Unsupported URI Scheme",
    420: "Bad Extension", 421: "Extension Required", 422: "Session Interval Too Small",
    423: "Interval Too Brief", 480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
    482: "Loop Detected", 483: "Too Many Hops", 484: "Address Incomplete", 486: "Busy Here",
    487: "Request Terminated", 488: "Not Acceptable Here", 489: "Bad Event", 491: "Request Pending",
    500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable",
    504: "Server Time-out", 505: "Version Not Supported", 513: "Message Too Large", 600: "Busy Everywhere",
    603: "Decline", 604: "Does Not Exist Anywhere", 606: "Not Acceptable",
}


def new_tag() -> str:
    return secrets.token_hex(6)


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


def new_call_id(host: str = "") -> str:
    return secrets.token_hex(12) + (f"@{host}" if host else "")


class _MessageMixin:
    headers: Headers
    body: bytes

    @property
    def call_id(self) -> str:
        return self.headers.get("Call-ID") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        """(number, method) of CSeq; raises SipParseError when missing or malformed."""
        return parse_cseq(self.headers.get("CSeq") or "")

    @property
    def vias(self) -> list[Via]:
        return parse_vias(self.headers)

    @property
    def top_via(self) -> Via:
        """The first Via; raises SipParseError when absent or malformed."""
        vias = self.vias
        if not vias:
            from ivr.sip.errors import SipParseError

            raise SipParseError("Missing Via header")
        return vias[0]

    @property
    def from_addr(self) -> NameAddr:
        return parse_name_addr(self.headers.get("From") or "")

    @property
    def to_addr(self) -> NameAddr:
        return parse_name_addr(self.headers.get("To") or "")

    @property
    def from_tag(self) -> str | None:
        return self.from_addr.tag

    @property
    def to_tag(self) -> str | None:
        return self.to_addr.tag

    @property
    def content_type(self) -> str:
        return (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()

    def _head_and_body(self, start_line: str) -> bytes:
        lines = [start_line]
        for name, value in self.headers:
            if name == "Content-Length":
                continue
            lines.append(f"{name}: {value}")
        lines.append(f"Content-Length: {len(self.body)}")
        head = "\r\n".join(lines) + "\r\n\r\n"
        return head.encode("utf-8", errors="surrogateescape") + self.body


@dataclass
class Request(_MessageMixin):
    method: str
    uri: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    version: str = SIP_VERSION

    def to_bytes(self) -> bytes:
        """Serialise with full header names and a correct Content-Length."""
        return self._head_and_body(f"{self.method} {self.uri} {self.version}")


@dataclass
class Response(_MessageMixin):
    status: int
    reason: str = ""
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    version: str = SIP_VERSION

    def to_bytes(self) -> bytes:
        reason = self.reason or REASON_PHRASES.get(self.status, "")
        return self._head_and_body(f"{self.version} {self.status} {reason}")

    @property
    def is_provisional(self) -> bool:
        return self.status < 200

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300


Message = Request | Response


def make_response(
    request: Request,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    content_type: str | None = None,
) -> Response:
    """Build a response per RFC 3261 §8.2.6: copy Via (all, in order), From, To, Call-ID, CSeq.

    ``to_tag`` is added to To unless it already has a tag (never for 100 Trying, §8.2.6.2).  Extra
    ``headers`` (e.g. Contact, Allow, Supported) are appended.  Works on partial requests from
    SipParseError: missing headers are simply not copied.
    """
    out = Headers()
    for via_line in request.headers.get_lines("Via"):
        out.add("Via", via_line)
    from_value = request.headers.get("From")
    if from_value is not None:
        out.add("From", from_value)
    to_value = request.headers.get("To")
    if to_value is not None:
        if to_tag and status != 100 and ";tag=" not in to_value.replace(" ", "").lower():
            to_value = f"{to_value};tag={to_tag}"
        out.add("To", to_value)
    for name in ("Call-ID", "CSeq"):
        value = request.headers.get(name)
        if value is not None:
            out.add(name, value)
    if status == 100 and "Timestamp" in request.headers:
        out.add("Timestamp", request.headers.get("Timestamp") or "")
    for extra_name, extra_value in headers or []:
        out.add(extra_name, extra_value)
    if body and content_type:
        out.set("Content-Type", content_type)
    phrase = reason if reason is not None else REASON_PHRASES.get(status, "Unknown")
    return Response(status=status, reason=phrase, headers=out, body=body)
