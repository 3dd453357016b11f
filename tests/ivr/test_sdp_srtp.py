"""SDES SRTP in SDP offer/answer (RFC 4568): crypto lines, RTP/SAVP, the off / offer / required modes, pure."""

from __future__ import annotations

import base64

import pytest

from config.ivr import IvrConfig, SrtpSettings
from ivr.engine import negotiate
from ivr.engine.model import LocalMedia as EngineLocalMedia
from ivr.sdp import (
    LocalMedia,
    NoCommonCodec,
    SrtpRequired,
    make_answer,
    make_offer,
    parse_crypto,
    parse_sdp,
    read_answer,
)

THEIR_KEY = bytes(range(30))
OUR_KEY = bytes(range(100, 130))
INLINE = base64.b64encode(THEIR_KEY).decode()


def offer(proto: str = "RTP/SAVP", *crypto: str) -> bytes:
    lines = [f"a=crypto:{c}" for c in crypto]
    return (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio 31004 {proto} 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
        "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n" + "".join(f"{x}\r\n" for x in lines)
    ).encode()


def local(mode: str) -> LocalMedia:
    return LocalMedia("127.0.0.1", 40000, srtp=mode, srtp_key=OUR_KEY)  # type: ignore[arg-type]


# baresip 1.0.0 with srtp.so and ;mediaenc=srtp-mand (the shape it offers)
BARESIP_SRTP = offer("RTP/SAVP", f"1 AES_CM_128_HMAC_SHA1_80 inline:{INLINE}",
                     f"2 AES_CM_128_HMAC_SHA1_32 inline:{INLINE}")


@pytest.mark.parametrize("mode", ["offer", "required"])
def test_savp_offer_is_answered_with_our_own_key(mode: str) -> None:
    answer, negotiated = make_answer(local(mode), BARESIP_SRTP)
    audio = answer.media[0]
    assert audio.proto == "RTP/SAVP" and audio.formats == ["0", "101"]
    crypto = [v for k, v in audio.attributes if k == "crypto"]
    assert crypto == [f"1 AES_CM_128_HMAC_SHA1_80 inline:{base64.b64encode(OUR_KEY).decode()}"]
    assert negotiated.srtp is not None
    assert (negotiated.srtp.local, negotiated.srtp.remote) == (OUR_KEY, THEIR_KEY)
    assert parse_sdp(answer.to_bytes()).media[0].attr("crypto") == crypto[0]  # it survives serialisation


def test_first_usable_crypto_line_wins_and_its_tag_is_answered() -> None:
    sdp = offer("RTP/SAVP", f"3 AES_CM_128_HMAC_SHA1_32 inline:{INLINE}", f"7 AES_CM_128_HMAC_SHA1_80 inline:{INLINE}")
    answer, negotiated = make_answer(local("offer"), sdp)
    assert answer.media[0].attr("crypto").startswith("7 AES_CM_128_HMAC_SHA1_80 inline:")  # type: ignore[union-attr]
    assert negotiated.srtp is not None and negotiated.srtp.remote == THEIR_KEY


def test_best_effort_crypto_on_rtp_avp_is_taken_in_offer_mode() -> None:
    answer, negotiated = make_answer(local("offer"), offer("RTP/AVP", f"1 AES_CM_128_HMAC_SHA1_80 inline:{INLINE}"))
    assert answer.media[0].proto == "RTP/AVP" and answer.media[0].attr("crypto") is not None
    assert negotiated.srtp is not None


def test_plain_offer_in_offer_mode_stays_plain() -> None:
    answer, negotiated = make_answer(local("offer"), offer("RTP/AVP"))
    assert answer.media[0].proto == "RTP/AVP" and answer.media[0].attr("crypto") is None
    assert negotiated.srtp is None


def test_required_refuses_an_offer_without_crypto_with_488() -> None:
    with pytest.raises(SrtpRequired):
        make_answer(local("required"), offer("RTP/AVP"))
    assert issubclass(SrtpRequired, NoCommonCodec)  # the engine answers NoCommonCodec with 488
    caps = EngineLocalMedia("127.0.0.1", 40000, srtp="required", srtp_key=OUR_KEY)
    assert negotiate.answer(caps, 1, offer("RTP/AVP")) is None  # → 488 Not Acceptable Here
    result = negotiate.answer(caps, 1, BARESIP_SRTP)
    assert result is not None and result[1].srtp is not None and result[1].srtp.remote == THEIR_KEY


def test_the_488_says_srtp_not_codec_when_crypto_is_what_is_missing() -> None:
    caps = EngineLocalMedia("127.0.0.1", 40000, srtp="required", srtp_key=OUR_KEY)
    warning, reason = negotiate.refusal(caps, offer("RTP/AVP"))
    assert reason == "srtp_mismatch" and warning.startswith('399 - "') and "a=crypto" in warning
    no_codec = offer("RTP/AVP").replace(b"RTP/AVP 0 8 101", b"RTP/AVP 18")
    plain = EngineLocalMedia("127.0.0.1", 40000, srtp="offer", srtp_key=OUR_KEY)
    assert negotiate.refusal(plain, no_codec) == ('304 - "no common codec"', "no_common_codec")


@pytest.mark.parametrize("line", [
    f"1 AES_CM_128_HMAC_SHA1_32 inline:{INLINE}",  # another suite
    f"1 AES_CM_128_HMAC_SHA1_80 inline:{INLINE}|2^20|1:4",  # an MKI
    f"1 AES_CM_128_HMAC_SHA1_80 inline:{base64.b64encode(b'short').decode()}",  # wrong key length
    "1 AES_CM_128_HMAC_SHA1_80 inline:!!!notbase64",
    f"1 AES_CM_128_HMAC_SHA1_80 inline:{INLINE} UNENCRYPTED_SRTP",  # session parameters
    f"x AES_CM_128_HMAC_SHA1_80 inline:{INLINE}",
])
def test_unusable_crypto_lines_are_skipped(line: str) -> None:
    assert parse_crypto(line) is None
    with pytest.raises(SrtpRequired):
        make_answer(local("offer"), offer("RTP/SAVP", line))  # SAVP and nothing usable: 488


def test_key_lifetime_is_accepted() -> None:
    crypto = parse_crypto(f"1 AES_CM_128_HMAC_SHA1_80 inline:{INLINE}|2^31")
    assert crypto is not None and crypto.key == THEIR_KEY


def test_off_ignores_crypto_and_refuses_savp() -> None:
    answer, negotiated = make_answer(local("off"), offer("RTP/AVP", f"1 AES_CM_128_HMAC_SHA1_80 inline:{INLINE}"))
    assert negotiated.srtp is None and answer.media[0].attr("crypto") is None
    with pytest.raises(SrtpRequired):
        make_answer(local("off"), BARESIP_SRTP)


def test_our_offers_and_reading_the_answer() -> None:
    plain = make_offer(local("offer"))
    assert plain.media[0].proto == "RTP/AVP" and plain.media[0].attr("crypto") is None
    secure = make_offer(local("required"))
    assert secure.media[0].proto == "RTP/SAVP"
    mine = parse_crypto(secure.media[0].attr("crypto") or "")
    assert mine is not None and mine.key == OUR_KEY and mine.tag == 1
    assert make_offer(local("offer"), secure=True).media[0].proto == "RTP/SAVP"  # SRTP on in this call
    negotiated = read_answer(local("required"), BARESIP_SRTP)
    assert negotiated.srtp is not None and negotiated.srtp.remote == THEIR_KEY and negotiated.srtp.local == OUR_KEY
    with pytest.raises(SrtpRequired):
        read_answer(local("required"), offer("RTP/AVP"))
    assert read_answer(local("offer"), offer("RTP/AVP")).srtp is None


def test_srtp_config_per_peer() -> None:
    settings = SrtpSettings(mode="offer", peers={"10.1.0.0/16": "required", "10.1.2.3": "off"})
    assert settings.mode_for("10.1.9.9") == "required"
    assert settings.mode_for("10.1.2.3") == "off"  # the most specific entry
    assert settings.mode_for("192.0.2.1") == "offer" and settings.mode_for("pbx.example.test") == "offer"
    assert IvrConfig().srtp.mode == "offer"
    with pytest.raises(ValueError, match="not an address"):
        SrtpSettings(peers={"nonsense": "required"})
