"""Hypothesis: random request sequences, bodies, ticks and commands never crash the call state machine, neither
called directly nor through the UA core (where a crash would only show as ``stats["call_errors"]``)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.ivr import IvrConfig
from ivr.engine import callsm
from ivr.engine.callsm import new_uas, step
from ivr.engine.core import NewCall, Output, Transmit, UaCore
from ivr.engine.model import (
    Action,
    AnswerCmd,
    CallState,
    HangupCmd,
    Incoming,
    LocalMedia,
    Send,
    Tick,
    Timers,
    TransferCmd,
)
from ivr.engine.registrar import Registrar
from ivr.sip import Request, Response, SipParseError, parse_message
from ivr.sip.address import Endpoint
from ivr.sip.tx_common import TimerConfig

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


def build(
    method: str, cseq: int, to_tag: bool, body: tuple[str, str], branch: int, tag: str = "ivr"
) -> Request | None:
    ctype, text = body
    raw = (
        f"{method} sip:12345@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK{branch}\r\n"
        "From: <sip:a@127.0.0.1>;tag=a\r\n"
        f"To: <sip:12345@127.0.0.1>{f';tag={tag}' if to_tag else ''}\r\nCall-ID: fuzz\r\nCSeq: {cseq} {method}\r\n"
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


# ---------------------------------------------------------------- the same through the UA core (bytes on the wire)


def core_events(rng: random.Random, count: int) -> list[tuple]:  # type: ignore[type-arg]
    """``count`` random events of the kinds :data:`event_strategy` draws (for seeded, reproducible runs)."""
    events: list[tuple] = []  # type: ignore[type-arg]
    for _ in range(count):
        kind = rng.choice(["req", "req", "tick", "cmd"])
        if kind == "req":
            method, cseq, tagged = rng.choice(METHODS), rng.randint(0, 6), rng.random() < 0.7
            events.append(("req", method, cseq, tagged, rng.choice(BODIES), rng.randint(0, 3)))
        elif kind == "tick":
            events.append(("tick", rng.uniform(0, 40)))
        else:
            events.append(("cmd", rng.choice(["hangup", "transfer", "answer"])))
    return events


def run_core(events: list[tuple], delay: float) -> UaCore:  # type: ignore[type-arg]
    """One call through a :class:`UaCore` fed with bytes, ticks and commands; fails when the core reports a state
    machine error (``UaCore.feed`` turns an exception into a hang-up, so only ``stats["call_errors"]`` tells)."""
    core = UaCore(TimerConfig(t1=0.5), Registrar(IvrConfig()))
    first = build("INVITE", 1, False, BODIES[1], 0)
    assert first is not None
    sent: list[bytes] = []

    def run(outputs: list[Output], now: float) -> None:
        for out in outputs:
            if isinstance(out, Transmit):
                sent.append(out.data)
            elif isinstance(out, NewCall):
                run(
                    core.start_uas(
                        out.request,
                        out.source,
                        local_media=LocalMedia("127.0.0.1", 30000),
                        local_contact="<sip:x@127.0.0.1>",
                        timers=Timers(answer_delay=delay),
                        now=now,
                    ),
                    now,
                )

    run(core.receive(first.to_bytes(), SRC, 0.0), 0.0)
    (leg,) = core.legs
    key, tag = leg.key, leg.state.dialog.local_tag
    now = 0.0
    for item in events:
        if item[0] == "req":
            req = build(item[1], item[2], item[3], item[4], item[5], tag=tag)
            if req is None:
                continue
            now += 0.01
            run(core.receive(req.to_bytes(), SRC, now), now)
        elif item[0] == "tick":
            now += item[1]
            run(core.tick(now), now)
        else:
            now += 0.01
            command = {
                "hangup": HangupCmd(now),
                "transfer": TransferCmd(now, "sip:b@127.0.0.1"),
                "answer": AnswerCmd(now),
            }[item[1]]
            run(core.feed(key, command), now)
    while (wake := core.next_wakeup()) is not None and wake < now + 600:
        now = wake
        run(core.tick(now), now)
    for data in sent:
        assert isinstance(parse_message(data), (Request, Response))  # everything we send parses
    assert core.stats["call_errors"] == 0, f"{core.stats['call_errors']} call state machine error(s), see the log"
    return core


def fuzz_core(seed: int, runs: int = 20, count: int = 15) -> None:
    rng = random.Random(seed)
    for n in range(runs):
        run_core(core_events(rng, count), 2.0 if n % 2 else 0.0)


@settings(max_examples=150, deadline=None)
@given(events=st.lists(event_strategy, max_size=25), delay=st.sampled_from([0.0, 2.0]))
def test_random_events_through_the_core_hit_no_state_machine_error(events: list[tuple], delay: float) -> None:  # type: ignore[type-arg]
    run_core(events, delay)


def test_seeded_core_fuzz_hits_no_state_machine_error() -> None:
    fuzz_core(seed=12345)


def test_the_core_fuzz_reports_an_injected_state_machine_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: a state machine that raises on an event (here: a request inside an answered call) is
    caught, although the core turns the exception into a hang-up and the run otherwise looks fine."""
    real_on_request = callsm.on_request

    def broken(s: CallState, req: Request, source: Endpoint, now: float, out: list[Action]) -> None:
        if s.phase in ("answering", "confirmed"):
            raise RuntimeError("injected state machine bug")
        real_on_request(s, req, source, now, out)

    monkeypatch.setattr(callsm, "on_request", broken)
    with pytest.raises(AssertionError, match="call state machine error"):
        fuzz_core(seed=12345)
    with pytest.raises(AssertionError, match="call state machine error"):
        run_core([("req", "ACK", 1, True, BODIES[0], 9), ("req", "BYE", 2, True, BODIES[0], 8)], 0.0)
