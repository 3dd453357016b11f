"""RFC 3263 with a real SIPp as the PBX, found through a DNS server on loopback (tests/ivr/dnsserver.py).

The PBX is ``pbx.example.test``: NAPTR -> SRV, whose first target (priority 10) is dead (a socket that never
answers), the second SIPp.  Loopback only: the engine's resolver asks only the loopback server, and every DNS
question and SIP message is checked to go to 127.0.0.1.
"""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from config.ivr import DnsSettings, IvrConfig, Timers, UpstreamRegistration
from tests.ivr.dnsserver import DnsSpy, LoopbackDns, dns_spy, zone
from tests.ivr.peers.fixtures import Ivr
from tests.ivr.peers.harness import SippServer, wait_until

__all__ = ["dns_spy"]  # the fixture, imported for pytest

pytestmark = [pytest.mark.peers, pytest.mark.skipif(shutil.which("sipp") is None, reason="needs sipp")]


def ivr_config(dns_port: int, **kwargs: object) -> IvrConfig:
    return IvrConfig(
        host="127.0.0.1",
        port=0,
        transports=["udp"],
        dns=DnsSettings(nameservers=[f"127.0.0.1:{dns_port}"], timeout=1.0, failover_timeout=1.0),
        **kwargs,  # type: ignore[arg-type]
    )


def test_call_to_a_pbx_by_name_fails_over_to_sipp(tmp_path: Path, dns_spy: DnsSpy) -> None:
    pbx = SippServer("pbx_call.xml", tmp_path, timeout=20)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as dead:
        dead.bind(("127.0.0.1", 0))
        dead.settimeout(0)
        srv = LoopbackDns(zone(dead=dead.getsockname()[1], live=pbx.port), "example.test.").start()
        credentials = UpstreamRegistration(enabled=False, username="12345", password="pbx-pw")
        server = Ivr(config=ivr_config(srv.port, upstream=credentials)).start()
        try:

            async def call() -> str:
                leg = await server.engine.dial("sip:agent@pbx.example.test", timeout=10)
                codec = leg.media.codec.name  # type: ignore[attr-defined]
                await leg.hangup()
                return str(codec)

            assert server.runner.run(call()) == "PCMA"
            result = pbx.wait()  # 401, verified Authorization, 200, ACK, BYE
            assert result.ok, result.stderr + result.messages
            assert dead.recv(65535).startswith(b"INVITE sip:agent@pbx.example.test SIP/2.0")  # tried first
            assert "_sip._udp.pbx.example.test SRV" in srv.asked()
        finally:
            server.stop()
            pbx.stop()
            srv.stop()
    dns_spy.check_loopback_only(srv.port)


def test_registration_to_a_pbx_by_name_fails_over_to_sipp(tmp_path: Path, dns_spy: DnsSpy) -> None:
    pbx = SippServer("registrar_server.xml", tmp_path, timeout=25)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as dead:
        dead.bind(("127.0.0.1", 0))
        dead.settimeout(0)
        srv = LoopbackDns(zone(dead=dead.getsockname()[1], live=pbx.port), "example.test.").start()
        upstream = UpstreamRegistration(
            enabled=True, registrar="sip:pbx.example.test", aor="sip:12345@pbx.example.test", username="12345",
            password="pbx-pw", expires=60,
        )
        # T1 0.05 s: Timer F on the dead target fires after 3.2 s, then the REGISTER goes to SIPp
        server = Ivr(config=ivr_config(srv.port, upstream=upstream, timers=Timers(t1=0.05, t2=4.0))).start()
        try:
            result = pbx.wait()  # challenge, verified digest, 2 s grant, refresh, challenge, verified, 60 s
            assert result.ok, result.stderr + result.messages
            wait_until(
                lambda: server.runner.call(lambda: server.engine.upstream.granted) == 60,  # type: ignore[union-attr]
                5,
                what="the refreshed registration",
            )
            assert dead.recv(65535).startswith(b"REGISTER sip:pbx.example.test SIP/2.0")  # tried first
        finally:
            server.stop()
            pbx.stop()
            srv.stop()
    dns_spy.check_loopback_only(srv.port)
