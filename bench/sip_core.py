"""Benchmark of the sans-IO SIP core: parse/serialise rate, and full calls through two transaction layers.

Run: ``.venv/bin/python bench/sip_core.py [--calls 300]``.  Prints figures; not a test.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ivr.sdp import LocalMedia, SdpNegotiator
from ivr.sip import Headers, Request, make_response, new_branch, new_tag, parse_message
from ivr.sip.dialog import Dialog, LocalEndpoint
from ivr.sip.events import AckReceived, Event, RequestReceived, ResponseReceived, Transmit
from ivr.sip.transaction import TransactionLayer

UAC = ("127.0.0.1", 5062)
UAS = ("127.0.0.1", 5060)
OFFER = SdpNegotiator(LocalMedia("127.0.0.1", 31000), session_id=1).offer()


def invite(i: int) -> Request:
    h = Headers()
    h.add("Via", f"SIP/2.0/UDP 127.0.0.1:5062;branch={new_branch()};rport")
    h.add("Max-Forwards", "70")
    h.add("From", f"<sip:caller{i}@127.0.0.1>;tag={new_tag()}")
    h.add("To", "<sip:12345@127.0.0.1>")
    h.add("Call-ID", f"bench-{i}@127.0.0.1")
    h.add("CSeq", "1 INVITE")
    h.add("Contact", "<sip:caller@127.0.0.1:5062>")
    h.add("User-Agent", "baresip v1.0.0 (x86_64/linux)")
    h.add("Allow", "INVITE,ACK,BYE,CANCEL,OPTIONS,NOTIFY,SUBSCRIBE,INFO,MESSAGE,UPDATE")
    h.add("Content-Type", "application/sdp")
    return Request("INVITE", "sip:12345@127.0.0.1:5060", h, OFFER)


def bench_parse(n: int) -> None:
    raw = invite(0).to_bytes()
    start = time.process_time()
    for _ in range(n):
        parse_message(raw)
    parse_s = time.process_time() - start
    msg = parse_message(raw)
    start = time.process_time()
    for _ in range(n):
        msg.to_bytes()
    ser_s = time.process_time() - start
    print(f"parse  {len(raw)}-byte INVITE: {n / parse_s:,.0f} msg/s ({parse_s / n * 1e6:.1f} us each)")
    print(f"serialise same INVITE:      {n / ser_s:,.0f} msg/s ({ser_s / n * 1e6:.1f} us each)")


def bench_calls(calls: int) -> None:
    """Every call: INVITE, 100, 200 (+SDP answer), ACK, BYE, 200 through UAC and UAS layers (bytes on the wire)."""
    uac, uas = TransactionLayer(), TransactionLayer()
    ep = LocalEndpoint("127.0.0.1", 5060)
    dialogs: dict[str, Dialog] = {}
    done = 0
    now = 0.0

    def deliver(src: tuple[str, int], events: list[Event]) -> None:
        nonlocal done
        for e in events:
            if isinstance(e, Transmit):
                target, dest_layer = (UAS, uas) if src == UAC else (UAC, uac)
                deliver(target, dest_layer.receive_bytes(e.data, src, now))
            elif isinstance(e, RequestReceived) and src == UAS:
                req = e.request
                if req.method == "INVITE":
                    tag = new_tag()
                    dialogs[req.call_id] = Dialog.from_uas(req, tag, ep)
                    answer = SdpNegotiator(LocalMedia("127.0.0.1", 40000)).answer(req.body)
                    ok = make_response(req, 200, to_tag=tag, body=answer, content_type="application/sdp",
                                       headers=[("Contact", "<sip:ivr@127.0.0.1:5060>")])
                    deliver(UAS, uas.send_response(ok, now, e.key))
                else:
                    deliver(UAS, uas.send_response(make_response(req, 200), now, e.key))
            elif isinstance(e, ResponseReceived) and src == UAC and e.response.is_success:
                if e.request.method == "INVITE":
                    d = Dialog.from_uac(e.request, e.response, LocalEndpoint("127.0.0.1", 5062))
                    deliver(UAC, uac.send_stateless(d.ack(1), UAS))
                    _, ev = uac.send_request(d.bye(), UAS, now)
                    deliver(UAC, ev)
                elif e.request.method == "BYE":
                    done += 1
            elif isinstance(e, AckReceived):
                pass

    start = time.process_time()
    for i in range(calls):
        _, events = uac.send_request(invite(i), UAS, now)
        deliver(UAC, events)
    cpu = time.process_time() - start
    print(f"{calls} full calls (INVITE..BYE, both ends, SDP): {done} completed, {cpu * 1000:.1f} ms CPU, "
          f"{cpu / calls * 1e6:.0f} us/call (both UAs), {calls / cpu:,.0f} calls/s on one core")
    start = time.process_time()
    t = 0.0
    while (nxt := min(x for x in (uac.next_timer(), uas.next_timer(), 1e9) if x is not None)) < 1e9:
        t = nxt
        uac.handle_timer(t)
        uas.handle_timer(t)
    cpu = time.process_time() - start
    left = len(uac) + len(uas)
    print(f"expiring {calls * 4} transactions (virtual {t:.1f} s): {cpu * 1000:.1f} ms CPU; left: {left}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--parse", type=int, default=5000)
    args = parser.parse_args()
    bench_parse(args.parse)
    for n in (50, 150, args.calls):
        bench_calls(n)


if __name__ == "__main__":
    main()
