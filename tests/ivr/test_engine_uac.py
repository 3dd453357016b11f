"""Sans-IO UAC legs and two call state machines wired in memory with packet loss on virtual time."""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from ivr.app import HangupEvent
from ivr.engine.callsm import new_uas, step
from ivr.engine.model import (
    Action,
    Answered,
    CallState,
    Deliver,
    DialFailure,
    Event,
    HangupCmd,
    Incoming,
    LocalMedia,
    Send,
    StartMedia,
    Terminated,
    Tick,
    Timers,
    WakeAt,
)
from ivr.engine.uac import new_uac
from ivr.net.transport import Endpoint
from ivr.sip import Request, Response, make_response, parse_message
from ivr.sip.auth import DigestServer

IVR = Endpoint("udp", "127.0.0.1", 5060)
AGENT = Endpoint("udp", "127.0.0.1", 5064)
T = Timers(t1=0.5, t2=4.0)


def dial(
    now: float = 0.0, timeout: float = 20.0, credentials: tuple[str, str] | None = None
) -> tuple[CallState, list[Action]]:
    return new_uac(
        "sip:agent@127.0.0.1:5064",
        AGENT,
        from_uri="sip:12345@127.0.0.1",
        display="12345",
        local_contact="<sip:12345@127.0.0.1:5060>",
        local_media=LocalMedia("127.0.0.1", 30000, ("PCMU", "PCMA"), 101),
        local_tag="ivrtag",
        call_id="out-1@127.0.0.1",
        timers=T,
        now=now,
        dial_timeout=timeout,
        credentials=credentials,
    )


def requests(actions: list[Action]) -> list[Request]:
    return [a.message for a in actions if isinstance(a, Send) and isinstance(a.message, Request)]


def reply(req: Request, status: int, *, body: bytes = b"", headers: list[tuple[str, str]] | None = None) -> Response:
    extra = list(headers or [])
    if 200 <= status < 300 and req.method == "INVITE":
        extra.append(("Contact", "<sip:agent@127.0.0.1:5064>"))
    resp = make_response(
        req, status, to_tag="agenttag", headers=extra, body=body, content_type="application/sdp" if body else None
    )
    parsed = parse_message(resp.to_bytes())  # through the real parser, as on the wire
    assert isinstance(parsed, Response)
    return parsed


ANSWER = (
    b"v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    b"m=audio 32000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n"
)


def test_dial_answered_acks_and_starts_media() -> None:
    state, actions = dial()
    invite = requests(actions)[0]
    assert invite.method == "INVITE" and invite.headers.get("Content-Type") == "application/sdp"
    assert b"RTP/AVP 0 8 101" in invite.body
    state, actions = step(state, Incoming(reply(invite, 180), AGENT, 0.2))
    assert not requests(actions)
    state, actions = step(state, Incoming(reply(invite, 200, body=ANSWER), AGENT, 1.0))
    ack = requests(actions)[0]
    assert ack.method == "ACK" and ack.cseq == (invite.cseq[0], "ACK") and ack.to_tag == "agenttag"
    assert ack.top_via.branch != invite.top_via.branch  # a 2xx ACK is its own transaction
    media = next(a.params for a in actions if isinstance(a, StartMedia))
    assert (media.codec, media.payload_type, media.remote_port) == ("PCMA", 8, 32000)
    assert any(isinstance(a, Answered) for a in actions) and state.phase == "confirmed"
    state, again = step(state, Incoming(reply(invite, 200, body=ANSWER), AGENT, 1.5))
    assert requests(again) == [ack]  # a retransmitted 200 gets the same ACK


def test_dial_busy_acks_and_fails() -> None:
    state, actions = dial()
    invite = requests(actions)[0]
    state, actions = step(state, Incoming(reply(invite, 486), AGENT, 0.3))
    ack = requests(actions)[0]
    assert ack.method == "ACK" and ack.top_via.branch == invite.top_via.branch
    assert [a for a in actions if isinstance(a, DialFailure)] == [DialFailure(486, "Busy Here")]


def test_dial_timeout_cancels_then_487_is_acked() -> None:
    state, actions = dial(timeout=5.0)
    invite = requests(actions)[0]
    state, actions = step(state, Incoming(reply(invite, 180), AGENT, 0.1))
    assert [a.at for a in actions if isinstance(a, WakeAt)] == [5.0]
    state, actions = step(state, Tick(5.0))
    cancel = requests(actions)[0]
    assert cancel.method == "CANCEL" and cancel.top_via.branch == invite.top_via.branch
    assert [a for a in actions if isinstance(a, DialFailure)] == [DialFailure(0, "timeout")]
    state, actions = step(state, Incoming(reply(cancel, 200), AGENT, 5.1))
    state, actions = step(state, Incoming(reply(invite, 487), AGENT, 5.2))
    assert requests(actions)[0].method == "ACK" and not [a for a in actions if isinstance(a, DialFailure)]
    assert state.phase == "ended"


def test_dial_answers_digest_challenge_once() -> None:
    server = DigestServer("pbx")
    state, actions = dial(credentials=("ivr", "s3cret"))
    invite = requests(actions)[0]
    challenge = reply(invite, 407, headers=[("Proxy-Authenticate", v) for v in server.challenge(0.0)])
    state, actions = step(state, Incoming(challenge, AGENT, 0.1))
    ack, retry = requests(actions)
    assert ack.method == "ACK" and retry.method == "INVITE" and retry.cseq[0] == invite.cseq[0] + 1
    verdict = server.verify(retry.headers.get("Proxy-Authorization") or "", "INVITE", {"ivr": "s3cret"}.get, 0.2)
    assert verdict.ok, verdict.reason
    challenge2 = reply(retry, 407, headers=[("Proxy-Authenticate", v) for v in server.challenge(0.3)])
    state, actions = step(state, Incoming(challenge2, AGENT, 0.3))
    assert next(a for a in actions if isinstance(a, DialFailure)).status == 407  # no endless loop


# ---------------------------------------------------------------- two machines on a lossy virtual network


@dataclass(order=True)
class _Packet:
    at: float
    seq: int
    to: str = field(compare=False)
    message: Request | Response = field(compare=False)


class VirtualNet:
    """UAC (IVR side) and UAS (phone side) exchanging messages; ``drop`` decides which copies are lost."""

    def __init__(self, drop: set[int], latency: float = 0.01) -> None:
        self.drop = drop
        self.latency = latency
        self.queue: list[_Packet] = []
        self.sent = 0
        self.seq = 0
        self.states: dict[str, CallState | None] = {"uac": None, "uas": None}
        self.wakes: dict[str, float | None] = {"uac": None, "uas": None}
        self.outputs: dict[str, list[Action]] = {"uac": [], "uas": []}
        self.log: list[tuple[float, str, str]] = []

    def apply(self, side: str, actions: list[Action], now: float) -> None:
        self.outputs[side] += actions
        for action in actions:
            if isinstance(action, Send):
                self.sent += 1
                first = action.message.to_bytes().split(b"\r\n", 1)[0].decode()
                lost = self.sent in self.drop
                self.log.append((now, side, first + (" (lost)" if lost else "")))
                if not lost:
                    self.seq += 1
                    other = "uas" if side == "uac" else "uac"
                    parsed = parse_message(action.message.to_bytes())
                    heapq.heappush(self.queue, _Packet(now + self.latency, self.seq, other, parsed))
            elif isinstance(action, WakeAt):
                self.wakes[side] = action.at

    def feed(self, side: str, event: Event) -> None:
        state = self.states[side]
        now = event.now  # type: ignore[union-attr]
        if state is None:
            assert isinstance(event, Incoming) and isinstance(event.message, Request)
            state, actions = new_uas(
                event.message,
                IVR,
                local_media=LocalMedia("127.0.0.1", 31000),
                timers=T,
                local_contact="<sip:agent@127.0.0.1:5064>",
                local_tag="agenttag",
                now=now,
            )
        else:
            state, actions = step(state, event)
        self.states[side] = state
        self.apply(side, actions, now)

    def run(self, until: float, commands: dict[float, tuple[str, Event]]) -> None:
        pending = sorted(commands.items())
        now = 0.0
        while now < until:
            candidates = [(t, "wake", s) for s, t in self.wakes.items() if t is not None]
            if self.queue:
                candidates.append((self.queue[0].at, "packet", ""))
            if pending:
                candidates.append((pending[0][0], "command", ""))
            if not candidates:
                return
            now, kind, side = min(candidates)
            if now >= until:
                return
            if kind == "packet":
                packet = heapq.heappop(self.queue)
                self.feed(packet.to, Incoming(packet.message, AGENT if packet.to == "uac" else IVR, packet.at))
            elif kind == "command":
                _, (side, event) = pending.pop(0)
                self.feed(side, event)
            else:
                self.wakes[side] = None
                self.feed(side, Tick(now))


def test_two_machines_survive_lost_invite_200_and_bye() -> None:
    net = VirtualNet(drop={1, 4, 7})  # the first INVITE, the first 200 OK and the first BYE are lost
    uac, actions = dial()
    net.states["uac"] = uac
    net.apply("uac", actions, 0.0)
    net.run(60.0, {10.0: ("uac", HangupCmd(10.0))})
    lines = [line for _, _, line in net.log]
    assert lines.count("INVITE sip:agent@127.0.0.1:5064 SIP/2.0 (lost)") == 1
    assert lines.count("SIP/2.0 200 OK (lost)") == 1
    assert lines.count("BYE sip:agent@127.0.0.1:5064 SIP/2.0 (lost)") == 1
    assert lines.count("BYE sip:agent@127.0.0.1:5064 SIP/2.0") == 1  # retransmitted once, then answered
    assert any(isinstance(a, Answered) for a in net.outputs["uac"])
    assert any(isinstance(a, Deliver) and a.event == HangupEvent("remote_bye", True) for a in net.outputs["uas"])
    uac_state, uas_state = net.states["uac"], net.states["uas"]
    assert uac_state is not None and uas_state is not None
    assert uac_state.phase == "ended" and uas_state.phase == "ended"
    assert any(isinstance(a, Terminated) for a in net.outputs["uac"])
    assert any(isinstance(a, Terminated) for a in net.outputs["uas"])
    assert net.wakes == {"uac": None, "uas": None}  # every timer stopped
    late = [t for t, _, line in net.log if t > 10.0 + 64 * T.t1]
    assert not late  # nothing is retransmitted after the transactions ended


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), loss=st.floats(0.0, 0.3))
def test_random_loss_always_converges(seed: int, loss: float) -> None:
    rng = random.Random(seed)
    net = VirtualNet(drop={n for n in range(1, 200) if rng.random() < loss})
    uac, actions = dial(timeout=30.0)
    net.states["uac"] = uac
    net.apply("uac", actions, 0.0)
    net.run(400.0, {5.0: ("uac", HangupCmd(5.0))})
    for side in ("uac", "uas"):
        state = net.states[side]
        assert state is None or state.phase == "ended"
        assert net.wakes[side] is None
