"""SDP (RFC 4566) parsing/serialisation and offer/answer (RFC 3264) for the IVR's audio.

Codecs: PCMU/0, PCMA/8, G722/9 (RTP clock 8000 per RFC 3551) and telephone-event (RFC 4733, dynamic PT).
``parse_sdp`` raises only :class:`SdpError`; ``SdpNegotiator.answer`` raises :class:`NoCommonCodec` (send 488).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, replace

from ivr.sip.headers import is_number

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

    ``codec`` and ``telephone_event_pt`` are the payload types used in both directions.  ``send``/
    ``receive`` say whether we may send / should expect RTP; ``remote_hold`` is True when the peer put
    the call on hold (sendonly/inactive or the old c=0.0.0.0 style).
    """

    remote_address: str
    remote_port: int
    codec: Codec
    telephone_event_pt: int | None
    ptime: int
    direction: str
    remote_hold: bool

    @property
    def send(self) -> bool:
        return self.direction in ("sendrecv", "sendonly") and self.remote_port != 0

    @property
    def receive(self) -> bool:
        return self.direction in ("sendrecv", "recvonly")


class SdpNegotiator:
    """Our side of one call's SDP: answers offers, makes offers, keeps o= (id, version increments)."""

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

    def _audio(self, codecs: list[Codec], direction: str, port: int | None = None) -> Media:
        attributes: list[tuple[str, str | None]] = []
        for codec in codecs:
            attributes.append(("rtpmap", f"{codec.pt} {codec.name}/{codec.clock}"))
            if codec.fmtp:
                attributes.append(("fmtp", f"{codec.pt} {codec.fmtp}"))
        attributes += [("ptime", str(self.local.ptime)), (direction, None)]
        return Media("audio", self.local.port if port is None else port, "RTP/AVP", [str(c.pt) for c in codecs],
                     attributes=attributes)

    def offer(self, direction: str = "sendrecv") -> bytes:
        """An offer with all our codecs (initial INVITE, or re-INVITE: "sendonly" holds the peer)."""
        codecs = [Codec(SUPPORTED[name], name) for name in self.local.codecs if name in SUPPORTED]
        if self.local.telephone_event:
            codecs.append(Codec(self.local.telephone_event_pt, "telephone-event", 8000, "0-16"))
        sdp = SessionDescription(connection=self.local.address, media=[self._audio(codecs, direction)])
        return self._emit(sdp)

    def answer(self, offer: bytes | SessionDescription, direction: str = "sendrecv") -> bytes:
        """Answer an offer: first usable audio stream accepted, others rejected (port 0), RFC 3264 §6.

        ``direction`` is what we want (e.g. "sendonly" when we hold); it is combined with the offer's.
        Raises NoCommonCodec (488) or SdpError (400/488).
        """
        sdp = offer if isinstance(offer, SessionDescription) else parse_sdp(offer)
        answer = SessionDescription(connection=self.local.address)
        chosen: Negotiated | None = None
        for media in sdp.media:
            usable = media.kind == "audio" and media.proto.upper() in ("RTP/AVP", "RTP/AVPF") and media.port != 0
            picked = _pick(media, self.local) if usable and chosen is None else None
            if picked is None:
                answer.media.append(Media(media.kind, 0, media.proto, media.formats[:1] or ["0"]))
                continue
            codec, dtmf = picked
            address = media.connection or sdp.connection
            if not address:
                raise SdpError("no connection address for audio")
            old_hold = address in ("0.0.0.0", "::")
            offered_dir = sdp.direction_of(media)
            remote_dir = "inactive" if old_hold and offered_dir == "sendonly" else offered_dir
            if old_hold and remote_dir == "sendrecv":
                remote_dir = "sendonly"  # RFC 2543 hold: "don't send to me"
            ours = _combine(direction, _REVERSE[remote_dir])
            chosen = Negotiated(address, media.port, codec, dtmf.pt if dtmf else None, media.ptime or 20, ours,
                                remote_dir in ("sendonly", "inactive"))
            answer.media.append(self._audio([codec, *([dtmf] if dtmf else [])], ours))
        if chosen is None:
            if any(m.kind == "audio" for m in sdp.media):
                raise NoCommonCodec("no common audio codec")
            raise SdpError("no audio stream in offer")
        self.negotiated = chosen
        return self._emit(answer)

    def process_answer(self, answer: bytes | SessionDescription, offered_direction: str = "sendrecv") -> Negotiated:
        """Apply the peer's answer to our offer (outgoing calls, our re-INVITEs)."""
        sdp = answer if isinstance(answer, SessionDescription) else parse_sdp(answer)
        for media in sdp.media:
            if media.kind != "audio" or media.port == 0:
                continue
            codecs = [c for c in media.codecs() if not c.is_dtmf and c.name.upper() in self.local.codecs]
            if not codecs:
                raise NoCommonCodec("answer has no codec we offered")
            dtmf = next((c for c in media.codecs() if c.is_dtmf and c.clock == 8000), None)
            address = media.connection or sdp.connection or ""
            remote_dir = sdp.direction_of(media)
            if address in ("0.0.0.0", "::") and remote_dir == "sendrecv":
                remote_dir = "sendonly"
            ours = _combine(offered_direction, _REVERSE[remote_dir])
            self.negotiated = Negotiated(address, media.port, codecs[0], dtmf.pt if dtmf else None,
                                         media.ptime or 20, ours, remote_dir in ("sendonly", "inactive"))
            return self.negotiated
        raise NoCommonCodec("answer rejected the audio stream")


def _pick(media: Media, local: LocalMedia) -> tuple[Codec, Codec | None] | None:
    offered = media.codecs()
    audio = {c.name.upper(): c for c in reversed(offered) if not c.is_dtmf and c.clock == 8000}
    for name in local.codecs:
        if name.upper() in audio:
            codec = audio[name.upper()]
            dtmf = next((c for c in offered if c.is_dtmf and c.clock == 8000), None) if local.telephone_event else None
            if dtmf is not None and not dtmf.fmtp:
                dtmf = replace(dtmf, fmtp="0-16")
            return replace(codec, name=name.upper()), dtmf
    return None


def _combine(wanted: str, allowed: str) -> str:
    """Intersection of two directions (each a set of {send, recv})."""
    send = wanted in ("sendrecv", "sendonly") and allowed in ("sendrecv", "sendonly")
    recv = wanted in ("sendrecv", "recvonly") and allowed in ("sendrecv", "recvonly")
    return {(True, True): "sendrecv", (True, False): "sendonly", (False, True): "recvonly"}.get(
        (send, recv), "inactive")
