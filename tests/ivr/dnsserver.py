"""A small authoritative DNS server on loopback for tests (UDP, one thread): serves a zone given as text.

Every question it gets is kept in ``questions`` (name, type, source), so a test can tell what was asked.
:data:`ZONE` is the test zone (``example.test``), and the ``dns_spy`` fixture records where dnspython sends each
query, so a test can assert that only the loopback server was asked.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

import dns.asyncquery
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.zone
import pytest


class LoopbackDns:
    def __init__(self, zone_text: str, origin: str) -> None:
        self.zone = dns.zone.from_text(zone_text, origin=origin, relativize=False)
        self.origin = dns.name.from_text(origin)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.questions: list[tuple[str, str, tuple[str, int]]] = []
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="loopback-dns", daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> LoopbackDns:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()

    def replace_zone(self, zone_text: str) -> None:
        with self.lock:
            self.zone = dns.zone.from_text(zone_text, origin=self.origin, relativize=False)

    def asked(self, rdtype: str | None = None) -> list[str]:
        with self.lock:
            return [f"{n} {t}" for n, t, _ in self.questions if rdtype is None or t == rdtype]

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, source = self.sock.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            try:
                query = dns.message.from_wire(data)
            except Exception:
                continue
            self.sock.sendto(self._answer(query, source).to_wire(), source)

    def _answer(self, query: dns.message.Message, source: tuple[str, int]) -> dns.message.Message:
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        with self.lock:
            self.questions.append((question.name.to_text().rstrip(".").lower(), dns.rdatatype.to_text(question.rdtype),
                                   source))
            zone = self.zone
        if not question.name.is_subdomain(self.origin):
            response.set_rcode(dns.rcode.REFUSED)
            return response
        node = zone.get_node(question.name)
        if node is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
        else:
            rdataset = node.get_rdataset(dns.rdataclass.IN, question.rdtype)
            if rdataset is not None:
                rrset = response.find_rrset(response.answer, question.name, dns.rdataclass.IN, question.rdtype,
                                            create=True)
                rrset.update(rdataset)
        if not response.answer:  # NXDOMAIN / NODATA: the SOA, for negative caching
            soa = zone.get_rdataset(self.origin, dns.rdatatype.SOA)
            if soa is not None:
                rrset = response.find_rrset(response.authority, self.origin, dns.rdataclass.IN, dns.rdatatype.SOA,
                                            create=True)
                rrset.update(soa)
        return response


ZONE = """
$TTL 60
@ IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 5
@ IN NS ns.example.test.
ns IN A 127.0.0.1
pbx IN NAPTR 10 50 "s" "SIP+D2U" "" _sip._udp.pbx.example.test.
pbx IN NAPTR 20 50 "s" "SIP+D2T" "" _sip._tcp.pbx.example.test.
_sip._udp.pbx IN SRV 10 0 {dead} dead.pbx.example.test.
_sip._udp.pbx IN SRV 20 0 {live} live.pbx.example.test.
_sip._tcp.pbx IN SRV 10 0 {live} live.pbx.example.test.
_sip._tcp.tcp IN SRV 10 0 {dead} dead.pbx.example.test.
_sip._tcp.tcp IN SRV 20 0 {live} live.pbx.example.test.
dead.pbx IN A 127.0.0.1
live.pbx IN A 127.0.0.1
phone IN A 127.0.0.1
short 2 IN A 127.0.0.2
"""


def zone(dead: int = 5070, live: int = 5080) -> str:
    return ZONE.format(dead=dead, live=live)


class DnsSpy:
    """Every DNS query dnspython sends: (where, port)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int]] = []

    def check_loopback_only(self, port: int) -> None:
        assert self.sent, "no DNS query was sent"
        assert all(where == "127.0.0.1" and p == port for where, p in self.sent), self.sent


@pytest.fixture
def dns_spy(monkeypatch: pytest.MonkeyPatch) -> DnsSpy:
    spy = DnsSpy()
    for name in ("udp", "tcp", "https", "tls", "quic"):
        real = getattr(dns.asyncquery, name)

        def wrapped(q: Any, where: str, *args: Any, _real: Any = real, **kwargs: Any) -> Any:
            spy.sent.append((where, int(kwargs.get("port", 53))))
            return _real(q, where, *args, **kwargs)

        monkeypatch.setattr(dns.asyncquery, name, wrapped)
    return spy
