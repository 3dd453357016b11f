"""The engine's SDP adapter over :mod:`ivr.sdp`: config codec preference, hold styles, o= fields, 488 cases."""

from __future__ import annotations

from ivr.engine import negotiate
from ivr.engine.model import LocalMedia, MediaParams
from ivr.sdp import parse_sdp

OFFER = (
    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 31000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
)
PCMA_FIRST = LocalMedia("127.0.0.1", 30000, ("PCMA", "PCMU"), 101, 7)


def test_config_preference_picks_pcma_and_o_line_is_ours() -> None:
    result = negotiate.answer(PCMA_FIRST, 3, OFFER)
    assert result is not None
    body, params = result
    assert params == MediaParams("127.0.0.1", 31000, "PCMA", 8, 101, "sendrecv")
    sdp = parse_sdp(body)
    assert (sdp.origin_user, sdp.session_id, sdp.version, sdp.session_name) == ("hotline12345", 7, 3, "hotline12345")
    assert sdp.media[0].formats == ["8", "101"] and sdp.media[0].attr("fmtp") == "101 0-15"  # no fmtp offered


def test_old_style_hold_answers_recvonly_and_other_streams_are_rejected() -> None:
    held = negotiate.answer(PCMA_FIRST, 1, OFFER.replace(b"c=IN IP4 127.0.0.1", b"c=IN IP4 0.0.0.0"))
    assert held is not None and held[1].direction == "recvonly" and b"a=recvonly" in held[0]
    video_first = OFFER.replace(b"m=audio", b"m=video 31002 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\nm=audio")
    both = negotiate.answer(PCMA_FIRST, 1, video_first)
    assert both is not None and [(m.kind, m.port) for m in parse_sdp(both[0]).media] == [("video", 0), ("audio", 30000)]
    assert negotiate.answer(PCMA_FIRST, 1, OFFER.replace(b"RTP/AVP 0 8 101", b"RTP/AVP 18")) is None
    assert negotiate.answer(PCMA_FIRST, 1, b"not sdp") is None


def test_offer_and_accept_of_the_agents_answer() -> None:
    offer = parse_sdp(negotiate.offer(PCMA_FIRST, 5, "sendonly"))
    assert offer.media[0].formats == ["8", "0", "101"] and offer.media[0].direction == "sendonly"
    assert offer.version == 5 and offer.media[0].attr("fmtp") == "101 0-16"
    reply = OFFER.replace(b"a=sendrecv", b"a=recvonly")  # lists PCMU before PCMA: our preference decides
    assert negotiate.accept(PCMA_FIRST, reply) == MediaParams("127.0.0.1", 31000, "PCMA", 8, 101, "sendonly")
    assert negotiate.accept(PCMA_FIRST, reply.replace(b"m=audio 31000", b"m=audio 0")) is None
