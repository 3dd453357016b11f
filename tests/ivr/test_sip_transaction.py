"""Transaction layer: two endpoints wired through a lossy in-memory network on virtual time."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from ivr.sip import Headers, Request, Response, make_response, new_branch, parse_message
from ivr.sip.events import (
    AckReceived,
    Address,
    CancelReceived,
    Event,
    MessageDropped,
    RequestReceived,
    ResponseReceived,
    TransactionTerminated,
    TransactionTimedOut,
    Transmit,
)
from ivr.sip.transaction import TransactionLayer
from ivr.sip.tx_client import build_cancel
from ivr.sip.tx_common import TimerConfig

A: Address = ("10.0.0.1", 5062)
B: Address = ("10.0.0.2", 5060)
T1 = 0.5


@dataclass
class Sent:
    time: float
    src: Address
    dest: Address
    data: bytes
    dropped: bool

    @property
    def first_line(self) -> str:
        return self.data.split(b"\r\n", 1)[0].decode()


@dataclass
class Node:
    addr: Address
    layer: TransactionLayer
    tu: Callable[[Node, Event], list[Event]] = lambda node, event: []
    events: list[tuple[float, Event]] = field(default_factory=list)


class VirtualNetwork:
    """Delivers datagrams after ``latency`` virtual seconds; ``drop`` decides losses per packet."""

    def __init__(self, latency: float = 0.01) -> None:
        self.now = 0.0
        self.latency = latency
        self.nodes: dict[Address, Node] = {}
        self.queue: list[tuple[float, int, Address, Address, bytes]] = []
        self.sent: list[Sent] = []
        self.drop: Callable[[Sent], bool] = lambda s: False
        self._seq = 0

    def add(self, node: Node) -> Node:
        self.nodes[node.addr] = node
        return node

    def handle(self, node: Node, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, Transmit):
                sent = Sent(self.now, node.addr, event.dest, event.data, False)
                sent.dropped = self.drop(sent)
                self.sent.append(sent)
                if not sent.dropped:
                    self._seq += 1
                    heapq.heappush(self.queue, (self.now + self.latency, self._seq, event.dest, node.addr, event.data))
            else:
                node.events.append((self.now, event))
                self.handle(node, node.tu(node, event))

    def run(self, until: float) -> None:
        while True:
            times = [t for n in self.nodes.values() if (t := n.layer.next_timer()) is not None]
            if self.queue:
                times.append(self.queue[0][0])
            if not times or min(times) > until:
                self.now = until
                return
            self.now = min(times)
            if self.queue and self.queue[0][0] == self.now:
                _, _, dest, src, data = heapq.heappop(self.queue)
                node = self.nodes[dest]
                self.handle(node, node.layer.receive_bytes(data, src, self.now))
            for node in self.nodes.values():
                self.handle(node, node.layer.handle_timer(self.now))

    def sent_by(self, addr: Address, prefix: str) -> list[Sent]:
        return [s for s in self.sent if s.src == addr and s.first_line.startswith(prefix)]


def invite(method: str = "INVITE", branch: str | None = None, cseq: int = 1, call_id: str = "c1@a") -> Request:
    headers = Headers()
    headers.add("Via", f"SIP/2.0/UDP {A[0]}:{A[1]};branch={branch or new_branch()};rport")
    headers.add("From", f"<sip:caller@{A[0]}>;tag=fa")
    headers.add("To", f"<sip:12345@{B[0]}>")
    headers.add("Call-ID", call_id)
    headers.add("CSeq", f"{cseq} {method}")
    headers.add("Contact", f"<sip:caller@{A[0]}:{A[1]}>")
    headers.add("Max-Forwards", "70")
    return Request(method=method, uri=f"sip:12345@{B[0]}:{B[1]}", headers=headers)


def ack_for_2xx(inv: Request, resp: Response) -> Request:
    headers = Headers()
    headers.add("Via", f"SIP/2.0/UDP {A[0]}:{A[1]};branch={new_branch()};rport")
    headers.add("From", inv.headers.get("From") or "")
    headers.add("To", resp.headers.get("To") or "")
    headers.add("Call-ID", inv.call_id)
    headers.add("CSeq", f"{inv.cseq[0]} ACK")
    return Request(method="ACK", uri=inv.uri, headers=headers)


def uac_tu(node: Node, event: Event) -> list[Event]:
    """Caller: ACKs every 2xx to an INVITE (also retransmitted ones), as RFC 3261 §13.2.2.4 requires."""
    if isinstance(event, ResponseReceived) and event.request.method == "INVITE" and event.response.is_success:
        return node.layer.send_stateless(ack_for_2xx(event.request, event.response), B)
    return []


def uas_answering(net: VirtualNetwork, status: int) -> Callable[[Node, Event], list[Event]]:
    def tu(node: Node, event: Event) -> list[Event]:
        if isinstance(event, RequestReceived):
            return node.layer.send_response(make_response(event.request, status, to_tag="tb"), net.now)
        return []

    return tu


@pytest.fixture
def net() -> VirtualNetwork:
    return VirtualNetwork()


def two_nodes(net: VirtualNetwork, uas: Callable[[Node, Event], list[Event]], **config: float | None) -> tuple[
    Node, Node
]:
    cfg = TimerConfig(t1=T1, **config)  # type: ignore[arg-type]
    a = net.add(Node(A, TransactionLayer(cfg), uac_tu))
    b = net.add(Node(B, TransactionLayer(cfg), uas))
    return a, b


def kinds(node: Node, kind: type) -> list[tuple[float, Event]]:
    return [(t, e) for t, e in node.events if isinstance(e, kind)]


def test_lost_200_and_ack_are_retransmitted_until_ack(net: VirtualNetwork) -> None:
    a, b = two_nodes(net, uas_answering(net, 200))
    seen = {"200": 0, "ACK": 0}

    def drop(sent: Sent) -> bool:
        for name in seen:
            if (sent.first_line.startswith("SIP/2.0 200") and name == "200") or sent.first_line.startswith(name):
                seen[name] += 1
                return seen[name] == 1
        return False

    net.drop = drop
    inv = invite()
    _, events = a.layer.send_request(inv, B, net.now)
    net.handle(a, events)
    net.run(until=40.0)
    oks = net.sent_by(B, "SIP/2.0 200")
    # 200 at receipt (0.01), again at +T1 and +3*T1 (T1 doubling), then never again after the ACK.
    assert [round(s.time, 3) for s in oks] == [0.01, 0.51, 1.51]
    assert len({s.data for s in oks}) == 1
    assert [round(s.time, 3) for s in net.sent_by(A, "ACK")] == [0.52, 1.52]
    acks = kinds(b, AckReceived)
    assert len(acks) == 1 and round(acks[0][0], 3) == 1.53
    assert kinds(b, TransactionTimedOut) == [] and kinds(a, TransactionTimedOut) == []
    assert len(net.sent_by(A, "INVITE")) == 1  # the 100 Trying stopped Timer A
    assert len(kinds(a, ResponseReceived)) == 3  # 100, 200, retransmitted 200
    assert len(a.layer) == 0 and len(b.layer) == 0  # all transactions ended by virtual t=40


def test_retransmitted_invite_gets_same_final_response_never_481(net: VirtualNetwork) -> None:
    a, b = two_nodes(net, uas_answering(net, 486), trying_delay=None)
    first_486 = [True]

    def drop(sent: Sent) -> bool:
        if sent.first_line.startswith("SIP/2.0 486") and first_486[0]:
            first_486[0] = False
            return True
        return False

    net.drop = drop
    _, events = a.layer.send_request(invite(), B, net.now)
    net.handle(a, events)
    net.run(until=40.0)
    invites = net.sent_by(A, "INVITE")
    assert [round(s.time, 3) for s in invites] == [0.0, 0.5]  # Timer A fired once
    busy = net.sent_by(B, "SIP/2.0 486")
    assert len(busy) >= 2 and len({s.data for s in busy}) == 1
    assert round(busy[1].time, 3) == 0.51  # answer to the retransmitted INVITE, before Timer G
    assert not net.sent_by(B, "SIP/2.0 481")
    assert len(kinds(b, RequestReceived)) == 1
    assert len(net.sent_by(A, "ACK")) == len([s for s in busy if not s.dropped])  # ICT ACKs each 486
    assert [e.response.status for _, e in kinds(a, ResponseReceived)] == [486]  # type: ignore[attr-defined]
    assert kinds(b, TransactionTimedOut) == []


def test_invite_retransmission_in_accepted_state_resends_2xx(net: VirtualNetwork) -> None:
    a, _b = two_nodes(net, uas_answering(net, 200), trying_delay=None)
    net.drop = lambda s: s.first_line.startswith("SIP/2.0 200") and s.time < 0.1
    _, events = a.layer.send_request(invite(), B, net.now)
    net.handle(a, events)
    net.run(until=0.6)
    oks = net.sent_by(B, "SIP/2.0 200")
    # INVITE retransmitted at 0.5 arrives at 0.51 == Timer 2xx; both paths resend the same bytes
    assert len(oks) >= 2 and len({s.data for s in oks}) == 1
    assert not net.sent_by(B, "SIP/2.0 481")


def test_timer_b_times_out_invite_to_black_hole(net: VirtualNetwork) -> None:
    a, _ = two_nodes(net, uas_answering(net, 200))
    net.drop = lambda s: True
    _, events = a.layer.send_request(invite(), B, net.now)
    net.handle(a, events)
    net.run(until=100.0)
    assert [s.time for s in net.sent_by(A, "INVITE")] == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    timeouts = kinds(a, TransactionTimedOut)
    assert [(t, e.timer) for t, e in timeouts] == [(32.0, "B")]  # type: ignore[attr-defined]
    assert len(a.layer) == 0 and a.layer.next_timer() is None


def test_timer_f_times_out_options_with_t2_cap(net: VirtualNetwork) -> None:
    a, _ = two_nodes(net, uas_answering(net, 200))
    net.drop = lambda s: True
    _, events = a.layer.send_request(invite("OPTIONS"), B, net.now)
    net.handle(a, events)
    net.run(until=100.0)
    assert [s.time for s in net.sent_by(A, "OPTIONS")] == [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5,
                                                            27.5, 31.5]
    assert [(t, e.timer) for t, e in kinds(a, TransactionTimedOut)] == [(32.0, "F")]  # type: ignore[attr-defined]


def test_timer_h_and_l_when_acks_never_arrive(net: VirtualNetwork) -> None:
    for status, timer in ((486, "H"), (200, "L")):
        net = VirtualNetwork()
        a, b = two_nodes(net, uas_answering(net, status))
        net.drop = lambda s: s.first_line.startswith("ACK")
        _, events = a.layer.send_request(invite(), B, net.now)
        net.handle(a, events)
        net.run(until=100.0)
        finals = net.sent_by(B, f"SIP/2.0 {status}")
        gaps = [round(y.time - x.time, 3) for x, y in itertools.pairwise(finals)]
        assert gaps[:4] == [0.5, 1.0, 2.0, 4.0] and set(gaps[4:]) == {4.0}  # T1 doubling, capped at T2
        assert [(round(t, 2), e.timer) for t, e in kinds(b, TransactionTimedOut)] == [  # type: ignore[attr-defined]
            (32.01, timer)
        ]
        assert len(b.layer) == 0


def test_cancel_gets_200_and_invite_487_acked_by_client(net: VirtualNetwork) -> None:
    def uas(node: Node, event: Event) -> list[Event]:
        if isinstance(event, RequestReceived):
            return node.layer.send_response(make_response(event.request, 180, to_tag="tb"), net.now)
        if isinstance(event, CancelReceived):
            return node.layer.send_response(make_response(event.invite, 487, to_tag="tb"), net.now, event.invite_key)
        return []

    a, b = two_nodes(net, uas)
    inv = invite()
    _, events = a.layer.send_request(inv, B, net.now)
    net.handle(a, events)
    net.run(until=1.0)
    _, events = a.layer.send_request(build_cancel(inv), B, net.now)
    net.handle(a, events)
    net.run(until=60.0)
    statuses = [(e.request.method, e.response.status) for _, e in kinds(a, ResponseReceived)]  # type: ignore[attr-defined]
    assert statuses == [("INVITE", 100), ("INVITE", 180), ("CANCEL", 200), ("INVITE", 487)]
    assert len(kinds(b, CancelReceived)) == 1
    assert net.sent_by(A, "ACK") and kinds(b, TransactionTimedOut) == []
    ok_cancel = parse_message(net.sent_by(B, "SIP/2.0 200")[0].data)
    assert ok_cancel.cseq[1] == "CANCEL" and ok_cancel.to_tag == "tb"


def test_cancel_without_invite_gets_481_and_late_cancel_no_event() -> None:
    layer = TransactionLayer()
    events = layer.receive(invite("CANCEL"), A, 0.0)
    assert [parse_message(e.data).status for e in events if isinstance(e, Transmit)] == [481]  # type: ignore[union-attr]
    inv = invite(branch="z9hG4bKlate")
    events = layer.receive(inv, A, 0.0)
    layer.send_response(make_response(inv, 200, to_tag="x"), 0.1)
    cancel = invite("CANCEL", branch="z9hG4bKlate")
    events = layer.receive(cancel, A, 0.2)
    assert not any(isinstance(e, CancelReceived) for e in events)
    assert [parse_message(e.data).status for e in events if isinstance(e, Transmit)] == [200]  # type: ignore[union-attr]


def test_responses_routed_by_via_received_rport() -> None:
    layer = TransactionLayer()
    nat_source = ("203.0.113.7", 40123)
    req = invite("OPTIONS")
    events = layer.receive(req, nat_source, 0.0)
    assert isinstance(events[0], RequestReceived)
    stamped = events[0].request.top_via
    assert stamped.received == "203.0.113.7" and stamped.rport == 40123
    out = layer.send_response(make_response(req, 200, to_tag="t"), 0.0)
    assert isinstance(out[0], Transmit) and out[0].dest == nat_source
    assert b";rport=40123;received=203.0.113.7\r\n" in out[0].data
    # No rport: the sent-by port, the received address.
    req2 = invite("OPTIONS")
    req2.headers.set("Via", "SIP/2.0/UDP 192.168.1.9:5070;branch=z9hG4bKnorport")
    layer.receive(req2, nat_source, 0.0)
    out = layer.send_response(make_response(req2, 200), 0.0)
    assert out[0].dest == ("203.0.113.7", 5070)  # type: ignore[union-attr]
    # Stream transports answer over the connection the request came on.
    req3 = invite("OPTIONS")
    layer.receive(req3, ("198.51.100.2", 51000), 0.0, "TCP")
    out = layer.send_response(make_response(req3, 200), 0.0)
    assert out[0] == Transmit(out[0].data, ("198.51.100.2", 51000), "TCP")  # type: ignore[union-attr]
    assert layer.next_timer() is not None


def test_malformed_request_answered_with_400_reason() -> None:
    layer = TransactionLayer()
    raw = invite("OPTIONS").to_bytes().replace(b"CSeq: 1 OPTIONS", b"CSeq: 1 INVITE")
    events = layer.receive_bytes(raw, ("192.0.2.50", 5099), 0.0)
    dropped = [e for e in events if isinstance(e, MessageDropped)]
    sent = [e for e in events if isinstance(e, Transmit)]
    assert dropped[0].reason == "CSeq method does not match request method"
    assert sent[0].dest == ("192.0.2.50", 5099)
    assert sent[0].data.startswith(b"SIP/2.0 400 CSeq method does not match request method\r\n")
    assert layer.receive_bytes(b"\x16\x03\x01garbage", ("192.0.2.50", 5099), 0.0) == [
        MessageDropped("Malformed request line", ("192.0.2.50", 5099))
    ]
    assert layer.stats["parse_errors"] == 2 and len(layer) == 0


def test_delayed_trying_only_when_tu_is_slow() -> None:
    layer = TransactionLayer(TimerConfig(trying_delay=0.2))
    slow = invite()
    events = layer.receive(slow, A, 0.0)
    assert not any(isinstance(e, Transmit) for e in events) and layer.next_timer() == 0.2
    events = layer.handle_timer(0.2)
    assert [e.data.split(b"\r\n")[0] for e in events if isinstance(e, Transmit)] == [b"SIP/2.0 100 Trying"]
    fast = invite(call_id="c2@a")
    layer.receive(fast, A, 1.0)
    layer.send_response(make_response(fast, 180, to_tag="t"), 1.1)
    assert not [e for e in layer.handle_timer(1.3) if isinstance(e, Transmit)]


def test_rfc2543_peer_matching_without_magic_cookie() -> None:
    layer = TransactionLayer()
    old = invite(branch="oldstyle1")
    old.headers.set("Via", f"SIP/2.0/UDP {A[0]}:{A[1]}")
    first = layer.receive(old, A, 0.0)
    assert any(isinstance(e, RequestReceived) for e in first)
    layer.send_response(make_response(old, 603, to_tag="t"), 0.1)
    again = invite()
    again.headers.set("Via", f"SIP/2.0/UDP {A[0]}:{A[1]}")
    retrans = layer.receive(again, A, 0.2)
    assert [parse_message(e.data).status for e in retrans if isinstance(e, Transmit)] == [603]  # type: ignore[union-attr]
    ack = invite("ACK")
    ack.headers.set("Via", f"SIP/2.0/UDP {A[0]}:{A[1]}")
    ack.headers.set("CSeq", "1 ACK")
    assert layer.receive(ack, A, 0.3) == []
    assert layer.server[next(iter(layer.server))].state == "confirmed"
    events = layer.handle_timer(10.0)
    assert any(isinstance(e, TransactionTerminated) for e in events) and len(layer) == 0


def test_non_invite_server_absorbs_retransmissions_then_timer_j() -> None:
    layer = TransactionLayer()
    opt = invite("OPTIONS", branch="z9hG4bKopt")
    layer.receive(opt, A, 0.0)
    assert layer.receive(invite("OPTIONS", branch="z9hG4bKopt"), A, 0.1) == []  # trying: absorbed silently
    first = layer.send_response(make_response(opt, 200, to_tag="t"), 0.2)
    again = layer.receive(invite("OPTIONS", branch="z9hG4bKopt"), A, 0.3)
    assert again == first and len(first) == 1
    key = next(iter(layer.server))
    assert layer.handle_timer(0.2 + 64 * 0.5 - 0.01) == []
    assert layer.handle_timer(0.2 + 64 * 0.5) == [TransactionTerminated(key)]
    assert len(layer) == 0


def test_client_drops_responses_with_two_vias_and_unknown_branches() -> None:
    layer = TransactionLayer()
    req = invite("OPTIONS")
    key, _ = layer.send_request(req, B, 0.0)
    two_vias = make_response(req, 200)
    two_vias.headers.add("Via", "SIP/2.0/UDP proxy.example;branch=z9hG4bKp")
    assert layer.receive(parse_message(two_vias.to_bytes()), B, 0.1) == [
        MessageDropped("response with more than one Via", B)
    ]
    other = make_response(invite("OPTIONS"), 200)
    assert layer.receive(other, B, 0.1) == [MessageDropped("stray response", B)]
    good = layer.receive(make_response(req, 200), B, 0.2)
    assert [type(e) for e in good] == [ResponseReceived] and good[0].key == key  # type: ignore[union-attr]
