"""SDP (RFC 4566) parsing/serialisation and offer/answer (RFC 3264) for the IVR's audio.

Codecs: PCMU/0, PCMA/8, G722/9 (RTP clock 8000 per RFC 3551) and telephone-event (RFC 4733, dynamic PT).
``parse_sdp`` raises only :class:`SdpError`; ``make_answer`` raises :class:`NoCommonCodec` (send 488).
Offer/answer is pure (:func:`make_offer`, :func:`make_answer`, :func:`read_answer`: local capabilities + remote
SDP in, SDP + :class:`Negotiated` out); :class:`SdpNegotiator` adds o= bookkeeping for a stateful caller, and
the call engine's state machine keeps its own (``ivr.engine.negotiate``).

SRTP by SDES (RFC 4568): ``a=crypto:<tag> AES_CM_128_HMAC_SHA1_80 inline:<base64 key||salt>`` on RTP/SAVP (or on
RTP/AVP, "best effort" as some phones offer it).  ``LocalMedia.srtp`` is ``off`` (crypto ignored; RTP/SAVP
refused), ``offer`` (SRTP when the offer has a usable crypto line, answered with ``srtp_key``) or ``required``
(an offer without one raises :class:`SrtpRequired`, a 488; our offers are RTP/SAVP with crypto).  Crypto lines
with an MKI, another suite or session parameters are skipped.
"""

from __future__ import annotations

import base64
import binascii
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
SRTP_SUITE = "AES_CM_128_HMAC_SHA1_80"
SRTP_KEY_LENGTH = 30  # master key (16) + master salt (14)
SrtpMode = Literal["off", "offer", "required"]


class SdpError(ValueError):
    """The SDP cannot be parsed or used."""


class NoCommonCodec(SdpError):
    """No audio codec in the offer matches ours: answer the INVITE with 488 Not Acceptable Here."""


class SrtpRequired(NoCommonCodec):
    """The SRTP sides do not match (required here but no usable crypto line, or RTP/SAVP offered while SRTP is
    off): 488 Not Acceptable Here."""


@dataclass(frozen=True)
class Crypto:
    """One ``a=crypto`` line we can use (RFC 4568 §9.1): tag, suite, the 30-byte master key || salt."""

    tag: int
    suite: str
    key: bytes

    def value(self) -> str:
        return f"{self.tag} {self.suite} inline:{base64.b64encode(self.key).decode()}"


def parse_crypto(value: str) -> Crypto | None:
    """A usable ``a=crypto`` value (our suite, one inline key without MKI, no session parameters), else None."""
    parts = value.split()
    if len(parts) != 3 or not is_number(parts[0], 9) or parts[1].upper() != SRTP_SUITE:
        return None
    method, _, key_info = parts[2].partition(":")
    if method.lower() != "inline":
        return None
    key_text, *params = key_info.split("|")
    if any(":" in p for p in params) or len(params) > 1:  # an MKI (n:len), or more than a lifetime
        return None
    try:
        key = base64.b64decode(key_text, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(key) != SRTP_KEY_LENGTH:
        return None
    return Crypto(int(parts[0]), SRTP_SUITE, key)


@dataclass(frozen=True)
class SrtpKeys:
    """The negotiated SRTP of a stream: ``local`` protects what we send, ``remote`` what the peer sends."""

    local: bytes
    remote: bytes
    suite: str = SRTP_SUITE


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
    srtp: SrtpMode = "off"
    srtp_key: bytes = b""  # our master key || salt (30 bytes) when srtp is not off


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
    srtp: SrtpKeys | None = None

    @property
    def send(self) -> bool:
        return self.direction in ("sendrecv", "sendonly") and self.remote_port != 0

    @property
    def receive(self) -> bool:
        return self.direction in ("sendrecv", "recvonly")


def make_offer(local: LocalMedia, direction: Direction = "sendrecv", *, secure: bool = False) -> SessionDescription:
    """An offer with all our codecs (initial INVITE, or re-INVITE: "sendonly" holds the peer); o= left default.

    RTP/SAVP with our crypto line when ``local.srtp`` is ``required`` or ``secure`` (a call whose SRTP is on)."""
    codecs = [Codec(SUPPORTED[name], name) for name in local.codecs if name in SUPPORTED]
    if local.telephone_event:
        codecs.append(Codec(local.telephone_event_pt, "telephone-event", 8000, "0-16"))
    crypto = Crypto(1, SRTP_SUITE, _our_key(local)) if local.srtp == "required" or secure else None
    return SessionDescription(connection=local.address, media=[_audio(local, codecs, direction, crypto)])


def _our_key(local: LocalMedia) -> bytes:
    if len(local.srtp_key) != SRTP_KEY_LENGTH:
        raise SdpError("SRTP needs a 30-byte srtp_key in LocalMedia")
    return local.srtp_key


def _offered_crypto(media: Media) -> Crypto | None:
    """The first usable crypto line of an m= section (RFC 4568 §7.1.1: in the offerer's preference order)."""
    for name, value in media.attributes:
        if name == "crypto" and value:
            crypto = parse_crypto(value)
            if crypto is not None:
                return crypto
    return None


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
    refused_for_srtp = False
    for media in sdp.media:
        proto = media.proto.upper()
        usable = media.kind == "audio" and proto in ("RTP/AVP", "RTP/AVPF", "RTP/SAVP", "RTP/SAVPF") \
            and media.port != 0
        crypto = _offered_crypto(media) if usable and local.srtp != "off" else None
        if usable and crypto is None and (local.srtp == "required" or "SAVP" in proto):
            usable = False  # SRTP required but not offered, or RTP/SAVP without a crypto line we can use
            refused_for_srtp = refused_for_srtp or media.kind == "audio"
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
        ours_crypto = Crypto(crypto.tag, crypto.suite, _our_key(local)) if crypto is not None else None
        keys = SrtpKeys(ours_crypto.key, crypto.key) if ours_crypto is not None and crypto is not None else None
        chosen = Negotiated(address, media.port, codec, dtmf.pt if dtmf else None, media.ptime or 20, ours,
                            remote_dir in ("sendonly", "inactive"), keys)
        answer_proto = "RTP/SAVP" if "SAVP" in proto else "RTP/AVP"  # crypto on RTP/AVP: answered the same way
        answer.media.append(_audio(local, [codec, *([dtmf] if dtmf else [])], ours, ours_crypto, answer_proto))
    if chosen is None:
        if refused_for_srtp:
            raise SrtpRequired(
                "SRTP is off here and the offer is RTP/SAVP only" if local.srtp == "off" else
                "no usable a=crypto (AES_CM_128_HMAC_SHA1_80 inline key) in the offer"
            )
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
        crypto = _offered_crypto(media) if local.srtp != "off" else None
        if crypto is None and local.srtp == "required":
            raise SrtpRequired("SRTP required: the answer has no usable a=crypto")
        keys = SrtpKeys(_our_key(local), crypto.key) if crypto is not None else None
        return Negotiated(address, media.port, codec, dtmf.pt if dtmf else None, media.ptime or 20, ours,
                          remote_dir in ("sendonly", "inactive"), keys)
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


def _audio(
    local: LocalMedia, codecs: list[Codec], direction: Direction, crypto: Crypto | None = None, proto: str = ""
) -> Media:
    """Our m=audio section: RTP/AVP, or with ``crypto`` the offer's proto (answers) or RTP/SAVP (offers)."""
    attributes: list[tuple[str, str | None]] = []
    for codec in codecs:
        attributes.append(("rtpmap", f"{codec.pt} {codec.name}/{codec.clock}"))
        if codec.fmtp:
            attributes.append(("fmtp", f"{codec.pt} {codec.fmtp}"))
    attributes += [("ptime", str(local.ptime)), (direction, None)]
    if crypto is not None:
        attributes.append(("crypto", crypto.value()))
    proto = (proto or "RTP/SAVP") if crypto is not None else "RTP/AVP"
    return Media("audio", local.port, proto, [str(c.pt) for c in codecs], attributes=attributes)


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
