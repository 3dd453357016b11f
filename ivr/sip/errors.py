"""Errors raised by the SIP core."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ivr.sip.message import Request


class SipError(Exception):
    """Base class of SIP core errors."""


class SipParseError(SipError):
    """A message (or part of it) could not be parsed.

    ``reason`` is short, human and safe to use as a 400 reason phrase.  ``partial`` is the request parsed
    so far when the start line and the headers needed to answer (Via, From, To, Call-ID, CSeq) were read,
    so the caller can send ``make_response(partial, status, reason)``.  ``status`` is the response code to
    send (400, or 505 for an unsupported SIP version, 416 for an unsupported URI scheme).
    """

    def __init__(self, reason: str, partial: Request | None = None, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.partial = partial
        self.status = status


class SipFramingError(SipError, ValueError):
    """A stream transport (TCP) carried something that cannot be framed; the connection must be closed.

    ``head`` is the header section that could not be framed (without its blank line) when one was read:
    parsed on its own it is still answerable with a 400 before the connection is closed.  ``framed`` are the
    complete messages the same input held before it (still to be handled).  A ValueError, so a transport that
    closes the connection on ValueError closes it on this too.
    """

    def __init__(self, reason: str, head: bytes | None = None, framed: list[bytes] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.head = head
        self.framed: list[bytes] = framed or []
