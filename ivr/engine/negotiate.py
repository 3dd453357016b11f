"""SDP offer/answer for one audio stream (RFC 3264): PCMU/PCMA + telephone-event, 20 ms, on :mod:`ivr.sdp`.

Pure functions of :class:`LocalMedia` and the remote SDP; ``None`` means "nothing acceptable" (488).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ivr.engine.model import Direction, LocalMedia, MediaParams
from ivr.sdp import Media, SdpError, SessionDescription, parse_sdp

STATIC = {0: "PCMU", 8: "PCMA", 9: "G722"}
_MIRROR: dict[str, Direction] = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}


@dataclass
class _Stream:
    port: int = 0
    proto: str = ""
    pts: list[int] = field(default_factory=list)
    rtpmap: dict[int, tuple[str, int]] = field(default_factory=dict)
    host: str = ""
    direction: str = "sendrecv"
    fmtp: dict[int, str] = field(default_factory=dict)


def _parse(sdp: bytes) -> _Stream | None:
    """The first audio stream of an SDP body (parsed by :mod:`ivr.sdp`), or None when there is none."""
    try:
        parsed = parse_sdp(sdp)
    except SdpError:
        return None
    session_dir = next((name for name, _ in parsed.attributes if name in _MIRROR), "sendrecv")
    for media in parsed.media:
        if media.kind != "audio":
            continue
        has_dir = any(name in _MIRROR for name, _ in media.attributes)
        stream = _Stream(media.port, media.proto, host=media.connection or parsed.connection or "")
        stream.direction = media.direction if has_dir else session_dir
        for codec in media.codecs():
            stream.pts.append(codec.pt)
            stream.rtpmap[codec.pt] = (codec.name.upper(), codec.clock)
            if codec.fmtp:
                stream.fmtp[codec.pt] = codec.fmtp
        return stream
    return None


def _choose(local: LocalMedia, stream: _Stream) -> tuple[str, int, int | None] | None:
    offered: dict[str, int] = {}
    dtmf: int | None = None
    for pt in stream.pts:
        name, rate = stream.rtpmap.get(pt, (STATIC.get(pt, ""), 8000))
        if name == "TELEPHONE-EVENT" and rate == 8000 and dtmf is None:
            dtmf = pt
        elif name and name not in offered:
            offered[name] = pt
    for codec in local.codecs:
        if codec in offered:
            return codec, offered[codec], dtmf
    return None


def _body(
    local: LocalMedia,
    version: int,
    codec_pts: list[tuple[str, int]],
    dtmf: int | None,
    direction: str,
    dtmf_events: str = "0-16",
) -> bytes:
    attributes: list[tuple[str, str | None]] = [("rtpmap", f"{pt} {name}/8000") for name, pt in codec_pts]
    formats = [str(pt) for _, pt in codec_pts]
    if dtmf is not None:
        attributes += [("rtpmap", f"{dtmf} telephone-event/8000"), ("fmtp", f"{dtmf} {dtmf_events}")]
        formats.append(str(dtmf))
    attributes += [("ptime", "20"), (direction, None)]
    sdp = SessionDescription(
        origin_user="hotline12345",
        session_id=local.session_id,
        version=version,
        origin_address=local.host,
        session_name="hotline12345",
        connection=local.host,
        media=[Media("audio", local.port, "RTP/AVP", formats, attributes=attributes)],
    )
    return sdp.to_bytes()


def offer(local: LocalMedia, version: int, direction: Direction = "sendrecv") -> bytes:
    codec_pts = [(c, pt) for pt, c in STATIC.items() if c in local.codecs]
    codec_pts.sort(key=lambda item: local.codecs.index(item[0]))
    return _body(local, version, codec_pts, local.dtmf_payload_type, direction)


def _params(stream: _Stream, codec: str, pt: int, dtmf: int | None, direction: Direction) -> MediaParams:
    if stream.host in ("0.0.0.0", "") and direction in ("sendrecv", "sendonly"):  # RFC 2543 hold
        direction = "inactive" if direction == "sendonly" else "recvonly"
    return MediaParams(stream.host or "0.0.0.0", stream.port, codec, pt, dtmf, direction)


def answer(
    local: LocalMedia, version: int, offer_sdp: bytes, current: MediaParams | None = None
) -> tuple[bytes, MediaParams] | None:
    """Our answer to ``offer_sdp`` and the resulting stream; None when no audio codec is in common."""
    stream = _parse(offer_sdp)
    if stream is None or stream.port == 0 or "RTP/AVP" not in stream.proto.upper():
        return None
    chosen = _choose(local, stream)
    if chosen is None:
        return None
    codec, pt, dtmf = chosen
    direction = _MIRROR.get(stream.direction, "sendrecv")
    events = stream.fmtp.get(dtmf, "0-15") if dtmf is not None else "0-16"  # answer the events offered
    body = _body(local, version, [(codec, pt)], dtmf, direction, events)
    return body, _params(stream, codec, pt, dtmf, direction)


def accept(local: LocalMedia, answer_sdp: bytes) -> MediaParams | None:
    """The stream an SDP answer to our offer selects (None when unusable)."""
    stream = _parse(answer_sdp)
    if stream is None or stream.port == 0:
        return None
    chosen = _choose(local, stream)
    if chosen is None:
        return None
    codec, pt, dtmf = chosen
    return _params(stream, codec, pt, dtmf, _MIRROR.get(stream.direction, "sendrecv"))
