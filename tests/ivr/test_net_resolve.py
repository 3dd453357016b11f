"""RFC 3263 through the real shell (dnspython's asynchronous resolver) against a DNS server on loopback, and the
engine placing calls to SIP targets given by name (SRV failover, BYE to a Contact given by name).

LOOPBACK ONLY: every resolver here is configured with the loopback server alone (never the system resolver), and
each test asserts that every DNS question and every SIP message went to a loopback address.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from config.ivr import DnsSettings, IvrConfig, UpstreamRegistration
from ivr.app import Call, DialFailed, HangupEvent
from ivr.clock import VirtualClock
from ivr.engine.engine import Engine
from ivr.net.resolve import SipResolver
from ivr.sip import Request, make_response, parse_message
from ivr.sip.address import Endpoint
from tests.ivr.dnsserver import DnsSpy, LoopbackDns, dns_spy, zone

__all__ = ["dns_spy"]  # the fixture, imported for pytest

@pytest.fixture
def server() -> Iterator[LoopbackDns]:
    srv = LoopbackDns(zone(), "example.test.").start()
    yield srv
    srv.stop()



def ep(port: int, transport: str = "udp", host: str = "127.0.0.1") -> Endpoint:
    return Endpoint("tcp" if transport == "tcp" else "udp", host, port)


def test_naptr_srv_a_through_the_real_resolver_and_cache(server: LoopbackDns, dns_spy: DnsSpy) -> None:
    clock = VirtualClock()
    resolver = SipResolver([server.address], clock=clock.now)

    async def main() -> tuple[list[Endpoint], list[Endpoint]]:
        first = await resolver.targets("sip:agent@pbx.example.test")
        again = await resolver.targets("sip:agent@PBX.example.test")
        return first, again

    first, again = asyncio.run(main())
    assert first == [ep(5070), ep(5080)]  # SRV priority 10 (dead) before 20 (live)
    assert again == first
    assert server.asked() == [
        "pbx.example.test NAPTR",
        "_sip._udp.pbx.example.test SRV",
        "dead.pbx.example.test A",
        "dead.pbx.example.test AAAA",
        "live.pbx.example.test A",
        "live.pbx.example.test AAAA",
    ]  # the second resolution came from the cache
    assert asyncio.run(resolver.targets("sip:agent@pbx.example.test;transport=tcp")) == [ep(5080, "tcp")]
    dns_spy.check_loopback_only(server.port)


def test_ttl_expiry_asks_again_and_sees_the_change(server: LoopbackDns, dns_spy: DnsSpy) -> None:
    clock = VirtualClock()
    resolver = SipResolver([server.address], clock=clock.now, negative_ttl=100)
    assert asyncio.run(resolver.targets("sip:x@short.example.test:5090")) == [ep(5090, host="127.0.0.2")]
    server.replace_zone(zone().replace("short 2 IN A 127.0.0.2", "short 2 IN A 127.0.0.3"))
    clock.advance_to(1.9)
    assert asyncio.run(resolver.targets("sip:x@short.example.test:5090")) == [ep(5090, host="127.0.0.2")]
    assert server.asked("A") == ["short.example.test A"]
    clock.advance_to(2.0)  # the record's TTL (2 s) is over
    assert asyncio.run(resolver.targets("sip:x@short.example.test:5090")) == [ep(5090, host="127.0.0.3")]
    assert server.asked("A") == ["short.example.test A", "short.example.test A"]
    dns_spy.check_loopback_only(server.port)


def test_unknown_names_and_a_dead_dns_server_give_no_targets(server: LoopbackDns, dns_spy: DnsSpy) -> None:
    resolver = SipResolver([server.address], negative_ttl=30)
    assert asyncio.run(resolver.targets("sip:agent@nowhere.example.test")) == []
    assert asyncio.run(resolver.host("nowhere.example.test")) is None
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as hole:  # a "DNS server" that never answers
        hole.bind(("127.0.0.1", 0))
        silent = SipResolver([f"127.0.0.1:{hole.getsockname()[1]}"], timeout=0.3)
        assert asyncio.run(silent.targets("sip:agent@pbx.example.test")) == []
    assert all(where == "127.0.0.1" for where, _ in dns_spy.sent)


# ---------------------------------------------------------------------------------------------- end to end


async def wait_hangup(call: Call) -> None:
    while not isinstance(await call.next_event(), HangupEvent):
        pass


def spy_sends(engine: Engine) -> list[Endpoint]:
    assert engine.transports is not None
    transports = engine.transports
    sent: list[Endpoint] = []
    real = transports.send

    def send(data: bytes, dest: Endpoint) -> None:
        sent.append(dest)
        real(data, dest)

    transports.send = send  # type: ignore[method-assign]
    return sent


def loopback_config(dns_port: int, failover_timeout: float = 0.6, **kwargs: Any) -> IvrConfig:
    kwargs.setdefault("transports", ["udp"])
    return IvrConfig(
        host="127.0.0.1",
        port=0,
        dns=DnsSettings(nameservers=[f"127.0.0.1:{dns_port}"], timeout=1.0, failover_timeout=failover_timeout),
        **kwargs,
    )


def test_handoff_to_an_agent_by_name_fails_over_from_a_dead_srv_target(dns_spy: DnsSpy) -> None:
    """sip:agent@pbx.example.test: NAPTR -> SRV: the first target (priority 10) never answers, the second is a
    second in-process engine that answers; the call is established there within the dial timeout."""

    async def main() -> None:
        answered: list[Call] = []

        async def agent(call: Call) -> None:
            answered.append(call)
            await wait_hangup(call)

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as dead:
            dead.bind(("127.0.0.1", 0))  # a SIP server that is gone: it swallows every INVITE
            dead.setblocking(False)
            live = Engine(loopback_config(1), handler=agent)
            live_port = await live.start()
            srv = LoopbackDns(zone(dead=dead.getsockname()[1], live=live_port), "example.test.").start()
            ivr = Engine(loopback_config(srv.port))
            try:
                await ivr.start()
                sent = spy_sends(ivr)
                started = asyncio.get_running_loop().time()
                leg = await ivr.dial("sip:agent@pbx.example.test", caller_id="12345", timeout=5)
                took = asyncio.get_running_loop().time() - started
                assert answered and answered[0].called == "agent"
                assert 0.5 < took < 3.0  # the failover timeout (0.6 s), not Timer B (32 s)
                first = dead.recv(65535)  # the dead target was tried first
                assert first.startswith(b"INVITE sip:agent@pbx.example.test SIP/2.0")
                await leg.hangup()
                await asyncio.wait_for(wait_hangup(answered[0]), 3)
                assert {d.port for d in sent} >= {dead.getsockname()[1], live_port}
                assert all(d.host == "127.0.0.1" for d in sent), sent
                assert "pbx.example.test NAPTR" in srv.asked()
            finally:
                await ivr.stop(grace=0.5)
                await live.stop(grace=0.5)
                srv.stop()

    asyncio.run(main())
    assert dns_spy.sent and all(where == "127.0.0.1" for where, _ in dns_spy.sent)


def test_a_503_from_the_first_srv_target_fails_over_and_a_486_does_not(dns_spy: DnsSpy) -> None:
    """RFC 3263 §4.3: a 503 means "try the next target"; a busy agent (486) is an answer, given to the flow."""

    async def main() -> tuple[list[int], int]:
        answered: list[Call] = []

        async def agent(call: Call) -> None:
            answered.append(call)
            await wait_hangup(call)

        loop = asyncio.get_running_loop()
        refusing = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        refusing.bind(("127.0.0.1", 0))
        refusing.setblocking(False)
        status = [503]
        got: list[int] = []

        async def refuse() -> None:
            while True:
                data, source = await loop.sock_recvfrom(refusing, 65535)
                msg = parse_message(data)
                if isinstance(msg, Request) and msg.method == "INVITE":
                    got.append(status[0])
                    resp = make_response(msg, status[0], to_tag="busy")
                    await loop.sock_sendto(refusing, resp.to_bytes(), source)

        task = asyncio.ensure_future(refuse())
        live = Engine(loopback_config(1), handler=agent)
        live_port = await live.start()
        srv = LoopbackDns(zone(dead=refusing.getsockname()[1], live=live_port), "example.test.").start()
        ivr = Engine(loopback_config(srv.port, failover_timeout=10.0))
        try:
            await ivr.start()
            started = loop.time()
            leg = await ivr.dial("sip:agent@pbx.example.test", timeout=5)
            assert loop.time() - started < 2.0 and answered
            await leg.hangup()
            status[0] = 486
            with pytest.raises(DialFailed) as busy:
                await ivr.dial("sip:agent@pbx.example.test", timeout=5)
            return got, busy.value.status
        finally:
            task.cancel()
            refusing.close()
            await ivr.stop(grace=0.5)
            await live.stop(grace=0.5)
            srv.stop()

    got, busy = asyncio.run(main())
    assert got == [503, 486] and busy == 486
    assert dns_spy.sent and all(where == "127.0.0.1" for where, _ in dns_spy.sent)


def test_a_refused_tcp_connection_fails_over_at_once(dns_spy: DnsSpy) -> None:
    """sip:agent@tcp.example.test;transport=tcp: SRV of TCP; the first target refuses the connection, so the
    call moves on to the second at once (the failover timeout here, 10 s, is longer than the dial timeout)."""

    async def main() -> None:
        answered: list[Call] = []

        async def agent(call: Call) -> None:
            answered.append(call)
            await wait_hangup(call)

        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            refused = probe.getsockname()[1]  # closed again below: nothing listens there
        live = Engine(loopback_config(1, transports=["udp", "tcp"]), handler=agent)
        live_port = await live.start()
        srv = LoopbackDns(zone(dead=refused, live=live_port), "example.test.").start()
        ivr = Engine(loopback_config(srv.port, failover_timeout=10.0, transports=["udp", "tcp"]))
        try:
            await ivr.start()
            sent = spy_sends(ivr)
            started = asyncio.get_running_loop().time()
            leg = await ivr.dial("sip:agent@tcp.example.test;transport=tcp", timeout=5)
            assert asyncio.get_running_loop().time() - started < 2.0
            assert answered
            assert sent[0] == Endpoint("tcp", "127.0.0.1", refused) and Endpoint("tcp", "127.0.0.1", live_port) in sent
            await leg.hangup()
            await asyncio.wait_for(wait_hangup(answered[0]), 3)
            assert srv.asked("SRV") == ["_sip._tcp.tcp.example.test SRV"]
        finally:
            await ivr.stop(grace=0.5)
            await live.stop(grace=0.5)
            srv.stop()

    asyncio.run(main())
    assert dns_spy.sent and all(where == "127.0.0.1" for where, _ in dns_spy.sent)


def test_an_upstream_registrar_by_name_is_resolved_and_resolved_again(dns_spy: DnsSpy) -> None:
    async def main() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as one, \
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as two:
            one.bind(("127.0.0.1", 0))
            two.bind(("127.0.0.1", 0))
            p1, p2 = one.getsockname()[1], two.getsockname()[1]
            srv = LoopbackDns(zone(dead=p1, live=p2), "example.test.").start()
            upstream = UpstreamRegistration(enabled=True, registrar="sip:pbx.example.test", password="pw")
            ivr = Engine(loopback_config(srv.port, upstream=upstream))
            clock = VirtualClock()
            ivr.resolver.cache.clock = clock.now
            try:
                await ivr.start()
                assert ivr.upstream is not None
                assert ivr.upstream.targets == [ep(p1), ep(p2)]
                one.settimeout(2)
                assert one.recv(65535).startswith(b"REGISTER sip:pbx.example.test SIP/2.0")  # the best target
                srv.replace_zone(zone(dead=p2, live=p1))  # the PBX operator swaps the priorities
                await ivr.refresh_upstream_targets()
                assert ivr.upstream.targets == [ep(p1), ep(p2)]  # the TTL (60 s) still runs: from the cache
                clock.advance_to(60.0)
                await ivr.refresh_upstream_targets()
                assert ivr.upstream.targets == [ep(p2), ep(p1)] and ivr.upstream.dest == ep(p2)
            finally:
                await ivr.stop(grace=0.2)
                srv.stop()

    asyncio.run(main())
    assert dns_spy.sent and all(where == "127.0.0.1" for where, _ in dns_spy.sent)


def test_a_name_that_does_not_resolve_fails_the_dial_cleanly(server: LoopbackDns, dns_spy: DnsSpy,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> DialFailed:
        ivr = Engine(loopback_config(server.port))
        await ivr.start()
        try:
            with pytest.raises(DialFailed) as failed:
                await ivr.dial("sip:agent@nowhere.example.test", timeout=3)
            assert not ivr.calls
            return failed.value
        finally:
            await ivr.stop(grace=0.2)

    failure = asyncio.run(main())
    assert failure.status == 0 and "cannot resolve nowhere.example.test" in failure.reason
    assert any("cannot resolve" in r.getMessage() for r in caplog.records)
    dns_spy.check_loopback_only(server.port)


def test_bye_to_a_contact_given_by_name_is_resolved_and_sent(server: LoopbackDns, dns_spy: DnsSpy) -> None:
    """The agent's 200 names its Contact by host name (phone.example.test): the IVR's ACK and BYE get there
    (before: 'write() only accepts IP addresses, not hostnames')."""

    async def main() -> list[str]:
        phone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        phone.bind(("127.0.0.1", 0))
        phone.setblocking(False)
        port = phone.getsockname()[1]
        loop = asyncio.get_running_loop()
        seen: list[str] = []

        async def uas() -> None:
            while True:
                data, source = await loop.sock_recvfrom(phone, 65535)
                msg = parse_message(data)
                if not isinstance(msg, Request):
                    continue
                seen.append(msg.method)
                if msg.method in ("INVITE", "BYE"):
                    extra = [("Contact", f"<sip:agent@phone.example.test:{port}>")] if msg.method == "INVITE" else []
                    sdp = (b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
                           b"m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n") if msg.method == "INVITE" else b""
                    resp = make_response(msg, 200, to_tag="phonetag", headers=extra, body=sdp,
                                         content_type="application/sdp" if sdp else None)
                    await loop.sock_sendto(phone, resp.to_bytes(), source)
                if msg.method == "BYE":
                    return

        task = asyncio.ensure_future(uas())
        ivr = Engine(loopback_config(server.port))
        await ivr.start()
        try:
            sent = spy_sends(ivr)
            leg = await ivr.dial(f"sip:agent@127.0.0.1:{port}", timeout=3)
            await leg.hangup()
            await asyncio.wait_for(task, 3)
            assert all(d.host == "127.0.0.1" for d in sent), sent
            return seen
        finally:
            task.cancel()
            phone.close()
            await ivr.stop(grace=0.2)

    assert asyncio.run(main()) == ["INVITE", "ACK", "BYE"]
    assert server.asked() == ["phone.example.test A"]
    dns_spy.check_loopback_only(server.port)
