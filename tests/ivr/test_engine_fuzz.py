"""Hypothesis: random request sequences, bodies, ticks and commands never crash the call state machine."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.engine.callsm import new_uas, step
from ivr.engine.model import AnswerCmd, HangupCmd, Incoming, LocalMedia, Send, Tick, Timers, TransferCmd
from ivr.sip import Request, Response, SipParseError, parse_message
from ivr.sip.address import Endpoint

SRC = Endpoint("udp", "127.0.0.1", 5062)
METHODS = ["INVITE", "ACK", "BYE", "CANCEL", "INFO", "NOTIFY", "UPDATE", "OPTIONS", "REFER", "PRACK", "FOO"]
BODIES = [
    ("", ""),
    (
        "application/sdp",
        "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n",
    ),
    ("application/sdp", "v=0\r\nm=audio 0 RTP/AVP 0\r\n"),
    ("application/sdp", "garbage\r\n\x00\xff"),
    ("application/dtmf-relay", "Signal=11\r\nDuration=99999999999\r\n"),
    ("application/dtmf", "Z"),
    ("message/sipfrag", "SIP/2.0 603 Declined\r\n"),
    ("message/sipfrag", "nonsense"),
]


def build(method: str, cseq: int, to_tag: bool, body: tuple[str, str], branch: int) -> Request | None:
    ctype, text = body
    raw = (
        f"{method} sip:12345@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK{branch}\r\n"
        "From: <sip:a@127.0.0.1>;tag=a\r\n"
        f"To: <sip:12345@127.0.0.1>{';tag=ivr' if to_tag else ''}\r\nCall-ID: fuzz\r\nCSeq: {cseq} {method}\r\n"
        "Event: refer\r\nSubscription-State: terminated\r\n"
        + (f"Content-Type: {ctype}\r\n" if ctype else "")
        + f"Content-Length: {len(text.encode('utf-8', 'surrogateescape'))}\r\n\r\n{text}"
    )
    try:
        message = parse_message(raw.encode("utf-8", "surrogateescape"))
    except SipParseError:
        return None
    return message if isinstance(message, Request) else None


event_strategy = st.one_of(
    st.tuples(
        st.just("req"),
        st.sampled_from(METHODS),
        st.integers(0, 6),
        st.booleans(),
        st.sampled_from(BODIES),
        st.integers(0, 3),
    ),
    st.tuples(st.just("tick"), st.floats(0, 40)),
    st.tuples(st.just("cmd"), st.sampled_from(["hangup", "transfer", "answer"])),
)


@settings(max_examples=300, deadline=None)
@given(events=st.lists(event_strategy, max_size=25), delay=st.sampled_from([0.0, 2.0]))
def test_random_events_never_crash(events: list[tuple], delay: float) -> None:  # type: ignore[type-arg]
    first = build("INVITE", 1, False, BODIES[1], 0)
    assert first is not None
    state, _ = new_uas(
        first,
        SRC,
        local_media=LocalMedia("127.0.0.1", 30000),
        local_contact="<sip:x@127.0.0.1>",
        local_tag="ivr",
        timers=Timers(answer_delay=delay),
        now=0.0,
    )
    now = 0.0
    for item in events:
        if item[0] == "req":
            req = build(item[1], item[2], item[3], item[4], item[5])
            if req is None:
                continue
            now += 0.01
            state, actions = step(state, Incoming(req, SRC, now))
        elif item[0] == "tick":
            now += item[1]
            state, actions = step(state, Tick(now))
        else:
            now += 0.01
            command = {
                "hangup": HangupCmd(now),
                "transfer": TransferCmd(now, "sip:b@127.0.0.1"),
                "answer": AnswerCmd(now),
            }[item[1]]
            state, actions = step(state, command)
        for action in actions:
            if isinstance(action, Send):
                data = action.message.to_bytes()
                assert isinstance(parse_message(data), (Request, Response))  # everything we send parses
