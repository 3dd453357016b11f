"""The sans-IO UA core (transaction layer + call state machines) on virtual time: whole calls, lost packets,
retransmissions, CANCEL, out-of-dialog requests, the registrar, garbage; two cores wired in memory."""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config.ivr import IvrConfig, RegistrarUser
from ivr.app import DigitEvent, HangupEvent
from ivr.engine import core as core_module
from ivr.engine.core import CallOutput, NewCall, Output, Transmit, UaCore
from ivr.engine.model import (
    Action,
    Answered,
    CallKey,
    CallState,
    Deliver,
    Event,
    HangupCmd,
    LocalMedia,
    Terminated,
    Timers,
)
from ivr.engine.registrar import Registrar
from ivr.engine.uac import new_uac
from ivr.sip import parse_message
from ivr.sip.address import Endpoint
from ivr.sip.auth import build_authorization, parse_challenge
from ivr.sip.tx_common import TimerConfig

PHONE = Endpoint("udp", "127.0.0.1", 5062)
IVR = Endpoint("udp", "127.0.0.1", 5060)
SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 31000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
)


def message(
    method: str,
    cseq: int,
    *,
    branch: str = "z9hG4bKinv1",
    to_tag: str = "",
    body: str = "",
    ctype: str = "",
    extra: str = "",
    cseq_method: str | None = None,
) -> bytes:
    to = "<sip:12345@127.0.0.1:5060>" + (f";tag={to_tag}" if to_tag else "")
    return (
        f"{method} sip:12345@127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5062;branch={branch};rport\r\n"
        f"Max-Forwards: 70\r\nFrom: <sip:13800000000@127.0.0.1:5062>;tag=caller1\r\nTo: {to}\r\n"
        f"Call-ID: core-1@127.0.0.1\r\nCSeq: {cseq} {cseq_method or method}\r\n"
        f"Contact: <sip:13800000000@127.0.0.1:5062>\r\n{extra}"
        + (f"Content-Type: {ctype}\r\n" if ctype else "")
        + f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


INVITE = message("INVITE", 1, body=SDP, ctype="application/sdp")


class Ivr:
    """A core as the engine drives it: new calls are accepted with a fixed local media description."""

    def __init__(self, answer_delay: float = 0.0, config: IvrConfig | None = None) -> None:
        self.core = UaCore(TimerConfig(t1=0.5), Registrar(config or IvrConfig()))
        self.answer_delay = answer_delay
        self.actions: list[CallOutput] = []

    def run(self, outputs: list[Output], now: float) -> list[bytes]:
        sent: list[bytes] = []
        for out in outputs:
            if isinstance(out, Transmit):
                sent.append(out.data)
            elif isinstance(out, NewCall):
                sent += self.run(
                    self.core.start_uas(
                        out.request,
                        out.source,
                        local_media=LocalMedia("127.0.0.1", 30000),
                        local_contact="<sip:12345@127.0.0.1:5060>",
                        timers=Timers(answer_delay=self.answer_delay),
                        now=now,
                    ),
                    now,
                )
            else:
                self.actions.append(out)
        return sent

    def receive(self, data: bytes, now: float) -> list[bytes]:
        return self.run(self.core.receive(data, PHONE, now), now)

    def tick(self, now: float) -> list[bytes]:
        return self.run(self.core.tick(now), now)


def state_of(core: UaCore, call_id: str) -> CallState:
    (state,) = [leg.state for leg in core.legs if leg.key[0] == call_id]
    return state


def first_lines(sent: list[bytes]) -> list[str]:
    return [d.split(b"\r\n", 1)[0].decode() for d in sent]


def to_tag_of(data: bytes) -> str:
    parsed = parse_message(data)
    return parsed.to_tag or ""


def test_invite_100_then_200_retransmitted_until_ack() -> None:
    ivr = Ivr()
    sent = ivr.receive(INVITE, 0.0)
    assert first_lines(sent) == ["SIP/2.0 100 Trying", "SIP/2.0 200 OK"]
    tag = to_tag_of(sent[1])
    retransmits = []
    now = 0.0
    while (wake := ivr.core.next_wakeup()) is not None and wake < 3.0:
        now = wake
        retransmits += [now for line in first_lines(ivr.tick(now)) if line == "SIP/2.0 200 OK"]
    assert retransmits == [0.5, 1.5]  # T1, then 2·T1 later
    assert ivr.receive(message("ACK", 1, to_tag=tag, branch="z9hG4bKack1"), 3.2) == []
    later = []
    while (wake := ivr.core.next_wakeup()) is not None and wake < 40.0:
        later += ivr.tick(wake)
    assert later == []  # nothing more after the ACK
    assert state_of(ivr.core, "core-1@127.0.0.1").phase == "confirmed"


def test_retransmitted_invite_gets_the_same_200_never_481() -> None:
    ivr = Ivr()
    first = ivr.receive(INVITE, 0.0)
    again = ivr.receive(INVITE, 0.2)
    assert again == [first[1]]
    assert len(ivr.core.legs) == 1


def test_retransmitted_in_dialog_request_is_absorbed_a_lower_cseq_gets_500() -> None:
    ivr = Ivr()
    tag = to_tag_of(ivr.receive(INVITE, 0.0)[1])
    ivr.receive(message("ACK", 1, to_tag=tag, branch="z9hG4bKack1"), 0.1)
    info = message("INFO", 3, to_tag=tag, branch="z9hG4bKi3", body="Signal=5\r\nDuration=160\r\n",
                   ctype="application/dtmf-relay")
    first = ivr.receive(info, 0.2)
    assert first_lines(first) == ["SIP/2.0 200 OK"]
    assert ivr.receive(info, 0.3) == first  # the same CSeq, same transaction: the layer answers it again
    digits = [o.action.event for o in ivr.actions if isinstance(o.action, Deliver)]
    assert digits == [DigitEvent("5", "info", 160)]  # delivered once
    lower = ivr.receive(message("INFO", 2, to_tag=tag, branch="z9hG4bKi2"), 0.4)
    assert first_lines(lower) == ["SIP/2.0 500 CSeq Out of Order"] and b"\r\nRetry-After: 1\r\n" in lower[0]
    assert ivr.core.stats["call_errors"] == 0


def test_requests_find_their_call_by_dialog_id() -> None:
    ivr = Ivr()
    tag = to_tag_of(ivr.receive(INVITE, 0.0)[1])
    ivr.receive(message("ACK", 1, to_tag=tag, branch="z9hG4bKack1"), 0.1)
    foreign = ivr.receive(message("INFO", 2, to_tag="other", branch="z9hG4bKf1"), 0.2)
    assert first_lines(foreign) == ["SIP/2.0 481 Call/Transaction Does Not Exist"]
    options = ivr.receive(message("OPTIONS", 3, to_tag="other", branch="z9hG4bKf2"), 0.2)
    assert first_lines(options) == ["SIP/2.0 481 Call/Transaction Does Not Exist"] and b"Allow: " in options[0]
    not_theirs = message("INFO", 4, to_tag=tag, branch="z9hG4bKf3").replace(b"tag=caller1", b"tag=intruder")
    assert first_lines(ivr.receive(not_theirs, 0.3)) == ["SIP/2.0 481 Call/Transaction Does Not Exist"]
    assert state_of(ivr.core, "core-1@127.0.0.1").dialog.remote_cseq == 1  # none of them reached the call
    merged = INVITE.replace(b"z9hG4bKinv1", b"z9hG4bKfork2")  # the same INVITE back on another branch
    assert first_lines(ivr.receive(merged, 0.4)) == ["SIP/2.0 100 Trying", "SIP/2.0 482 Loop Detected"]
    assert len(ivr.core.legs) == 1
    bye = ivr.receive(message("BYE", 5, to_tag=tag, branch="z9hG4bKb5"), 0.5)
    assert first_lines(bye) == ["SIP/2.0 200 OK"] and not ivr.core.legs
    assert ivr.core.stats["call_errors"] == 0


def test_a_core_calling_itself_keeps_both_legs_of_one_call_id_apart() -> None:
    """The UAC leg and the UAS leg it reaches share the Call-ID; only the tags tell their requests apart."""
    ivr = Ivr()  # answers what it gets
    state, actions = new_uac(
        "sip:12345@127.0.0.1:5060",
        IVR,
        from_uri="sip:ivr@127.0.0.1",
        display="",
        timers=Timers(),
        local_contact="<sip:ivr@127.0.0.1:5060>",
        local_media=LocalMedia("127.0.0.1", 32000),
        local_tag="uac1",
        call_id="self-1@127.0.0.1",
        now=0.0,
        dial_timeout=30.0,
    )
    wire = ivr.run(ivr.core.start_uac(state, actions, 0.0), 0.0)
    now = 0.0
    for _ in range(20):  # loop every datagram back into the same core
        now += 0.01
        wire = [out for data in wire for out in ivr.receive(data, now)]
    assert sorted(leg.state.role for leg in ivr.core.legs) == ["uac", "uas"]
    assert all(leg.key[0] == "self-1@127.0.0.1" and leg.state.phase == "confirmed" for leg in ivr.core.legs)
    wire = ivr.run(ivr.core.feed(state.key, HangupCmd(now)), now)
    for _ in range(20):
        now += 0.01
        wire = [out for data in wire for out in ivr.receive(data, now)]
    assert not ivr.core.legs
    hangups = [o.action.event for o in ivr.actions if isinstance(o.action, Deliver)]
    assert sorted(h.reason for h in hangups if isinstance(h, HangupEvent)) == ["normal", "remote_bye"]
    assert ivr.core.stats["call_errors"] == 0


def test_missing_ack_ends_the_call_with_bye() -> None:
    ivr = Ivr()
    ivr.receive(INVITE, 0.0)
    sent: list[bytes] = []
    while (wake := ivr.core.next_wakeup()) is not None and wake <= 40.0:
        sent += ivr.tick(wake)
    assert any(line.startswith("BYE ") for line in first_lines(sent))
    assert any(isinstance(o.action, Deliver) and o.action.event == HangupEvent("no_ack", False) for o in ivr.actions)


def test_cancel_while_ringing_gives_200_and_487_and_nothing_for_the_app() -> None:
    ivr = Ivr(answer_delay=5.0)
    assert first_lines(ivr.receive(INVITE, 0.0)) == ["SIP/2.0 100 Trying", "SIP/2.0 180 Ringing"]
    sent = ivr.receive(message("CANCEL", 1), 1.0)
    assert first_lines(sent) == ["SIP/2.0 200 OK", "SIP/2.0 487 Request Terminated"]
    assert b"CSeq: 1 CANCEL" in sent[0] and b"CSeq: 1 INVITE" in sent[1]
    ivr.receive(message("ACK", 1, to_tag=to_tag_of(sent[1])), 1.1)
    later: list[bytes] = []
    while (wake := ivr.core.next_wakeup()) is not None and wake <= 60.0:
        later += ivr.tick(wake)
    assert later == [] and not ivr.core.legs  # no 200 after the answer delay, call gone
    assert not any(isinstance(o.action, Answered) for o in ivr.actions)


def test_out_of_dialog_requests_and_garbage() -> None:
    ivr = Ivr()
    assert first_lines(ivr.receive(message("OPTIONS", 1, branch="z9hG4bKo"), 0)) == ["SIP/2.0 200 OK"]
    assert first_lines(ivr.receive(message("BYE", 1, to_tag="x", branch="z9hG4bKb"), 0)) == [
        "SIP/2.0 481 Call/Transaction Does Not Exist"
    ]
    assert first_lines(ivr.receive(message("PUBLISH", 1, branch="z9hG4bKp"), 0)) == ["SIP/2.0 501 Not Implemented"]
    bad = message("INVITE", 1, branch="z9hG4bKbad").replace(b"Content-Length: 0", b"Content-Length: 99")
    assert first_lines(ivr.receive(bad, 0)) == ["SIP/2.0 400 Content-Length exceeds body"]
    assert ivr.receive(b"\x00\xff garbage \r\n\r\n", 0) == []
    assert ivr.core.layer.stats["parse_errors"] == 2 and ivr.core.layer.stats["bad_request_answered"] == 1


def test_register_with_digest_binds_the_contact() -> None:
    ivr = Ivr(config=IvrConfig(registrar_users=[RegistrarUser(username="1001", password="pw")]))
    register = (
        "REGISTER sip:127.0.0.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5064;branch=z9hG4bKr{n};rport\r\n"
        "From: <sip:1001@127.0.0.1>;tag=a1\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: reg-1\r\nCSeq: {n} REGISTER\r\n"
        "Contact: <sip:1001@127.0.0.1:5064>\r\nExpires: 600\r\n{auth}Content-Length: 0\r\n\r\n"
    )
    sent = ivr.receive(register.format(n=1, auth="").encode(), 0.0)
    assert first_lines(sent) == ["SIP/2.0 401 Unauthorized"]
    challenge = parse_challenge(parse_message(sent[0]).headers.get("WWW-Authenticate") or "")
    assert challenge is not None
    wrong = build_authorization(challenge, "REGISTER", "sip:127.0.0.1:5060", "1001", "nope")
    sent = ivr.receive(register.format(n=2, auth=f"Authorization: {wrong}\r\n").encode(), 0.1)
    assert first_lines(sent) == ["SIP/2.0 403 Forbidden"]
    good = build_authorization(challenge, "REGISTER", "sip:127.0.0.1:5060", "1001", "pw")
    sent = ivr.receive(register.format(n=3, auth=f"Authorization: {good}\r\n").encode(), 0.2)
    assert first_lines(sent) == ["SIP/2.0 200 OK"] and b"expires=600" in sent[0]
    assert ivr.core.registrar.lookup("1001", 10.0) == "sip:1001@127.0.0.1:5064"
    assert ivr.core.registrar.lookup("1001", 700.0) is None  # expired


# ---------------------------------------------------------------- two cores on a lossy virtual network


@dataclass(order=True)
class _Packet:
    at: float
    seq: int
    to: str = field(compare=False)
    data: bytes = field(compare=False)


class VirtualNet:
    """The IVR placing a call (UAC core) to a phone (UAS core); copies numbered in ``drop`` are lost."""

    def __init__(self, drop: set[int], latency: float = 0.01) -> None:
        self.drop = drop
        self.latency = latency
        self.queue: list[_Packet] = []
        self.count = 0
        self.ivr = Ivr()  # plays the phone: answers what it gets
        self.uac = UaCore(TimerConfig(t1=0.5), Registrar(IvrConfig()))
        self.uac_actions: list[CallOutput] = []
        self.log: list[tuple[float, str, str]] = []

    def emit(self, side: str, data: list[bytes], now: float) -> None:
        for item in data:
            self.count += 1
            lost = self.count in self.drop
            self.log.append((now, side, item.split(b"\r\n", 1)[0].decode() + (" (lost)" if lost else "")))
            if not lost:
                heapq.heappush(
                    self.queue, _Packet(now + self.latency, self.count, "phone" if side == "uac" else "uac", item)
                )

    def uac_run(self, outputs: list[Output], now: float) -> None:
        data = [o.data for o in outputs if isinstance(o, Transmit)]
        self.uac_actions += [o for o in outputs if isinstance(o, CallOutput)]
        self.emit("uac", data, now)

    def run(self, until: float, hangup_at: float, call: CallKey) -> None:
        hung = False
        while True:
            times = [t for t in (self.uac.next_wakeup(), self.ivr.core.next_wakeup()) if t is not None]
            if self.queue:
                times.append(self.queue[0].at)
            if not hung:
                times.append(hangup_at)
            if not times or min(times) >= until:
                return
            now = min(times)
            if not hung and now == hangup_at:
                hung = True
                self.uac_run(self.uac.feed(call, HangupCmd(now)), now)
            elif self.queue and self.queue[0].at == now:
                packet = heapq.heappop(self.queue)
                if packet.to == "uac":
                    self.uac_run(self.uac.receive(packet.data, PHONE, now), now)
                else:
                    self.emit("phone", self.ivr.run(self.ivr.core.receive(packet.data, IVR, now), now), now)
            elif self.uac.next_wakeup() == now:
                self.uac_run(self.uac.tick(now), now)
            else:
                self.emit("phone", self.ivr.tick(now), now)


def place_call(net: VirtualNet) -> CallKey:
    state, actions = new_uac(
        "sip:12345@127.0.0.1:5062",
        PHONE,
        from_uri="sip:ivr@127.0.0.1",
        display="",
        timers=Timers(),
        local_contact="<sip:ivr@127.0.0.1:5060>",
        local_media=LocalMedia("127.0.0.1", 32000),
        local_tag="ivr",
        call_id="out-1@127.0.0.1",
        now=0.0,
        dial_timeout=30.0,
    )
    net.uac_run(net.uac.start_uac(state, actions, 0.0), 0.0)
    return state.key


def test_two_cores_survive_lost_invite_200_and_bye() -> None:
    # copies on the wire: 1 INVITE (lost), 2 INVITE, 3 100, 4 200 (lost), 5 200, 6 ACK, 7 BYE (lost), 8 BYE, 9 200
    net = VirtualNet(drop={1, 4, 7})
    call = place_call(net)
    net.run(120.0, 10.0, call)
    lines = [line for _, _, line in net.log]
    assert lines.count("INVITE sip:12345@127.0.0.1:5062 SIP/2.0 (lost)") == 1
    assert lines.count("SIP/2.0 200 OK (lost)") == 1
    assert sum(1 for line in lines if line.startswith("BYE ")) == 2  # lost once, retransmitted once
    assert any(isinstance(o.action, Answered) for o in net.uac_actions)
    phone_events = [o.action.event for o in net.ivr.actions if isinstance(o.action, Deliver)]
    assert phone_events == [HangupEvent("remote_bye", True)]
    assert any(isinstance(o.action, Terminated) for o in net.uac_actions)
    assert not net.uac.legs and not net.ivr.core.legs
    assert net.uac.next_wakeup() is None and net.ivr.core.next_wakeup() is None  # every timer stopped
    assert not net.uac.layer.client and not net.ivr.core.layer.server  # every transaction gone
    assert net.uac.stats["call_errors"] == 0 and net.ivr.core.stats["call_errors"] == 0


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), loss=st.floats(0.0, 0.3))
def test_random_loss_always_converges(seed: int, loss: float) -> None:
    rng = random.Random(seed)
    net = VirtualNet(drop={n for n in range(1, 300) if rng.random() < loss})
    call = place_call(net)
    net.run(600.0, 5.0, call)
    assert not net.uac.legs and not net.ivr.core.legs
    assert net.uac.next_wakeup() is None and net.ivr.core.next_wakeup() is None
    assert net.uac.stats["call_errors"] == 0 and net.ivr.core.stats["call_errors"] == 0  # no exception hung up


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=400), cut=st.integers(0, len(INVITE)), flip=st.integers(0, 255))
def test_random_and_mutated_bytes_never_crash(data: bytes, cut: int, flip: int) -> None:
    ivr = Ivr()
    ivr.receive(data, 0.0)
    mutated = bytearray(INVITE)
    if cut < len(mutated):
        mutated[cut] = flip
    ivr.receive(bytes(mutated), 0.1)
    ivr.receive(INVITE[:cut], 0.2)
    ivr.tick(40.0)
    assert ivr.core.stats["call_errors"] == 0  # the core hangs a call up on an exception: this is how it shows


def test_a_failing_call_ends_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    ivr = Ivr()
    ivr.receive(INVITE, 0.0)
    other = INVITE.replace(b"core-1@", b"core-2@").replace(b"z9hG4bKinv1", b"z9hG4bKinv2")
    ivr.receive(other, 0.0)
    assert len(ivr.core.legs) == 2
    real_step = core_module.step

    def broken(state: CallState, event: Event) -> tuple[CallState, list[Action]]:
        if state.call_id == "core-1@127.0.0.1":
            raise RuntimeError("bug")
        return real_step(state, event)

    monkeypatch.setattr(core_module, "step", broken)
    tag = state_of(ivr.core, "core-1@127.0.0.1").dialog.local_tag
    ivr.receive(message("INFO", 2, to_tag=tag, branch="z9hG4bKi1"), 1.0)
    assert [leg.key[0] for leg in ivr.core.legs] == ["core-2@127.0.0.1"]
    assert ivr.core.stats["call_errors"] == 1
    assert any(o.call_id == "core-1@127.0.0.1" and isinstance(o.action, Terminated) for o in ivr.actions)
    bye = message("BYE", 2, branch="z9hG4bKb2").replace(b"core-1@", b"core-2@")
    assert first_lines(ivr.receive(bye, 2.0)) == ["SIP/2.0 200 OK"]  # the other call works on


BARESIP_SDP = (
    "v=0\r\no=- 1583906552 1581151987 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 20018 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n"
)
BARESIP_INVITE = (
    "INVITE sip:12345@127.0.0.1:5060 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK2b9a6b1cf1e2d3c4;rport\r\n"
    "Contact: <sip:caller-0x55d2c4@127.0.0.1:5062>\r\nMax-Forwards: 70\r\nTo: <sip:12345@127.0.0.1:5060>\r\n"
    "From: <sip:13800000000@127.0.0.1:5062>;tag=7d3e0b1a5c2f4e6a\r\nCall-ID: 1f2e3d4c5b6a7988\r\n"
    "CSeq: 27871 INVITE\r\nUser-Agent: baresip v1.0.0 (x86_64/linux)\r\n"
    "Allow: INVITE,ACK,BYE,CANCEL,OPTIONS,NOTIFY,SUBSCRIBE,INFO,MESSAGE,UPDATE\r\n"
    "Supported: replaces,norefersub\r\nContent-Type: application/sdp\r\n"
    f"Content-Length: {len(BARESIP_SDP)}\r\n\r\n{BARESIP_SDP}"
)
GOLDEN_TRYING = (
    "SIP/2.0 100 Trying\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK2b9a6b1cf1e2d3c4;rport=5062;received=127.0.0.1\r\n"
    "From: <sip:13800000000@127.0.0.1:5062>;tag=7d3e0b1a5c2f4e6a\r\nTo: <sip:12345@127.0.0.1:5060>\r\n"
    "Call-ID: 1f2e3d4c5b6a7988\r\nCSeq: 27871 INVITE\r\nContent-Length: 0\r\n\r\n"
)
GOLDEN_OK = (
    "SIP/2.0 200 OK\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK2b9a6b1cf1e2d3c4;rport=5062;received=127.0.0.1\r\n"
    "From: <sip:13800000000@127.0.0.1:5062>;tag=7d3e0b1a5c2f4e6a\r\nTo: <sip:12345@127.0.0.1:5060>;tag=f00dcafe0001\r\n"
    "Call-ID: 1f2e3d4c5b6a7988\r\nCSeq: 27871 INVITE\r\nContact: <sip:12345@127.0.0.1:5060>\r\n"
    "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, NOTIFY, UPDATE\r\nSupported: norefersub\r\n"
    "Content-Type: application/sdp\r\nContent-Length: 217\r\n\r\n"
    "v=0\r\no=hotline12345 424242 1 IN IP4 127.0.0.1\r\ns=hotline12345\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 30000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n"  # the events baresip offered
)


def test_golden_answer_to_a_baresip_invite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(core_module, "new_tag", lambda: "f00dcafe0001")
    core = UaCore(TimerConfig(), Registrar(IvrConfig()))
    outputs = core.receive(BARESIP_INVITE.encode(), PHONE, 0.0)
    wire = [o.data.decode() for o in outputs if isinstance(o, Transmit)]
    (new_call,) = [o for o in outputs if isinstance(o, NewCall)]
    media = LocalMedia("127.0.0.1", 30000, ("PCMU", "PCMA"), 101, 424242)
    outputs = core.start_uas(
        new_call.request,
        new_call.source,
        local_media=media,
        local_contact="<sip:12345@127.0.0.1:5060>",
        timers=Timers(),
        now=0.0,
    )
    wire += [o.data.decode() for o in outputs if isinstance(o, Transmit)]
    assert wire == [GOLDEN_TRYING, GOLDEN_OK]
