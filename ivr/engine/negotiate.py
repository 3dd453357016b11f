"""SDP offer/answer for one audio stream (RFC 3264): PCMU/PCMA + telephone-event, 20 ms.

Pure functions of :class:`LocalMedia` and the remote SDP; ``None`` means "nothing acceptable" (488).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ivr.engine.model import Direction, LocalMedia, MediaParams

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


def _parse(sdp: bytes) -> _Stream | None:
    """The first audio stream of an SDP body, or None when there is none (or it is garbage)."""
    try:
        text = sdp.decode("utf-8", errors="replace")
    except Exception:
        return None
    session_host = ""
    session_dir = "sendrecv"
    stream: _Stream | None = None
    found: _Stream | None = None
    in_other_media = False
    for raw in text.splitlines():
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        key, value = line[0], line[2:].strip()
        if key == "m":
            if found is not None:
                break
            parts = value.split()
            in_other_media = not (len(parts) >= 4 and parts[0] == "audio" and parts[1].split("/")[0].isdigit())
            if in_other_media:
                continue
            stream = _Stream(port=int(parts[1].split("/")[0]), proto=parts[2], direction=session_dir)
            stream.pts = [int(p) for p in parts[3:] if p.isdigit() and int(p) < 128]
            found = stream
        elif key == "c":
            parts = value.split()
            host = parts[2].split("/")[0] if len(parts) >= 3 else ""
            if stream is not None and not in_other_media:
                stream.host = host
            elif stream is None:
                session_host = host
        elif key == "a":
            name, _, arg = value.partition(":")
            if name in _MIRROR:
                if stream is None:
                    session_dir = name
                elif not in_other_media:
                    stream.direction = name
            elif name == "rtpmap" and stream is not None and not in_other_media:
                pt_text, _, enc = arg.partition(" ")
                enc_name, _, rate = enc.partition("/")
                if pt_text.isdigit():
                    rate_num = rate.split("/")[0]
                    stream.rtpmap[int(pt_text)] = (enc_name.upper(), int(rate_num) if rate_num.isdigit() else 8000)
    if found is not None and not found.host:
        found.host = session_host
    return found


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


def _body(local: LocalMedia, version: int, codec_pts: list[tuple[str, int]], dtmf: int | None, direction: str) -> bytes:
    pts = [pt for _, pt in codec_pts] + ([dtmf] if dtmf is not None else [])
    lines = [
        "v=0",
        f"o=hotline12345 {local.session_id} {version} IN IP4 {local.host}",
        "s=hotline12345",
        f"c=IN IP4 {local.host}",
        "t=0 0",
        f"m=audio {local.port} RTP/AVP {' '.join(str(p) for p in pts)}",
    ]
    lines += [f"a=rtpmap:{pt} {name}/8000" for name, pt in codec_pts]
    if dtmf is not None:
        lines += [f"a=rtpmap:{dtmf} telephone-event/8000", f"a=fmtp:{dtmf} 0-16"]
    lines += ["a=ptime:20", f"a={direction}"]
    return ("\r\n".join(lines) + "\r\n").encode()


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
    body = _body(local, version, [(codec, pt)], dtmf, direction)
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
