"""SDP (RFC 4566) parsing/serialisation and offer/answer (RFC 3264) for the IVR's audio.

Codecs: PCMU/0, PCMA/8, G722/9 (RTP clock 8000 per RFC 3551) and telephone-event (RFC 4733, dynamic PT).
``parse_sdp`` raises only :class:`SdpError`; ``make_answer`` raises :class:`NoCommonCodec` (send 488).
Offer/answer is pure (:func:`make_offer`, :func:`make_answer`, :func:`read_answer`: local capabilities + remote
SDP in, SDP + :class:`Negotiated` out); :class:`SdpNegotiator` adds o= bookkeeping for a stateful caller, and
the call engine's state machine keeps its own (``ivr.engine.negotiate``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace
from typing import Literal

from ivr.sip.headers import is_number

Direction = Literal["sendrecv", "sendonly", "recvonly", "inactive"]
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")
_REVERSE = {"sendrecv": "sendrecv", "sendonly": "recvonly", "recvonly": "sendonly", "inactive": "inactive"}
STATIC_PAYLOADS: dict[int, tuple[str, int]] = {
    0: ("PCMU", 8000), 3: ("GSM", 8000), 4: ("G723", 8000), 8: ("PCMA", 8000), 9: ("G722", 8000),
    13: ("CN", 8000), 18: ("G729", 8000),
}
SUPPORTED = {"PCMU": 0, "PCMA": 8, "G722": 9}


class SdpError(ValueError):
    """The SDP cannot be parsed or used."""


class NoCommonCodec(SdpError):
    """No audio codec in the offer matches ours: answer the INVITE with 488 Not Acceptable Here."""


@dataclass(frozen=True)
class Codec:
    pt: int
    name: str
    clock: int = 8000
    fmtp: str | None = None

    @property
    def is_dtmf(self) -> bool:
        return self.name.lower() == "telephone-event"


@dataclass
class Media:
    """One m= section."""

    kind: str
    port: int
    proto: str
    formats: list[str]
    connection: str | None = None
    attributes: list[tuple[str, str | None]] = field(default_factory=list)
    other: list[tuple[str, str]] = field(default_factory=list)  # i=, b=, k= lines kept verbatim

    def attr(self, name: str) -> str | None:
        return next((v if v is not None else "" for k, v in self.attributes if k == name), None)

    @property
    def direction(self) -> str:
        """Media-level direction only; use SessionDescription.direction_of() for the effective one."""
        for name, _ in self.attributes:
            if name in DIRECTIONS:
                return name
        return "sendrecv"

    @property
    def ptime(self) -> int | None:
        value = self.attr("ptime")
        return int(value) if value and is_number(value.strip()) and 0 < int(value.strip()) < 1000 else None

    def codecs(self) -> list[Codec]:
        """Codecs in format (preference) order, from rtpmap/fmtp or the static payload table."""
        rtpmap: dict[int, tuple[str, int]] = {}
        fmtp: dict[int, str] = {}
        for name, value in self.attributes:
            if value is None or name not in ("rtpmap", "fmtp"):
                continue
            pt_text, _, rest = value.partition(" ")
            if not is_number(pt_text):
                continue
            if name == "fmtp":
                fmtp[int(pt_text)] = rest.strip()
                continue
            parts = rest.strip().split("/")
            if len(parts) >= 2 and is_number(parts[1]):
                rtpmap[int(pt_text)] = (parts[0], int(parts[1]))
        out: list[Codec] = []
        for fmt in self.formats:
            if not is_number(fmt) or int(fmt) > 127:
                continue
            pt = int(fmt)
            name_clock = rtpmap.get(pt) or STATIC_PAYLOADS.get(pt)
            if name_clock is not None:
                out.append(Codec(pt, name_clock[0], name_clock[1], fmtp.get(pt)))
        return out


@dataclass
class SessionDescription:
    origin_user: str = "-"
    session_id: int = 0
    version: int = 0
    origin_address: str = "0.0.0.0"
    session_name: str = "-"
    connection: str | None = None
    timing: str = "0 0"
    attributes: list[tuple[str, str | None]] = field(default_factory=list)
    media: list[Media] = field(default_factory=list)
    other: list[tuple[str, str]] = field(default_factory=list)

    def direction_of(self, media: Media) -> str:
        """The media's direction attribute, else the session-level one, else sendrecv (RFC 4566 §6)."""
        for name, _ in media.attributes:
            if name in DIRECTIONS:
                return name
        return next((name for name, _ in self.attributes if name in DIRECTIONS), "sendrecv")

    def to_bytes(self) -> bytes:
        lines = ["v=0", f"o={self.origin_user} {self.session_id} {self.version} IN {_addrtype(self.origin_address)} "
                 f"{self.origin_address}", f"s={self.session_name or '-'}"]
        lines += [f"{k}={v}" for k, v in self.other]
        if self.connection:
            lines.append(f"c=IN {_addrtype(self.connection)} {self.connection}")
        lines.append(f"t={self.timing}")
        lines += [_attr_line(k, v) for k, v in self.attributes]
        for m in self.media:
            lines.append(f"m={m.kind} {m.port} {m.proto} {' '.join(m.formats)}")
            lines += [f"{k}={v}" for k, v in m.other]
            if m.connection:
                lines.append(f"c=IN {_addrtype(m.connection)} {m.connection}")
            lines += [_attr_line(k, v) for k, v in m.attributes]
        return ("\r\n".join(lines) + "\r\n").encode()


def _addrtype(address: str) -> str:
    return "IP6" if ":" in address else "IP4"


def _attr_line(name: str, value: str | None) -> str:
    return f"a={name}" if value is None else f"a={name}:{value}"


def _connection(value: str) -> str:
    parts = value.split()
    if len(parts) != 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6") or not parts[2]:
        raise SdpError("bad c= line")
    return parts[2].split("/")[0]


def parse_sdp(data: bytes) -> SessionDescription:
    """Parse an SDP body; tolerant of LF line ends and unknown lines, strict on v=, o=, m= and c=."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SdpError("SDP is not UTF-8") from None
    sdp = SessionDescription()
    seen_version = False
    current: Media | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if len(line) < 2 or line[1] != "=":
            raise SdpError(f"bad SDP line: {line[:40]!r}")
        kind, value = line[0], line[2:].strip()
        if kind == "v":
            if value != "0":
                raise SdpError("unsupported SDP version")
            seen_version = True
        elif kind == "o":
            parts = value.split()
            if len(parts) != 6 or not is_number(parts[1], 20) or not is_number(parts[2], 20):
                raise SdpError("bad o= line")
            sdp.origin_user, sdp.session_id, sdp.version, sdp.origin_address = (
                parts[0], int(parts[1]), int(parts[2]), parts[5])
        elif kind == "s":
            sdp.session_name = value
        elif kind == "t":
            sdp.timing = value
        elif kind == "m":
            current = _media(value)
            sdp.media.append(current)
        elif kind == "c":
            if current is None:
                sdp.connection = _connection(value)
            else:
                current.connection = _connection(value)
        elif kind == "a":
            name, colon, attr_value = value.partition(":")
            target = current.attributes if current is not None else sdp.attributes
            target.append((name.strip(), attr_value.strip() if colon else None))
        elif current is not None:
            current.other.append((kind, value))
        else:
            sdp.other.append((kind, value))
    if not seen_version:
        raise SdpError("missing v= line")
    return sdp


def _media(value: str) -> Media:
    parts = value.split()
    if len(parts) < 3:
        raise SdpError("bad m= line")
    port_text = parts[1].split("/")[0]
    if not is_number(port_text) or int(port_text) > 65535:
        raise SdpError("bad m= port")
    return Media(kind=parts[0], port=int(port_text), proto=parts[2], formats=parts[3:])


# ------------------------------------------------------------------------------------------------ offer/answer


@dataclass(frozen=True)
class LocalMedia:
    """What we can do: where we receive RTP and which codecs we prefer (first = best)."""

    address: str
    port: int
    codecs: tuple[str, ...] = ("PCMU", "PCMA", "G722")
    telephone_event: bool = True
    telephone_event_pt: int = 101
    ptime: int = 20


@dataclass(frozen=True)
class Negotiated:
    """Result of offer/answer, for the RTP stream.

    ``codec`` and ``telephone_event_pt`` are the payload types used in both directions.  ``direction`` is ours
    (``recvonly`` while the peer holds us); ``send``/``receive`` say whether we may send / should expect RTP;
    ``remote_hold`` is True when the peer put the call on hold (sendonly/inactive or the old c=0.0.0.0 style).
    """

    remote_address: str
    remote_port: int
    codec: Codec
    telephone_event_pt: int | None
    ptime: int
    direction: Direction
    remote_hold: bool

    @property
    def send(self) -> bool:
        return self.direction in ("sendrecv", "sendonly") and self.remote_port != 0

    @property
    def receive(self) -> bool:
        return self.direction in ("sendrecv", "recvonly")


def make_offer(local: LocalMedia, direction: Direction = "sendrecv") -> SessionDescription:
    """An offer with all our codecs (initial INVITE, or re-INVITE: "sendonly" holds the peer); o= left default."""
    codecs = [Codec(SUPPORTED[name], name) for name in local.codecs if name in SUPPORTED]
    if local.telephone_event:
        codecs.append(Codec(local.telephone_event_pt, "telephone-event", 8000, "0-16"))
    return SessionDescription(connection=local.address, media=[_audio(local, codecs, direction)])


def make_answer(
    local: LocalMedia, offer: bytes | SessionDescription, direction: Direction = "sendrecv"
) -> tuple[SessionDescription, Negotiated]:
    """Answer an offer: first usable audio stream accepted, others rejected (port 0), RFC 3264 §6.

    ``direction`` is what we want (e.g. "sendonly" when we hold); it is combined with the offer's, so a hold
    (sendonly/inactive/c=0.0.0.0) is answered recvonly/inactive and an unhold sendrecv again.  The o= line is
    left default (see :class:`SdpNegotiator`).  Raises NoCommonCodec (488) or SdpError (400/488).
    """
    sdp = offer if isinstance(offer, SessionDescription) else parse_sdp(offer)
    answer = SessionDescription(connection=local.address)
    chosen: Negotiated | None = None
    for media in sdp.media:
        usable = media.kind == "audio" and media.proto.upper() in ("RTP/AVP", "RTP/AVPF") and media.port != 0
        picked = _pick(media, local) if usable and chosen is None else None
        if picked is None:
            answer.media.append(Media(media.kind, 0, media.proto, media.formats[:1] or ["0"]))
            continue
        codec, dtmf = picked
        address = media.connection or sdp.connection
        if not address:
            raise SdpError("no connection address for audio")
        remote_dir = _remote_direction(sdp, media, address)
        ours = _combine(direction, _REVERSE[remote_dir])
        chosen = Negotiated(address, media.port, codec, dtmf.pt if dtmf else None, media.ptime or 20, ours,
                            remote_dir in ("sendonly", "inactive"))
        answer.media.append(_audio(local, [codec, *([dtmf] if dtmf else [])], ours))
    if chosen is None:
        if any(m.kind == "audio" for m in sdp.media):
            raise NoCommonCodec("no common audio codec")
        raise SdpError("no audio stream in offer")
    return answer, chosen


def read_answer(
    local: LocalMedia, answer: bytes | SessionDescription, offered_direction: Direction = "sendrecv"
) -> Negotiated:
    """The stream the peer's answer to our offer selects (outgoing calls, our re-INVITEs); our codec preference
    picks among the formats it lists.  Raises NoCommonCodec or SdpError."""
    sdp = answer if isinstance(answer, SessionDescription) else parse_sdp(answer)
    for media in sdp.media:
        if media.kind != "audio" or media.port == 0:
            continue
        picked = _pick(media, local)
        if picked is None:
            raise NoCommonCodec("answer has no codec we offered")
        codec, dtmf = picked
        address = media.connection or sdp.connection
        if not address:
            raise SdpError("no connection address for audio")
        remote_dir = _remote_direction(sdp, media, address)
        ours = _combine(offered_direction, _REVERSE[remote_dir])
        return Negotiated(address, media.port, codec, dtmf.pt if dtmf else None, media.ptime or 20, ours,
                          remote_dir in ("sendonly", "inactive"))
    raise NoCommonCodec("answer rejected the audio stream")


class SdpNegotiator:
    """Our side of one call's SDP, stateful: answers offers, makes offers, keeps o= (id, version increments)."""

    def __init__(self, local: LocalMedia, *, username: str = "hotline", session_id: int | None = None) -> None:
        self.local = local
        self.username = username
        self.session_id = session_id if session_id is not None else secrets.randbelow(2**31)
        self.version = self.session_id
        self._last: bytes | None = None
        self.negotiated: Negotiated | None = None

    def _emit(self, sdp: SessionDescription) -> bytes:
        """Serialise with o= version bumped only when the content changed (RFC 3264 §8)."""
        sdp.origin_user, sdp.session_id, sdp.origin_address = self.username, self.session_id, self.local.address
        sdp.version = self.version
        body = sdp.to_bytes()
        if self._last is not None and body != self._last:
            self.version += 1
            sdp.version = self.version
            body = sdp.to_bytes()
        self._last = body
        return body

    def offer(self, direction: Direction = "sendrecv") -> bytes:
        return self._emit(make_offer(self.local, direction))

    def answer(self, offer: bytes | SessionDescription, direction: Direction = "sendrecv") -> bytes:
        """See :func:`make_answer`; the result is kept in ``negotiated``."""
        answer, self.negotiated = make_answer(self.local, offer, direction)
        return self._emit(answer)

    def process_answer(
        self, answer: bytes | SessionDescription, offered_direction: Direction = "sendrecv"
    ) -> Negotiated:
        """See :func:`read_answer`; the result is kept in ``negotiated``."""
        self.negotiated = read_answer(self.local, answer, offered_direction)
        return self.negotiated


def _audio(local: LocalMedia, codecs: list[Codec], direction: Direction) -> Media:
    attributes: list[tuple[str, str | None]] = []
    for codec in codecs:
        attributes.append(("rtpmap", f"{codec.pt} {codec.name}/{codec.clock}"))
        if codec.fmtp:
            attributes.append(("fmtp", f"{codec.pt} {codec.fmtp}"))
    attributes += [("ptime", str(local.ptime)), (direction, None)]
    return Media("audio", local.port, "RTP/AVP", [str(c.pt) for c in codecs], attributes=attributes)


def _remote_direction(sdp: SessionDescription, media: Media, address: str) -> str:
    """The peer's direction; c=0.0.0.0 (RFC 2543 hold) means "do not send to me"."""
    direction = sdp.direction_of(media)
    if address in ("0.0.0.0", "::"):
        return {"sendrecv": "sendonly", "recvonly": "inactive"}.get(direction, direction)
    return direction


def _pick(media: Media, local: LocalMedia) -> tuple[Codec, Codec | None] | None:
    """Our most preferred codec among the offered ones (at its offered PT) and the offered telephone-event."""
    offered = media.codecs()
    audio = {c.name.upper(): c for c in reversed(offered) if not c.is_dtmf and c.clock == 8000}
    for name in local.codecs:
        if name.upper() in audio:
            codec = audio[name.upper()]
            dtmf = next((c for c in offered if c.is_dtmf and c.clock == 8000), None) if local.telephone_event else None
            if dtmf is not None:  # answer the events offered (RFC 4733 §2.4.1: none listed means 0-15)
                dtmf = replace(dtmf, name="telephone-event", fmtp=dtmf.fmtp or "0-15")
            return replace(codec, name=name.upper(), fmtp=None), dtmf
    return None


def _combine(wanted: str, allowed: str) -> Direction:
    """Intersection of two directions (each a set of {send, recv})."""
    send = wanted in ("sendrecv", "sendonly") and allowed in ("sendrecv", "sendonly")
    recv = wanted in ("sendrecv", "recvonly") and allowed in ("sendrecv", "recvonly")
    directions: dict[tuple[bool, bool], Direction] = {
        (True, True): "sendrecv", (True, False): "sendonly", (False, True): "recvonly"}
    return directions.get((send, recv), "inactive")
