"""What a UAS checks in a request before processing it (RFC 3261 §8.2.2.3, §8.2.3; RFC 4475 bext01, invut, sdp01).

Pure: a request in, ``None`` (go on) or a :class:`Refusal` (the status and headers to answer with) out.  The UA
core asks for every request but ACK and CANCEL, in and out of dialog, after the method is known to be one it
handles.  Order as in RFC 3261 §8.2: extensions (420), then content (415), then what the answer may carry (406).
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr.engine.sipmsg import SUPPORTED
from ivr.sip import Request
from ivr.sip.headers import split_list

KNOWN_EXTENSIONS = frozenset(tag.strip().lower() for tag in SUPPORTED.split(","))
"""The option tags a ``Require:`` may name (what our ``Supported:`` says).  100rel and timer are not among them:
a ``Require: 100rel`` or ``Require: timer`` gets 420, which RFC 3262 §3 / RFC 4028 §9 allow."""

BODY_TYPES: dict[str, tuple[str, ...]] = {
    "INVITE": ("application/sdp",),
    "UPDATE": ("application/sdp",),
    "INFO": ("application/dtmf-relay", "application/dtmf"),
    "NOTIFY": ("message/sipfrag",),
}
"""The body types understood per method (the ``Accept`` of a 415); a body of another method is ignored, and so
is a ``multipart/*`` one (not refused, as before: an INVITE carrying one is answered as one without an offer)."""

ANSWER_TYPE = "application/sdp"
"""What our answers to INVITE / UPDATE carry."""


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str | None
    headers: list[tuple[str, str]]


def check_request(request: Request) -> Refusal | None:
    """The first problem with ``request`` (not ACK or CANCEL), or None."""
    unknown = unsupported_extensions(request)
    if unknown:
        return Refusal(420, None, [("Unsupported", ", ".join(unknown))])
    types = BODY_TYPES.get(request.method)
    ctype = request.content_type
    if types is not None and request.body and ctype not in types and not ctype.startswith("multipart/"):
        # multipart (e.g. SDP + ISUP from a SIP-I trunk) is left as before: taken as an INVITE without offer
        return Refusal(415, None, [("Accept", ", ".join(types))])
    if request.method in ("INVITE", "UPDATE") and not accepts(request, ANSWER_TYPE):
        if request.method == "INVITE" or request.content_type == ANSWER_TYPE:  # an UPDATE offer needs an answer
            return Refusal(406, None, [("Accept", ANSWER_TYPE)])
    return None


def unsupported_extensions(request: Request) -> list[str]:
    """The option tags of ``Require:`` we do not implement, as they were written, without repeats."""
    unknown: list[str] = []
    for value in request.headers.get_lines("Require"):
        for tag in split_list(value):
            if tag.lower() not in KNOWN_EXTENSIONS and tag not in unknown:
                unknown.append(tag)
    return unknown


def accepts(request: Request, media_type: str) -> bool:
    """Whether the request's ``Accept:`` allows a body of ``media_type`` (no header, or an empty one: yes)."""
    lines = request.headers.get_lines("Accept")
    ranges = [item for line in lines for item in split_list(line)]
    if not ranges:
        # absent, or ``Accept:`` with no value: taken as absent (RFC 3261 §20.1 reads an empty one as "nothing
        # acceptable", but a phone sending it for an INVITE still wants its SDP answer)
        return True
    main, _, _sub = media_type.partition("/")
    for item in ranges:
        kind, *params = (part.strip() for part in item.split(";"))
        if any(p.replace(" ", "").lower() in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in params):
            continue
        kind = kind.lower().replace(" ", "")
        if kind in (media_type, f"{main}/*", "*/*"):
            return True
    return False
