"""RFC 3263 §4 locating a SIP server, sans-IO: which DNS questions to ask for a SIP URI and the ordered list of
targets (transport, address, port) that the answers give.  No sockets: the shell (:mod:`ivr.net.resolve`) asks.

:func:`procedure` is a generator: it yields a :class:`Query` (name, type) and is sent back the records found
(an empty list for NXDOMAIN / no data); it returns the targets, best first:

- a numeric host (or ``maddr``) is used as it is (port given or 5060/5061);
- a port given: A/AAAA of the host only;
- a ``transport`` parameter: the SRV records of that transport, else A/AAAA;
- otherwise NAPTR (services ``SIP+D2U``, ``SIP+D2T``, ``SIPS+D2T``; only ``SIPS+D2T`` for ``sips:``), their SRV
  replacements; without NAPTR the SRV records of each supported transport in turn; without SRV A/AAAA with
  UDP (``sip:``) or TLS (``sips:``) on the default port.

SRV records are ordered by priority and, within one priority, by weighted random selection (RFC 2782) with an
injectable ``random`` source; each SRV target's addresses follow in order (failover: RFC 3263 §4.3).
:class:`DnsCache` keeps answers (positive and negative) until their TTL runs out on an injected clock.
"""

from __future__ import annotations

import ipaddress
import random as _random
from collections.abc import Callable, Generator
from dataclasses import dataclass

from ivr.sip.errors import SipParseError
from ivr.sip.uri import parse_uri

DEFAULT_PORT = {"udp": 5060, "tcp": 5060, "tls": 5061}
NAPTR_SERVICE = {"SIP+D2U": "udp", "SIP+D2T": "tcp", "SIPS+D2T": "tls"}
SRV_PREFIX = {"udp": "_sip._udp", "tcp": "_sip._tcp", "tls": "_sips._tcp"}


@dataclass(frozen=True)
class Naptr:
    order: int
    preference: int
    flags: str
    service: str
    replacement: str


@dataclass(frozen=True)
class Srv:
    priority: int
    weight: int
    port: int
    target: str


@dataclass(frozen=True)
class Address:
    address: str


Record = Naptr | Srv | Address


@dataclass(frozen=True)
class Query:
    name: str  # without the trailing dot, lower case
    rdtype: str  # "NAPTR", "SRV", "A", "AAAA"


@dataclass(frozen=True)
class Target:
    """One place to send a request: ``transport`` is "udp", "tcp" or "tls"; ``host`` is an IP address."""

    transport: str
    host: str
    port: int


class ResolveError(ValueError):
    """The URI cannot name a SIP server (not sip:/sips:, no host)."""


Procedure = Generator[Query, list[Record], list[Target]]


def is_numeric(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _name(text: str) -> str:
    return text.rstrip(".").lower()


def procedure(
    uri: str,
    supported: tuple[str, ...] = ("udp", "tcp"),
    random: Callable[[], float] = _random.random,
) -> Procedure:
    """RFC 3263 §4.1/§4.2 for ``uri`` (a bare SIP URI): yields queries, returns the targets, best first, on the
    ``supported`` transports only (an empty list: nothing usable)."""
    try:
        parsed = parse_uri(uri)
    except SipParseError as exc:
        raise ResolveError(f"not a SIP URI: {uri!r}") from exc
    if parsed.scheme not in ("sip", "sips") or not parsed.host:
        raise ResolveError(f"not a SIP URI: {uri!r}")
    secure = parsed.scheme == "sips"
    maddr = parsed.params.get("maddr")
    host = _name(maddr or parsed.host).strip("[]")
    param = (parsed.params.get("transport") or "").lower()
    transport: str | None = None
    if param:
        transport = "tls" if secure or param == "tls" else param
    port = parsed.port
    if is_numeric(host) or port is not None:
        chosen = transport or ("tls" if secure else "udp")
        if chosen not in supported:
            return []
        target_port = port or DEFAULT_PORT.get(chosen, 5060)
        if is_numeric(host):
            return [Target(chosen, host, target_port)]
        return [Target(chosen, a, target_port) for a in (yield from _addresses(host))]
    if transport is not None:  # §4.2: the transport is known, SRV for it
        if transport not in supported:
            return []
        srvs = [r for r in (yield Query(f"{SRV_PREFIX.get(transport, '_sip._' + transport)}.{host}", "SRV"))
                if isinstance(r, Srv)]
        if srvs:
            return (yield from _srv_targets(transport, srvs, random))
        return [Target(transport, a, DEFAULT_PORT.get(transport, 5060)) for a in (yield from _addresses(host))]
    naptrs = sorted(
        (r for r in (yield Query(host, "NAPTR")) if isinstance(r, Naptr)),
        key=lambda n: (n.order, n.preference),
    )
    usable = [
        (NAPTR_SERVICE[n.service.upper()], n)
        for n in naptrs
        if n.flags.lower() == "s"
        and n.service.upper() in NAPTR_SERVICE
        and NAPTR_SERVICE[n.service.upper()] in supported
        and (not secure or n.service.upper() == "SIPS+D2T")
    ]
    for naptr_transport, naptr in usable:
        srvs = [r for r in (yield Query(_name(naptr.replacement), "SRV")) if isinstance(r, Srv)]
        if srvs:
            return (yield from _srv_targets(naptr_transport, srvs, random))
    if not naptrs:  # §4.1: no NAPTR: SRV of each supported transport, in our order of preference
        for candidate in ("tls",) if secure else supported:
            if candidate not in supported:
                continue
            srvs = [r for r in (yield Query(f"{SRV_PREFIX[candidate]}.{host}", "SRV")) if isinstance(r, Srv)]
            if srvs:
                return (yield from _srv_targets(candidate, srvs, random))
    elif usable:
        return []  # NAPTR pointed at SRV names without records: nothing else to try (§4.1)
    chosen = "tls" if secure else "udp"
    if chosen not in supported:
        return []
    return [Target(chosen, a, DEFAULT_PORT[chosen]) for a in (yield from _addresses(host))]


def _addresses(host: str) -> Generator[Query, list[Record], list[str]]:
    found: list[str] = []
    for rdtype in ("A", "AAAA"):
        found += [r.address for r in (yield Query(host, rdtype)) if isinstance(r, Address)]
    return found


def order_srv(records: list[Srv], random: Callable[[], float] = _random.random) -> list[Srv]:
    """RFC 2782: lowest priority first; within a priority, weighted random selection (weight 0 ones first in the
    running sum, so they are picked rarely but can be).  A lone target "." means no service."""
    usable = [r for r in records if _name(r.target) != ""]
    out: list[Srv] = []
    for priority in sorted({r.priority for r in usable}):
        group = sorted((r for r in usable if r.priority == priority), key=lambda r: r.weight)
        while group:
            total = sum(r.weight for r in group)
            pick = random() * total
            running = 0
            chosen = group[-1]
            for r in group:
                running += r.weight
                if running > pick or total == 0:
                    chosen = r
                    break
            group.remove(chosen)
            out.append(chosen)
    return out


def _srv_targets(transport: str, records: list[Srv], random: Callable[[], float]) -> Procedure:
    targets: list[Target] = []
    for srv in order_srv(records, random):
        name = _name(srv.target)
        addresses = [name] if is_numeric(name) else (yield from _addresses(name))
        targets += [Target(transport, a, srv.port) for a in addresses]
    return targets


@dataclass
class _Entry:
    records: list[Record]
    expires: float


class DnsCache:
    """Answers by (name, type) until their TTL runs out on ``clock``; empty answers for ``negative_ttl``."""

    def __init__(self, clock: Callable[[], float], negative_ttl: float = 30.0, max_entries: int = 10000) -> None:
        self.clock = clock
        self.negative_ttl = negative_ttl
        self.max_entries = max_entries
        self._entries: dict[Query, _Entry] = {}

    def get(self, query: Query) -> list[Record] | None:
        entry = self._entries.get(query)
        if entry is None:
            return None
        if self.clock() >= entry.expires:
            del self._entries[query]
            return None
        return entry.records

    def put(self, query: Query, records: list[Record], ttl: float | None) -> None:
        if len(self._entries) >= self.max_entries:
            now = self.clock()
            self._entries = {q: e for q, e in self._entries.items() if e.expires > now}
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
        life = self.negative_ttl if not records or ttl is None else ttl
        if life > 0:
            self._entries[query] = _Entry(records, self.clock() + life)


def run_cached(proc: Procedure, cache: DnsCache, answer: Callable[[Query], tuple[list[Record], float | None]]
               ) -> list[Target]:
    """Drive ``proc`` synchronously with ``answer`` (tests; canned answers), through ``cache``."""
    try:
        query = next(proc)
        while True:
            records = cache.get(query)
            if records is None:
                records, ttl = answer(query)
                cache.put(query, records, ttl)
            query = proc.send(records)
    except StopIteration as stop:
        result: list[Target] = stop.value
        return result
