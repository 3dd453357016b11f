"""SDP parsing/serialisation and RFC 3264 offer/answer, with real-peer-style offers and fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.sdp import Codec, LocalMedia, NoCommonCodec, SdpError, SdpNegotiator, parse_sdp

# baresip 1.0.0 with g711 + g722 modules (as on the test machines)
BARESIP_OFFER = (
    b"v=0\r\no=- 1917036471 3293451064 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 31004 RTP/AVP 9 0 8 101\r\nb=AS:64\r\na=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n"
    b"a=label:1\r\na=ssrc:1399470297 cname:sip:caller@127.0.0.1\r\na=rtcp-rsize\r\n"
)
# SIPp uac_pcap style: static PCMU only, LF line ends, no telephone-event
SIPP_OFFER = (b"v=0\no=user1 53655765 2353687637 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\n"
              b"m=audio 6000 RTP/AVP 0\na=rtpmap:0 PCMU/8000\n")

LOCAL = LocalMedia(address="127.0.0.1", port=40000)


def test_parse_baresip_offer() -> None:
    sdp = parse_sdp(BARESIP_OFFER)
    assert (sdp.session_id, sdp.version, sdp.connection) == (1917036471, 3293451064, "127.0.0.1")
    audio = sdp.media[0]
    assert (audio.kind, audio.port, audio.proto, audio.direction) == ("audio", 31004, "RTP/AVP", "sendrecv")
    assert [c.name for c in audio.codecs()] == ["G722", "PCMU", "PCMA", "telephone-event"]
    assert audio.codecs()[3] == Codec(101, "telephone-event", 8000, "0-15")
    assert audio.other == [("b", "AS:64")] and audio.attr("label") == "1"
    assert parse_sdp(sdp.to_bytes()) == sdp  # round trip


def test_answer_prefers_local_order_and_keeps_offered_dtmf_pt() -> None:
    neg = SdpNegotiator(LOCAL, session_id=77)
    answer = parse_sdp(neg.answer(BARESIP_OFFER))
    audio = answer.media[0]
    assert audio.formats == ["0", "101"] and audio.port == 40000 and answer.connection == "127.0.0.1"
    assert audio.attr("ptime") == "20" and audio.direction == "sendrecv"
    assert (answer.session_id, answer.version, answer.origin_user) == (77, 77, "hotline")
    n = neg.negotiated
    assert n is not None and (n.remote_address, n.remote_port, n.codec.name, n.codec.pt) == ("127.0.0.1", 31004,
                                                                                              "PCMU", 0)
    assert n.telephone_event_pt == 101 and n.send and n.receive and not n.remote_hold
    g722_first = SdpNegotiator(LocalMedia("127.0.0.1", 40000, codecs=("G722", "PCMA")))
    g722_first.answer(BARESIP_OFFER)
    assert g722_first.negotiated is not None and g722_first.negotiated.codec == Codec(9, "G722", 8000)


def test_answer_sipp_pcmu_only_without_dtmf() -> None:
    neg = SdpNegotiator(LocalMedia("127.0.0.1", 40002, codecs=("PCMA", "PCMU")))
    answer = parse_sdp(neg.answer(SIPP_OFFER))
    assert answer.media[0].formats == ["0"] and neg.negotiated is not None
    assert neg.negotiated.telephone_event_pt is None and neg.negotiated.remote_port == 6000


def test_dynamic_telephone_event_pt_and_pcma_only() -> None:
    offer = (b"v=0\r\no=x 1 1 IN IP4 192.0.2.5\r\ns=x\r\nt=0 0\r\nm=audio 5004 RTP/AVP 8 96\r\n"
             b"c=IN IP4 192.0.2.5\r\na=rtpmap:96 telephone-event/8000\r\na=ptime:30\r\n")
    neg = SdpNegotiator(LOCAL)
    audio = parse_sdp(neg.answer(offer)).media[0]
    assert audio.formats == ["8", "96"] and audio.attr("fmtp") == "96 0-15"  # RFC 4733: no fmtp = 0-15
    assert neg.negotiated is not None and neg.negotiated.ptime == 30 and neg.negotiated.codec.name == "PCMA"


def test_no_common_codec_and_rejected_streams() -> None:
    g729 = b"v=0\r\no=x 1 1 IN IP4 h\r\ns=x\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\nm=audio 5004 RTP/AVP 18\r\n"
    with pytest.raises(NoCommonCodec):
        SdpNegotiator(LOCAL).answer(g729)
    video_first = (b"v=0\r\no=x 1 1 IN IP4 h\r\ns=x\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\n"
                   b"m=video 5006 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\nm=audio 5004 RTP/SAVP 0\r\n"
                   b"m=audio 5008 RTP/AVP 0\r\n")
    answer = parse_sdp(SdpNegotiator(LOCAL).answer(video_first))
    assert [(m.kind, m.port) for m in answer.media] == [("video", 0), ("audio", 0), ("audio", 40000)]
    with pytest.raises(SdpError):
        SdpNegotiator(LOCAL).answer(b"v=0\r\no=x 1 1 IN IP4 h\r\ns=x\r\nt=0 0\r\nm=video 5006 RTP/AVP 96\r\n")


def test_hold_styles_and_version_increments() -> None:
    neg = SdpNegotiator(LOCAL, session_id=1000)
    first = parse_sdp(neg.answer(BARESIP_OFFER))
    same = parse_sdp(neg.answer(BARESIP_OFFER))  # session refresh: unchanged SDP keeps its version
    assert first.version == same.version == 1000
    hold = BARESIP_OFFER.replace(b"a=sendrecv", b"a=sendonly")
    held = parse_sdp(neg.answer(hold))
    assert held.media[0].direction == "recvonly" and held.version == 1001
    assert neg.negotiated is not None and neg.negotiated.remote_hold and not neg.negotiated.send
    old_style = BARESIP_OFFER.replace(b"c=IN IP4 127.0.0.1", b"c=IN IP4 0.0.0.0")
    parse_sdp(neg.answer(old_style))
    assert neg.negotiated.remote_hold and neg.negotiated.direction == "recvonly"  # type: ignore[union-attr]
    inactive = parse_sdp(neg.answer(BARESIP_OFFER.replace(b"a=sendrecv", b"a=inactive")))
    assert inactive.media[0].direction == "inactive"
    resumed = parse_sdp(neg.answer(BARESIP_OFFER))
    assert resumed.media[0].direction == "sendrecv" and resumed.version == 1003  # recvonly->inactive->sendrecv


def test_session_level_direction_applies_to_media() -> None:
    session_hold = BARESIP_OFFER.replace(b"t=0 0\r\n", b"t=0 0\r\na=sendonly\r\n").replace(b"a=sendrecv\r\n", b"")
    neg = SdpNegotiator(LOCAL)
    answer = parse_sdp(neg.answer(session_hold))
    assert answer.media[0].direction == "recvonly" and neg.negotiated is not None and neg.negotiated.remote_hold
    media_wins = session_hold.replace(b"a=label:1", b"a=sendrecv\r\na=label:1")
    assert parse_sdp(neg.answer(media_wins)).media[0].direction == "sendrecv"


def test_offer_for_outgoing_call_and_answer_processing() -> None:
    neg = SdpNegotiator(LocalMedia("10.1.1.1", 40010), session_id=5)
    offer = parse_sdp(neg.offer())
    assert offer.media[0].formats == ["0", "8", "9", "101"] and offer.connection == "10.1.1.1"
    assert offer.media[0].codecs()[-1] == Codec(101, "telephone-event", 8000, "0-16")
    # The agent's phone answers PCMA + telephone-event at its own dynamic PT.
    reply = (b"v=0\r\no=agent 9 9 IN IP4 10.1.1.2\r\ns=-\r\nc=IN IP4 10.1.1.2\r\nt=0 0\r\n"
             b"m=audio 31010 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n")
    result = neg.process_answer(reply)
    assert (result.remote_address, result.remote_port, result.codec.name, result.telephone_event_pt) == (
        "10.1.1.2", 31010, "PCMA", 101)
    held = parse_sdp(neg.offer("sendonly"))
    assert held.version == 6 and held.media[0].direction == "sendonly"
    assert neg.process_answer(reply.replace(b"a=sendrecv", b"a=recvonly"), "sendonly").direction == "sendonly"
    with pytest.raises(NoCommonCodec):
        neg.process_answer(reply.replace(b"m=audio 31010", b"m=audio 0"))


@pytest.mark.parametrize("bad", [b"", b"o=x 1 1 IN IP4 h\r\n", b"v=1\r\n", b"v=0\r\nm=audio x RTP/AVP 0\r\n",
                                 b"v=0\r\nc=IN IP4\r\n", b"v=0\r\no=x y z\r\n", b"v=0\r\nnot a line\r\n",
                                 b"v=0\r\n\xff\xfe"])
def test_malformed_sdp_raises_sdp_error(bad: bytes) -> None:
    with pytest.raises(SdpError):
        parse_sdp(bad)


FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.data())
def test_fuzz_parse_and_answer_only_raise_sdp_error(data: st.DataObject) -> None:
    raw = bytearray(BARESIP_OFFER)
    for _ in range(data.draw(st.integers(1, 8))):
        pos = data.draw(st.integers(0, len(raw)))
        op = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        if op == "flip" and pos < len(raw):
            raw[pos] = data.draw(st.integers(0, 255))
        elif op == "insert":
            raw[pos:pos] = data.draw(st.sampled_from([b"\r\n", b" ", b"=", b":", b"/", b"0", b"9" * 30, b"\xb2",
                                                       b"a=sendonly\r\n", b"m=audio 1 RTP/AVP 0\r\n", b"-"]))
        elif pos < len(raw):
            del raw[pos : pos + data.draw(st.integers(1, 10))]
    try:
        sdp = parse_sdp(bytes(raw))
        SdpNegotiator(LOCAL).answer(sdp)
        SdpNegotiator(LOCAL).process_answer(sdp)
    except SdpError:
        pass


@FUZZ
@given(st.binary(max_size=400))
def test_fuzz_random_bytes(data: bytes) -> None:
    try:
        SdpNegotiator(LOCAL).answer(data)
    except SdpError:
        pass
