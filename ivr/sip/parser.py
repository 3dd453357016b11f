"""SIP message parser (RFC 3261 §7, §18.3) and a stream framer for TCP.

``parse_message`` never raises anything but :class:`SipParseError`.  For requests that got far enough
(start line and headers read) the error carries the partial request so a 400 can be answered.
"""

from __future__ import annotations

import re

from ivr.sip.errors import SipFramingError, SipParseError
from ivr.sip.headers import Headers, is_number, parse_cseq, parse_name_addr, parse_vias
from ivr.sip.message import Message, Request, Response
from ivr.sip.uri import parse_uri

MAX_MESSAGE_BYTES = 65535
_TOKEN = re.compile(r"^[A-Za-z0-9.!%*_+`'~-]+$")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_REQUIRED = ("Via", "From", "To", "Call-ID", "CSeq")


def _split_head(data: bytes) -> tuple[bytes, bytes]:
    # Some peers terminate lines with bare LF; accept both.
    crlf = data.find(b"\r\n\r\n")
    lf = data.find(b"\n\n")
    if crlf >= 0 and (lf < 0 or crlf <= lf - 1):
        return data[:crlf], data[crlf + 4 :]
    if lf >= 0:
        return data[:lf], data[lf + 2 :]
    return data, b""


def _unfold(head: str) -> list[str]:
    lines: list[str] = []
    for raw in head.replace("\r\n", "\n").split("\n"):
        line = raw.rstrip("\r")
        if line[:1] in (" ", "\t") and lines:
            lines[-1] = lines[-1].rstrip() + " " + line.strip()
        else:
            lines.append(line)
    return lines


def _parse_headers(lines: list[str]) -> tuple[Headers, bool]:
    """Headers from unfolded lines, and whether some line was malformed (and skipped)."""
    headers = Headers()
    bad = False
    for line in lines:
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon or not name or not _TOKEN.match(name) or _bare_control(value):
            bad = True
            continue
        headers.add(name, " ".join(value.split()) if "\t" in value else value)
    return headers, bad


def _bare_control(value: str) -> bool:
    """Whether ``value`` holds a control character outside a quoted-pair of a quoted string: RFC 3261 §25.1
    ``quoted-pair = "\\" (%x00-09 / %x0B-0C / %x0E-7F)`` may escape any of them but LF and CR (RFC 4475
    ``intmeth``: ``"BEL:\\<07> NUL:\\<00> DEL:\\<7F>"``)."""
    if not _CONTROL.search(value):
        return False
    quoted = escaped = False
    for ch in value:
        if escaped:
            if ch in "\r\n":
                return True
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif _CONTROL.match(ch):
            return True
    return False


def _start_line(line: str) -> tuple[Request | Response, SipParseError | None]:
    if line.startswith("SIP/"):
        parts = line.split(" ", 2)
        if len(parts) < 2 or parts[0] != "SIP/2.0":
            raise SipParseError("Bad status line")
        code = parts[1]
        if len(code) != 3 or not is_number(code) or not 100 <= int(code) <= 699:
            raise SipParseError("Bad status code")
        return Response(status=int(code), reason=parts[2].strip() if len(parts) > 2 else ""), None
    parts = line.split(" ")
    if len(parts) != 3 or not all(parts):
        raise SipParseError("Malformed request line")
    method, uri, version = parts
    if not _TOKEN.match(method):
        raise SipParseError("Bad method")
    if ":" not in uri:
        raise SipParseError("Malformed Request-URI")
    request = Request(method=method, uri=uri)
    if version.upper() != "SIP/2.0":
        if version.upper().startswith("SIP/"):
            # Answerable once the headers are read: 505 with the partial request.
            return request, SipParseError("Version Not Supported", request, status=505)
        raise SipParseError("Bad SIP version")
    return request, None


def parse_message(data: bytes, *, stream: bool = False) -> Message:
    """Parse one datagram (``stream=False``) or one framed stream message.

    Over UDP a body longer than Content-Length is truncated and a shorter one is an error; over a
    stream the framer has already cut the body to Content-Length, which is then required.
    """
    if not data or not data.strip():
        raise SipParseError("Empty message")
    if len(data) > MAX_MESSAGE_BYTES and not stream:
        raise SipParseError("Message too large", status=513)
    head_bytes, body = _split_head(data.lstrip(b"\r\n"))
    head = head_bytes.decode("utf-8", errors="surrogateescape")
    lines = _unfold(head)
    headers, bad_line = _parse_headers(lines[1:])
    try:
        message, deferred = _start_line(lines[0])
    except SipParseError as exc:
        # A broken request line: still answerable with 400 when the headers a response copies are there.
        method = lines[0].split(" ", 1)[0]
        answerable = not lines[0].startswith("SIP/") and all(headers.get(name) for name in _REQUIRED)
        fallback = Request(method=method if _TOKEN.match(method) else "INVALID", uri="", headers=headers)
        raise SipParseError(exc.reason, fallback if answerable else None, exc.status) from None
    partial = message if isinstance(message, Request) else None
    message.headers = headers
    usable = partial is not None and all(headers.get(name) for name in _REQUIRED)
    if deferred is not None:
        raise SipParseError(deferred.reason, partial if usable else None, deferred.status)
    if bad_line:
        raise SipParseError("Malformed header line", partial if usable else None)
    # Content-Length
    cl_text = headers.get("Content-Length")
    if cl_text is not None:
        if not is_number(cl_text) or len(cl_text) > 9:
            raise SipParseError("Bad Content-Length", partial)
        if len(headers.get_lines("Content-Length")) > 1:
            # RFC 4475 mcl01: no way to know where the body ends (over a stream the framer refuses it first)
            raise SipParseError("Multiple Content-Length values", partial)
        length = int(cl_text)
        if len(body) < length:
            raise SipParseError("Content-Length exceeds body", partial)
        body = body[:length]
    elif stream:
        raise SipParseError("Missing Content-Length", partial)
    message.body = body if body.strip(b"\r\n\t ") else b""
    _validate(message, partial)
    return message


def _validate(message: Message, partial: Request | None) -> None:
    headers = message.headers
    try:
        if not parse_vias(headers):
            raise SipParseError("Missing Via header")
    except SipParseError as exc:
        # Without a usable Via the response cannot be routed; no partial.
        raise SipParseError(exc.reason) from None
    for name in _REQUIRED:
        value = headers.get(name)
        if value is None:
            raise SipParseError(f"Missing {name} header", partial)
        if not value.strip():
            raise SipParseError(f"Empty {name} header", partial)
    if len(headers.get_lines("Call-ID")) > 1 or len(headers.get_lines("CSeq")) > 1:
        raise SipParseError("Duplicate Call-ID or CSeq", partial)
    if len(headers.get_lines("From")) > 1 or len(headers.get_lines("To")) > 1:
        raise SipParseError("Duplicate From or To", partial)
    try:
        _, method = parse_cseq(headers.get("CSeq") or "")
        parse_name_addr(headers.get("From") or "")
        parse_name_addr(headers.get("To") or "")
    except SipParseError as exc:
        raise SipParseError(exc.reason, partial) from None
    if isinstance(message, Request):
        if method != message.method:
            raise SipParseError("CSeq method does not match request method", partial)
        max_forwards = headers.get("Max-Forwards")
        if max_forwards is not None and (not is_number(max_forwards) or len(max_forwards) > 10):
            raise SipParseError("Bad Max-Forwards", partial)
        try:
            parse_uri(message.uri)
        except SipParseError as exc:
            raise SipParseError(
                "Malformed Request-URI" if exc.status == 400 else exc.reason, partial, exc.status
            ) from None
    ctype = headers.get("Content-Type")
    if message.body and ctype is None:
        raise SipParseError("Body without Content-Type", partial)


class StreamFramer:
    """Cut a TCP byte stream into SIP messages by Content-Length (RFC 3261 §18.3).

    ``feed`` returns complete messages (bytes, to pass to ``parse_message(..., stream=True)``).  Leading
    CRLFs (RFC 5626 keep-alives) are skipped and counted in ``keepalives``.  Raises SipFramingError when a
    header section exceeds ``max_header_bytes`` or Content-Length is missing/invalid/too large; the
    connection should then be closed.
    """

    def __init__(self, max_header_bytes: int = 16384, max_body_bytes: int = 1 << 20) -> None:
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self.keepalives = 0
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer.extend(data)
        messages: list[bytes] = []
        try:
            return self._cut(messages)
        except SipFramingError as exc:
            raise SipFramingError(exc.reason, exc.head, messages) from None

    def _cut(self, messages: list[bytes]) -> list[bytes]:
        while True:
            stripped = 0
            while self._buffer[stripped : stripped + 2] == b"\r\n":
                stripped += 2
            if stripped:
                if stripped >= 4:
                    self.keepalives += 1
                del self._buffer[:stripped]
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > self.max_header_bytes:
                    raise SipFramingError("Header section too large")
                return messages
            if end > self.max_header_bytes:
                raise SipFramingError("Header section too large")
            head = bytes(self._buffer[:end])
            try:
                length = _content_length(head)
            except SipFramingError as exc:
                raise SipFramingError(exc.reason, head) from None
            if length > self.max_body_bytes:
                raise SipFramingError("Body too large", head)
            total = end + 4 + length
            if len(self._buffer) < total:
                return messages
            messages.append(bytes(self._buffer[:total]))
            del self._buffer[:total]

    @property
    def buffered(self) -> int:
        return len(self._buffer)


_CL_LINE = re.compile(rb"^(?:content-length|l)[ \t]*:[ \t]*(\S*)[ \t]*$", re.IGNORECASE | re.MULTILINE)


def _content_length(head: bytes) -> int:
    values = _CL_LINE.findall(head.replace(b"\r\n", b"\n"))
    if not values:
        raise SipFramingError("Missing Content-Length on stream transport")
    if len(set(values)) != 1 or not values[0].isdigit() or len(values[0]) > 9:
        raise SipFramingError("Bad Content-Length")
    return int(values[0])
