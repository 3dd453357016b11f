"""Hypothesis fuzzing: the SIP parser and framer never raise anything but their own errors."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.sip import Headers, Request, SipFramingError, SipParseError, StreamFramer, make_response, parse_message
from ivr.sip.events import RequestReceived, Transmit
from ivr.sip.transaction import TransactionLayer

SEED = (
    b"INVITE sip:12345@127.0.0.1:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK8a3c;rport\r\n"
    b"From: \"A\" <sip:caller@127.0.0.1:5062>;tag=3b0c\r\nTo: <sip:12345@127.0.0.1>\r\n"
    b"Call-ID: 7b4e59a0\r\nCSeq: 7291 INVITE\r\nContact: <sip:c@127.0.0.1:5062>\r\nSupported:\r\n"
    b"Content-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n"
)

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _without_length(headers: Headers) -> list[tuple[str, str]]:
    return [item for item in headers if item[0] != "Content-Length"]


def _check(data: bytes) -> None:
    try:
        msg = parse_message(data)
    except SipParseError as exc:
        assert exc.reason and "\r" not in exc.reason and "\n" not in exc.reason
        if exc.partial is not None:
            make_response(exc.partial, exc.status, exc.reason, to_tag="x").to_bytes()
        return
    # Whatever parsed must serialise and parse back to the same thing.
    again = parse_message(msg.to_bytes())
    assert type(again) is type(msg) and again.body == msg.body
    assert _without_length(again.headers) == _without_length(msg.headers)
    if isinstance(msg, Request):
        make_response(msg, 200, to_tag="t").to_bytes()


@FUZZ
@given(st.binary(max_size=600))
def test_random_bytes(data: bytes) -> None:
    _check(data)


@FUZZ
@given(st.data())
def test_mutated_invite(data: st.DataObject) -> None:
    raw = bytearray(SEED)
    for _ in range(data.draw(st.integers(1, 6))):
        op = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        pos = data.draw(st.integers(0, len(raw)))
        if op == "flip" and pos < len(raw):
            raw[pos] = data.draw(st.integers(0, 255))
        elif op == "insert":
            raw[pos:pos] = data.draw(st.sampled_from([b"\r\n", b" ", b":", b";", b"<", b">", b"\"", b",", b"\t",
                                                       b"%", b"[", b"@", b"=", b"\x00", b"\r\n "]))
        elif pos < len(raw):
            del raw[pos : pos + data.draw(st.integers(1, 8))]
    _check(bytes(raw))


@FUZZ
@given(st.lists(st.binary(max_size=120), max_size=8))
def test_framer(chunks: list[bytes]) -> None:
    framer = StreamFramer(max_header_bytes=512, max_body_bytes=4096)
    try:
        for chunk in [SEED, *chunks]:
            for message in framer.feed(chunk):
                try:
                    parse_message(message, stream=True)
                except SipParseError:
                    pass
    except SipFramingError:
        pass


@FUZZ
@given(st.lists(st.tuples(st.sampled_from([SEED, SEED.replace(b"INVITE", b"ACK"), SEED.replace(b"INVITE", b"CANCEL"),
                                           b"SIP/2.0 200 OK\r\n" + SEED.split(b"\r\n", 1)[1]]),
                          st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=4),
                          st.floats(0, 5)), max_size=12))
def test_transaction_layer_survives_mutated_traffic(items: list[tuple[bytes, list[tuple[int, int]], float]]) -> None:
    """Mutated INVITE/ACK/CANCEL/responses never raise, and a healthy call in the same layer keeps working."""
    layer = TransactionLayer()
    good = parse_message(SEED.replace(b"7b4e59a0", b"healthy-call").replace(b"z9hG4bK8a3c", b"z9hG4bKgood"))
    assert isinstance(good, Request)
    layer.receive(good, ("127.0.0.1", 5062), 0.0)
    now = 0.0
    for raw, flips, dt in items:
        data = bytearray(raw)
        for pos, value in flips:
            if pos < len(data):
                data[pos] = value
        now += dt
        events = layer.receive_bytes(bytes(data), ("127.0.0.1", 5070), now)
        events += layer.handle_timer(now)
        for event in events:
            if isinstance(event, RequestReceived) and event.request.method != "ACK":
                layer.send_response(make_response(event.request, 486, to_tag="z"), now, event.key)
    answer = layer.send_response(make_response(good, 200, to_tag="ok"), now)
    assert [e for e in answer if isinstance(e, Transmit)], "the healthy call could not be answered"
