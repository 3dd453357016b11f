"""The I/O shell of RFC 3263 resolution: asks DNS (dnspython's asynchronous resolver) what the pure procedure
(:mod:`ivr.sip.resolve`) wants to know, through a TTL cache.

``nameservers`` empty means the system resolver (``/etc/resolv.conf``); otherwise only the servers given
(``host`` or ``host:port``) are asked.  A DNS failure (timeout, SERVFAIL, no server) counts as no records: the
procedure then ends with fewer targets or none, and the caller fails that request cleanly.
"""

from __future__ import annotations

import asyncio
import logging
import random as _random
import time
from collections.abc import Callable, Sequence

import dns.asyncresolver
import dns.exception
import dns.rdatatype
import dns.resolver

from ivr.sip.address import Endpoint, transport_name
from ivr.sip.resolve import (
    Address,
    DnsCache,
    Naptr,
    Query,
    Record,
    ResolveError,
    Srv,
    Target,
    is_numeric,
    procedure,
)

log = logging.getLogger(__name__)

__all__ = ["SipResolver"]


def _split(server: str) -> tuple[str, int | None]:
    if server.startswith("["):
        host, _, rest = server[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else None
    if server.count(":") == 1:
        host, _, port = server.partition(":")
        return host, int(port)
    return server, None


class SipResolver:
    """RFC 3263 targets of a SIP URI as :class:`Endpoint` lists (UDP/TCP only: TLS targets are skipped)."""

    def __init__(
        self,
        nameservers: Sequence[str] = (),
        *,
        timeout: float = 2.0,
        negative_ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        random: Callable[[], float] = _random.random,
        supported: tuple[str, ...] = ("udp", "tcp", "tls"),
    ) -> None:
        self.supported = supported
        self.random = random
        self.cache = DnsCache(clock, negative_ttl)
        self.queries = 0  # questions sent to DNS (cache misses)
        self._pending: dict[Query, asyncio.Future[list[Record]]] = {}
        if nameservers:
            resolver = dns.asyncresolver.Resolver(configure=False)
            hosts = [_split(s) for s in nameservers]
            resolver.nameservers = [h for h, _ in hosts]
            ports = {p for _, p in hosts if p is not None}
            if len(ports) > 1:
                raise ValueError("dns.nameservers: one port for all servers")
            if ports:
                resolver.port = ports.pop()
        else:
            try:
                resolver = dns.asyncresolver.Resolver()
            except dns.resolver.NoResolverConfiguration as exc:  # no /etc/resolv.conf: names do not resolve
                log.warning("no system DNS configuration (%s); set dns.nameservers to resolve SIP targets by name", exc)
                resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.lifetime = timeout
        resolver.timeout = timeout
        self.resolver = resolver

    async def targets(self, uri: str) -> list[Endpoint]:
        """The places to send a request for ``uri`` to, best first (empty: it cannot be resolved)."""
        try:
            proc = procedure(uri, self.supported, self.random)
            query = next(proc)
            while True:
                query = proc.send(await self.lookup(query))
        except StopIteration as stop:
            found: list[Target] = stop.value
        except ResolveError as exc:
            log.warning("cannot resolve %s: %s", uri, exc)
            return []
        return [Endpoint(transport_name(t.transport), t.host, t.port)
                for t in found if t.transport in ("udp", "tcp", "tls")]

    async def host(self, name: str) -> str | None:
        """First address of a host name (A, then AAAA); ``name`` itself when numeric."""
        if is_numeric(name):
            return name
        for rdtype in ("A", "AAAA"):
            records = await self.lookup(Query(name.rstrip(".").lower(), rdtype))
            for r in records:
                if isinstance(r, Address):
                    return r.address
        return None

    async def lookup(self, query: Query) -> list[Record]:
        """The records for ``query``: from the cache, from a question already on its way, or asked now."""
        cached = self.cache.get(query)
        if cached is not None:
            return cached
        pending = self._pending.get(query)
        if pending is None:
            pending = asyncio.ensure_future(self._ask(query))
            self._pending[query] = pending
            pending.add_done_callback(lambda _: self._pending.pop(query, None))
        return await asyncio.shield(pending)

    async def _ask(self, query: Query) -> list[Record]:
        self.queries += 1
        records: list[Record] = []
        ttl: float | None = None
        try:
            answer = await self.resolver.resolve(query.name + ".", query.rdtype, search=False)
            ttl = float(answer.rrset.ttl) if answer.rrset is not None else None
            for rd in answer:
                records.extend(_record(rd))
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            pass
        except (dns.exception.DNSException, OSError) as exc:  # timeout, SERVFAIL, no server: not cached
            log.info("DNS %s %s failed: %s", query.rdtype, query.name, exc)
            return []
        except Exception:  # a resolver bug never takes a call (or the engine) down: no records
            log.exception("DNS %s %s: unexpected error", query.rdtype, query.name)
            return []
        self.cache.put(query, records, ttl)
        return records


def _record(rd: object) -> list[Record]:
    rdtype = getattr(rd, "rdtype", None)
    if rdtype == dns.rdatatype.NAPTR:
        flags = getattr(rd, "flags", b"")
        service = getattr(rd, "service", b"")
        return [Naptr(
            int(getattr(rd, "order", 0)),
            int(getattr(rd, "preference", 0)),
            flags.decode("ascii", "replace") if isinstance(flags, bytes) else str(flags),
            service.decode("ascii", "replace") if isinstance(service, bytes) else str(service),
            str(getattr(rd, "replacement", "")).rstrip(".").lower(),
        )]
    if rdtype == dns.rdatatype.SRV:
        return [Srv(int(getattr(rd, "priority", 0)), int(getattr(rd, "weight", 0)), int(getattr(rd, "port", 0)),
                    str(getattr(rd, "target", "")).rstrip(".").lower())]
    if rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        return [Address(str(getattr(rd, "address", "")))]
    return []
