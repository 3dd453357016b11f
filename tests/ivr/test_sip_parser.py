"""Golden packets and torture cases (RFC 4475-inspired) for the SIP parser, serializer and helpers."""

from __future__ import annotations

import pytest

from ivr.sip import (
    Headers,
    Request,
    Response,
    SipFramingError,
    SipParseError,
    StreamFramer,
    make_response,
    parse_message,
    parse_name_addr,
    parse_uri,
    parse_via,
)

SDP = (
    b"v=0\r\no=- 1417 2803 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 31000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n"
)


def with_body(head: str, body: bytes = b"", length: int | None = None) -> bytes:
    cl = len(body) if length is None else length
    return head.replace("\n", "\r\n").encode() + f"Content-Length: {cl}\r\n\r\n".encode() + body


BARESIP_INVITE = with_body(
    """INVITE sip:12345@127.0.0.1:5060 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK8a3c1f0e7b2d4a19;rport
Contact: <sip:caller-0x55d1@127.0.0.1:5062>
Max-Forwards: 70
To: <sip:12345@127.0.0.1:5060>
From: <sip:caller@127.0.0.1:5062>;tag=3b0c3a7c8e0f1d22
Call-ID: 7b4e59a0c2f3d5e1
CSeq: 7291 INVITE
User-Agent: baresip v1.0.0 (x86_64/linux)
Allow: INVITE,ACK,BYE,CANCEL,OPTIONS,NOTIFY,SUBSCRIBE,INFO,MESSAGE,UPDATE
Supported: replaces,norefersub
Content-Type: application/sdp
""",
    SDP,
)

SIPP_INVITE = with_body(
    """INVITE sip:service@127.0.0.1:5060 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-4242-1-0
From: sipp <sip:sipp@127.0.0.1:5062>;tag=4242SIPpTag001
To: service <sip:service@127.0.0.1:5060>
Call-ID: 1-4242@127.0.0.1
CSeq: 1 INVITE
Contact: sip:sipp@127.0.0.1:5062
Max-Forwards: 70
Subject: Performance Test
Supported:
Content-Type: application/sdp
""",
    SDP,
)


def test_baresip_invite_parses_fully() -> None:
    msg = parse_message(BARESIP_INVITE)
    assert isinstance(msg, Request)
    assert msg.method == "INVITE" and msg.uri == "sip:12345@127.0.0.1:5060"
    assert msg.call_id == "7b4e59a0c2f3d5e1"
    assert msg.cseq == (7291, "INVITE")
    via = msg.top_via
    assert (via.transport, via.host, via.port) == ("UDP", "127.0.0.1", 5062)
    assert via.branch == "z9hG4bK8a3c1f0e7b2d4a19" and via.has_rport and via.rport is None
    assert via.is_rfc3261
    assert msg.from_tag == "3b0c3a7c8e0f1d22" and msg.to_tag is None
    assert msg.headers.get_all("Allow")[:3] == ["INVITE", "ACK", "BYE"]
    assert msg.body == SDP and msg.content_type == "application/sdp"


def test_sipp_invite_with_empty_supported_header() -> None:
    msg = parse_message(SIPP_INVITE)
    assert isinstance(msg, Request)
    assert msg.headers.get("Supported") == ""
    assert msg.headers.get_all("Supported") == []
    assert msg.from_addr.display == "sipp"
    assert parse_name_addr(msg.headers.get("Contact") or "").uri == "sip:sipp@127.0.0.1:5062"


def test_round_trip_uses_full_names_and_correct_length() -> None:
    compact = with_body(
        """INVITE sip:bob@biloxi.example.com SIP/2.0
v: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bKnashds8
f: Alice <sip:alice@atlanta.example.com>;tag=1928301774
t: Bob <sip:bob@biloxi.example.com>
i: a84b4c76e66710@pc33.atlanta.example.com
CSeq: 314159 INVITE
m: <sip:alice@pc33.atlanta.example.com>
c: application/sdp
k: timer
""",
        SDP,
    )
    msg = parse_message(compact)
    out = msg.to_bytes()
    assert b"\r\nCall-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n" in out
    assert b"\r\nContent-Type: application/sdp\r\n" in out and b"\r\nSupported: timer\r\n" in out
    assert f"Content-Length: {len(SDP)}\r\n\r\n".encode() in out
    again = parse_message(out)
    assert isinstance(again, Request) and again.headers == msg.headers and again.body == msg.body


def test_torture_folding_odd_spacing_multi_via_escaped_uri() -> None:
    # After RFC 4475 3.1.1.1 "wsinv": a short, tortuous INVITE
    raw = with_body(
        """INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0
TO :
 sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n
from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>
  ;
  tag = 98asjd8
MaX-fOrWaRdS: 0068
Call-ID: wsinv.ndaksdj@192.0.2.1
Content-Length   : 150
cseq: 0009
  INVITE
Via  : SIP  /   2.0
 /UDP
    192.0.2.2;rport;branch=390skdjuw, SIP/2.0/TCP 192.0.2.3:5070;branch=z9hG4bKabc;received=10.0.0.1
s :
NewFangledHeader:   newfangled value
 continued newfangled value
UnknownHeaderWithUnusualValue: ;;,,;;,;
Route: <sip:services.example.com;lr;unknownwith=value;unknown-no-value>
v:  SIP/2.0/TCP spindle.example.com   ;
  branch  =   z9hG4bK9ikj8  ,
 SIP  /    2.0   / UDP  192.168.255.111   ; branch=
 z9hG4bK30239
m:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =
      newvalue ;
  secondparam ; q = 0.33
c: application/sdp
""".replace("Content-Length   : 150\n", ""),
        SDP,
    )
    msg = parse_message(raw)
    assert isinstance(msg, Request)
    assert msg.to_tag == "1918181833n"
    assert msg.from_tag == "98asjd8" and msg.from_addr.display == 'J Rosenberg \\"'
    assert msg.cseq == (9, "INVITE")
    assert msg.headers.get("Max-Forwards") == "0068"
    vias = msg.vias
    assert [v.transport for v in vias] == ["UDP", "TCP", "TCP", "UDP"]
    assert vias[0].host == "192.0.2.2" and vias[0].branch == "390skdjuw" and not vias[0].is_rfc3261
    assert vias[1].port == 5070 and vias[1].received == "10.0.0.1"
    assert vias[3].branch == "z9hG4bK30239"
    assert msg.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert msg.headers.get("Subject") == ""
    contact = parse_name_addr(msg.headers.get("Contact") or "")
    assert contact.display == 'Quoted string ""' and contact.params["q"] == "0.33"


def test_escaped_uri_and_ipv6() -> None:
    uri = parse_uri("sip:sips%3Auser%40example.com@example.net;transport=tcp?Subject=hi")
    assert uri.user == "sips:user@example.com" and uri.host == "example.net"
    assert uri.transport == "TCP" and uri.headers == {"Subject": "hi"}
    assert parse_uri(str(uri)) == uri
    v6 = parse_uri("sip:[2001:db8::10]:5070;lr")
    assert v6.host == "2001:db8::10" and v6.port == 5070 and v6.params == {"lr": None}
    assert str(v6) == "sip:[2001:db8::10]:5070;lr"
    assert parse_uri("tel:+86-10-12345;phone-context=x").user == "+86-10-12345"
    with pytest.raises(SipParseError) as err:
        parse_uri("http://example.com")
    assert err.value.status == 416


def test_ipv6_via() -> None:
    via = parse_via("SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111;rport=5;received=2001:db8::9:255")
    assert via.host == "2001:db8::9:1" and via.port == 6050 and via.rport == 5
    assert str(via).startswith("SIP/2.0/UDP [2001:db8::9:1]:6050;branch=")


def bad_request(head: str, body: bytes = b"", length: int | None = None) -> SipParseError:
    with pytest.raises(SipParseError) as err:
        parse_message(with_body(head, body, length))
    return err.value


BASE = """{method} sip:12345@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKbad1
From: <sip:a@127.0.0.1>;tag=a1
To: <sip:12345@127.0.0.1>
Call-ID: bad1@127.0.0.1
CSeq: {cseq}
Max-Forwards: 70
"""


@pytest.mark.parametrize(
    ("head", "body", "length", "reason", "status"),
    [
        (BASE.format(method="INVITE", cseq="1 INVITE"), b"v=0\r\n", 50, "Content-Length exceeds body", 400),
        (BASE.format(method="INVITE", cseq="1 BYE"), b"", None, "CSeq method does not match request method", 400),
        (BASE.format(method="INVITE", cseq="x INVITE"), b"", None, "Malformed CSeq header", 400),
        (BASE.format(method="OPTIONS", cseq="1 OPTIONS").replace("Call-ID: bad1@127.0.0.1\n", ""), b"", None,
         "Missing Call-ID header", 400),
        (BASE.format(method="OPTIONS", cseq="1 OPTIONS") + "Content-Length: abc\n", b"", None,
         "Bad Content-Length", 400),
        (BASE.format(method="OPTIONS", cseq="1 OPTIONS").replace("SIP/2.0\n", "SIP/7.0\n", 1), b"", None,
         "Version Not Supported", 505),
        (BASE.format(method="OPTIONS", cseq="1 OPTIONS").replace("sip:12345@127.0.0.1", "sip:12345@bad host"),
         b"", None, "Malformed request line", 400),
        (BASE.format(method="OPTIONS", cseq="1 OPTIONS") + "this line has no colon\n", b"", None,
         "Malformed header line", 400),
        (BASE.format(method="OPTIONS", cseq="1 OPTIONS").replace("sip:12345@127.0.0.1", "sip:12345@[::1"),
         b"", None, "Malformed Request-URI", 400),
        (BASE.format(method="OPTIONS", cseq="1 OPTIONS").replace("From: <sip:a@127.0.0.1>", "From: <sip:a@x"),
         b"", None, "Unterminated <uri>", 400),
        (BASE.format(method="INFO", cseq="1 INFO"), b"Signal=5\r\n", None, "Body without Content-Type", 400),
    ],
)
def test_malformed_request_yields_400_with_reason(
    head: str, body: bytes, length: int | None, reason: str, status: int
) -> None:
    err = bad_request(head, body, length)
    assert err.reason == reason and err.status == status
    assert err.partial is not None
    response = make_response(err.partial, err.status, err.reason, to_tag="srv1")
    wire = response.to_bytes()
    assert wire.startswith(f"SIP/2.0 {status} {reason}\r\n".encode())
    assert b"\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKbad1\r\n" in wire
    if reason not in ("Malformed CSeq header", "Unterminated <uri>", "Missing Call-ID header"):
        parsed = parse_message(wire)
        assert isinstance(parsed, Response) and parsed.call_id == "bad1@127.0.0.1" and parsed.to_tag == "srv1"


def test_missing_via_gives_no_partial() -> None:
    err = bad_request(BASE.format(method="OPTIONS", cseq="1 OPTIONS").replace(
        "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKbad1\n", ""))
    assert err.reason == "Missing Via header" and err.partial is None


def test_longer_body_is_truncated_over_udp() -> None:
    raw = with_body(BASE.format(method="INVITE", cseq="1 INVITE") + "Content-Type: application/sdp\n", SDP,
                    length=10)
    msg = parse_message(raw + b"garbage")
    assert msg.body == SDP[:10]


def test_whitespace_body_without_length_is_empty() -> None:
    raw = BASE.format(method="OPTIONS", cseq="1 OPTIONS").replace("\n", "\r\n").encode() + b"\r\n\r\n\r\n"
    msg = parse_message(raw)
    assert msg.body == b"" and msg.to_bytes().endswith(b"Content-Length: 0\r\n\r\n")


def test_garbage_is_a_parse_error() -> None:
    for data in (b"", b"\r\n\r\n", b"\x00\xff\xfe", b"HELLO", b"SIP/2.0 abc Foo\r\n\r\n"):
        with pytest.raises(SipParseError):
            parse_message(data)


def test_make_response_copies_per_8_2_6() -> None:
    req = parse_message(BARESIP_INVITE.replace(b"Max-Forwards: 70\r\n", b"Timestamp: 54\r\nMax-Forwards: 70\r\n"))
    assert isinstance(req, Request)
    req.headers.add("Via", "SIP/2.0/UDP proxy.example;branch=z9hG4bKp1")
    trying = make_response(req, 100)
    assert trying.to_tag is None and trying.headers.get("Timestamp") == "54"
    ok = make_response(req, 200, to_tag="t1", headers=[("Contact", "<sip:ivr@127.0.0.1>")], body=b"x",
                       content_type="application/sdp")
    assert ok.to_tag == "t1" and ok.reason == "OK"
    assert ok.headers.get_all("Via") == req.headers.get_all("Via")
    assert ok.cseq == (7291, "INVITE") and ok.call_id == req.call_id and ok.from_tag == req.from_tag
    assert ok.headers.get("Content-Type") == "application/sdp"


def test_headers_collection_behaviour() -> None:
    h = Headers([("v", "SIP/2.0/UDP a;branch=z9hG4bK1"), ("Route", "<sip:r1;lr>, <sip:r2;lr>"), ("route", "<sip:r3>")])
    assert h.get("VIA") == "SIP/2.0/UDP a;branch=z9hG4bK1"
    assert h.get_all("Route") == ["<sip:r1;lr>", "<sip:r2;lr>", "<sip:r3>"]
    h.prepend("Via", "SIP/2.0/UDP b;branch=z9hG4bK2")
    assert next(v for n, v in h if n == "Via").endswith("z9hG4bK2")
    h.set("Route", "<sip:only>")
    assert h.get_all("route") == ["<sip:only>"]
    h.add("WWW-Authenticate", 'Digest realm="a,b", nonce="n"')
    assert h.get_all("www-authenticate") == ['Digest realm="a,b", nonce="n"']
    h.remove("route")
    assert "Route" not in h and "Via" in h


def test_stream_framer_splits_and_limits() -> None:
    framer = StreamFramer(max_header_bytes=2048)
    stream = b"\r\n\r\n" + BARESIP_INVITE + SIPP_INVITE
    out: list[bytes] = []
    for i in range(0, len(stream), 37):
        out.extend(framer.feed(stream[i : i + 37]))
    assert out == [BARESIP_INVITE, SIPP_INVITE] and framer.keepalives == 1 and framer.buffered == 0
    assert all(isinstance(parse_message(m, stream=True), Request) for m in out)
    with pytest.raises(SipFramingError):
        StreamFramer(max_header_bytes=100).feed(b"X" * 200)
    with pytest.raises(SipFramingError):
        StreamFramer().feed(b"OPTIONS sip:a SIP/2.0\r\nVia: x\r\n\r\n")


def rfc4475_like(start: str, extra: str = "", cseq: str = "1 INVITE", body: bytes = b"") -> bytes:
    head = (f"{start}\nVia: SIP/2.0/UDP host5.example.net;branch=z9hG4bK7\nTo: <sip:j.user@example.com>\n"
            f"From: <sip:caller@example.net>;tag=134161461246\nCall-ID: t4475@example.net\nCSeq: {cseq}\n{extra}")
    return with_body(head, body)


def test_rfc4475_inspired_valid_oddities() -> None:
    # 3.1.1.3 intmeth: a method made of every token character
    method = "!interesting-Method0123456789_*+`.%indeed'~"
    msg = parse_message(rfc4475_like(f"{method} sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com "
                                     "SIP/2.0", cseq=f"139122385 {method}"))
    assert isinstance(msg, Request) and msg.method == method
    # 3.1.1.12 / unreason, noreason: UTF-8 and empty reason phrases
    ok = parse_message(rfc4475_like("SIP/2.0 200 = 2**3 * 5**2 но сто девяносто девять - простое"))
    assert isinstance(ok, Response) and ok.reason.endswith("простое")
    bare = parse_message(rfc4475_like("SIP/2.0 100"))
    assert isinstance(bare, Response) and bare.status == 100 and bare.reason == ""
    # 3.1.1.9 zeromf, escaped user part, and a request-URI with a user password
    zero = parse_message(rfc4475_like("OPTIONS sip:user%32@example.com SIP/2.0", "Max-Forwards: 0\n",
                                      cseq="1 OPTIONS"))
    assert isinstance(zero, Request) and zero.headers.get("Max-Forwards") == "0"
    # 3.4.3-style dblreq: only the first request of a datagram counts (Content-Length 0)
    double = rfc4475_like("REGISTER sip:example.com SIP/2.0", cseq="1 REGISTER")
    assert parse_message(double + double).body == b""


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (rfc4475_like("INVITE sip:j@example.com SIP/2.0", cseq="36893488147419103232 INVITE"),
         "Malformed CSeq header"),  # scalar02: CSeq overflow
        (rfc4475_like("INVITE sip:j@example.com SIP/2.0", cseq="2147483648 INVITE"), "CSeq number out of range"),
        (rfc4475_like("INVITE sip:j@example.com SIP/2.0").replace(b"Content-Length: 0", b"Content-Length: -999"),
         "Bad Content-Length"),  # ncl
        (rfc4475_like("INVITE sip:j@example.com SIP/2.0", "Max-Forwards: 300000000000\n"), "Bad Max-Forwards"),
        (rfc4475_like("INVITE sip:j@example.com SIP/2.0").replace(b"Call-ID: t4475@example.net\r\n", b""),
         "Missing Call-ID header"),  # insuf
        (rfc4475_like("INVITE sip:j@example.com SIP/2.0", "Call-ID: second@example.net\n"),
         "Duplicate Call-ID or CSeq"),
        (rfc4475_like("INVITE  sip:j@example.com SIP/2.0"), "Malformed request line"),  # lwsstart-ish
        (rfc4475_like("INVITE sip:j@example.com;lr SIP/2.0").replace(b"sip:j@example.com;lr", b"<sip:j@e.com>"),
         "Malformed Request-URI"),  # regaut01/badaspec-ish: angle brackets in the Request-URI
    ],
)
def test_rfc4475_inspired_invalid_get_400(raw: bytes, reason: str) -> None:
    with pytest.raises(SipParseError) as err:
        parse_message(raw)
    assert err.value.reason == reason and err.value.status == 400 and err.value.partial is not None
