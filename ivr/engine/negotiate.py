"""The call engine's view of SDP offer/answer: :mod:`ivr.sdp` does the negotiation, this maps it.

Pure functions of the engine's :class:`LocalMedia`, the o= version the state machine keeps and the remote SDP;
``None`` means "nothing acceptable" (488 for an offer, no media for an answer).
"""

from __future__ import annotations

from ivr import sdp
from ivr.engine.model import LocalMedia, MediaParams
from ivr.sdp import Direction

ORIGIN = "hotline12345"  # o= username and s= of our SDP


def _capabilities(local: LocalMedia) -> sdp.LocalMedia:
    return sdp.LocalMedia(local.host, local.port, local.codecs, telephone_event_pt=local.dtmf_payload_type,
                          srtp=local.srtp, srtp_key=local.srtp_key)


def _body(local: LocalMedia, version: int, description: sdp.SessionDescription) -> bytes:
    description.origin_user = description.session_name = ORIGIN
    description.session_id, description.version, description.origin_address = local.session_id, version, local.host
    return description.to_bytes()


def _params(n: sdp.Negotiated) -> MediaParams:
    return MediaParams(n.remote_address, n.remote_port, n.codec.name, n.codec.pt, n.telephone_event_pt, n.direction,
                       n.codec.clock, n.srtp)


def offer(local: LocalMedia, version: int, direction: Direction = "sendrecv", *, secure: bool = False) -> bytes:
    """Our offer; with crypto when SRTP is required for the peer or ``secure`` (the call's SRTP is on)."""
    return _body(local, version, sdp.make_offer(_capabilities(local), direction, secure=secure))


def answer(local: LocalMedia, version: int, offer_sdp: bytes) -> tuple[bytes, MediaParams] | None:
    """Our answer to ``offer_sdp`` (o= version ``version``) and the resulting stream; None → 488."""
    try:
        description, negotiated = sdp.make_answer(_capabilities(local), offer_sdp)
    except sdp.SdpError:
        return None
    return _body(local, version, description), _params(negotiated)


def refusal(local: LocalMedia, offer_sdp: bytes) -> tuple[str, str]:
    """Why :func:`answer` gave None: the 488's Warning (RFC 3261 §20.43) and the call's hang-up reason."""
    try:
        sdp.make_answer(_capabilities(local), offer_sdp)
    except sdp.SrtpRequired as exc:
        return f'399 - "{exc}"', "srtp_mismatch"
    except sdp.SdpError:
        pass
    return '304 - "no common codec"', "no_common_codec"


def accept(local: LocalMedia, answer_sdp: bytes) -> MediaParams | None:
    """The stream an SDP answer to our offer selects (None when unusable)."""
    try:
        return _params(sdp.read_answer(_capabilities(local), answer_sdp))
    except sdp.SdpError:
        return None
