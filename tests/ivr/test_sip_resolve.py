"""RFC 3263 §4 procedure, pure: canned DNS answers, TTL on a virtual clock, SRV weights, failover order."""

from __future__ import annotations

import pytest

from ivr.clock import VirtualClock
from ivr.sip.resolve import (
    Address,
    DnsCache,
    Naptr,
    Query,
    Record,
    ResolveError,
    Srv,
    Target,
    order_srv,
    procedure,
    run_cached,
)

Zone = dict[tuple[str, str], list[Record]]


class Dns:
    """Canned answers; records every question asked."""

    def __init__(self, zone: Zone, ttl: float = 60.0) -> None:
        self.zone = zone
        self.ttl = ttl
        self.asked: list[Query] = []

    def __call__(self, query: Query) -> tuple[list[Record], float | None]:
        self.asked.append(query)
        return list(self.zone.get((query.name, query.rdtype), [])), self.ttl



def resolve(uri: str, dns: Dns, cache: DnsCache | None = None, random: float = 0.0,
            supported: tuple[str, ...] = ("udp", "tcp")) -> list[Target]:
    return run_cached(procedure(uri, supported, lambda: random), cache or DnsCache(VirtualClock().now), dns)


FULL: Zone = {
    ("example.test", "NAPTR"): [
        Naptr(50, 50, "s", "SIP+D2T", "_sip._tcp.example.test"),
        Naptr(90, 50, "s", "SIP+D2U", "_sip._udp.example.test"),
        Naptr(10, 50, "s", "SIPS+D2T", "_sips._tcp.example.test"),
    ],
    ("_sip._tcp.example.test", "SRV"): [Srv(10, 0, 5070, "a.example.test"), Srv(20, 0, 5080, "b.example.test")],
    ("_sip._udp.example.test", "SRV"): [Srv(10, 0, 5060, "a.example.test")],
    ("_sips._tcp.example.test", "SRV"): [Srv(10, 0, 5061, "a.example.test")],
    ("a.example.test", "A"): [Address("127.0.0.2")],
    ("b.example.test", "A"): [Address("127.0.0.3"), Address("127.0.0.4")],
    ("b.example.test", "AAAA"): [Address("::1")],
}


def test_numeric_host_asks_nothing() -> None:
    dns = Dns({})
    assert resolve("sip:agent@127.0.0.9", dns) == [Target("udp", "127.0.0.9", 5060)]
    assert resolve("sip:agent@127.0.0.9:5099;transport=tcp", dns) == [Target("tcp", "127.0.0.9", 5099)]
    assert resolve("sip:agent@[::1]:5070", dns) == [Target("udp", "::1", 5070)]
    assert resolve("sip:agent@name.test;maddr=127.0.0.5", dns) == [Target("udp", "127.0.0.5", 5060)]
    assert dns.asked == []


def test_port_given_means_a_and_aaaa_only() -> None:
    dns = Dns(FULL)
    assert resolve("sip:agent@b.example.test:5099", dns) == [
        Target("udp", "127.0.0.3", 5099), Target("udp", "127.0.0.4", 5099), Target("udp", "::1", 5099)
    ]
    assert [q.rdtype for q in dns.asked] == ["A", "AAAA"]


def test_transport_param_queries_srv_of_that_transport() -> None:
    dns = Dns(FULL)
    assert resolve("sip:agent@example.test;transport=tcp", dns) == [
        Target("tcp", "127.0.0.2", 5070), Target("tcp", "127.0.0.3", 5080), Target("tcp", "127.0.0.4", 5080),
        Target("tcp", "::1", 5080),
    ]
    assert dns.asked[0] == Query("_sip._tcp.example.test", "SRV")
    assert Query("example.test", "NAPTR") not in dns.asked


def test_naptr_order_then_srv_then_addresses_skipping_unsupported_tls() -> None:
    dns = Dns(FULL)
    targets = resolve("sip:agent@Example.TEST", dns)
    assert targets[0] == Target("tcp", "127.0.0.2", 5070)  # SIPS+D2T (order 10) is skipped: no TLS here
    assert [q for q in dns.asked if q.rdtype == "SRV"] == [Query("_sip._tcp.example.test", "SRV")]
    # with TLS supported, the SIPS+D2T record comes first
    assert resolve("sip:agent@example.test", Dns(FULL), supported=("udp", "tcp", "tls"))[0] == Target(
        "tls", "127.0.0.2", 5061
    )


def test_sips_uses_only_sips_naptr_or_fails_without_tls() -> None:
    assert resolve("sips:agent@example.test", Dns(FULL)) == []
    assert resolve("sips:agent@example.test", Dns(FULL), supported=("udp", "tcp", "tls")) == [
        Target("tls", "127.0.0.2", 5061)
    ]


def test_no_naptr_falls_to_srv_in_preference_order_then_a_record() -> None:
    zone: Zone = {
        ("_sip._tcp.pbx.test", "SRV"): [Srv(1, 0, 5070, "pbx.test")],
        ("pbx.test", "A"): [Address("127.0.0.7")],
    }
    dns = Dns(zone)
    assert resolve("sip:pbx.test", dns) == [Target("tcp", "127.0.0.7", 5070)]
    assert dns.asked[:3] == [
        Query("pbx.test", "NAPTR"), Query("_sip._udp.pbx.test", "SRV"), Query("_sip._tcp.pbx.test", "SRV")
    ]
    dns = Dns({("host.test", "A"): [Address("127.0.0.8")]})
    assert resolve("sip:agent@host.test", dns) == [Target("udp", "127.0.0.8", 5060)]
    assert resolve("sips:agent@host.test", Dns(dns.zone), supported=("udp", "tls")) == [
        Target("tls", "127.0.0.8", 5061)
    ]


def test_naptr_without_srv_records_gives_nothing_and_unknown_names_nothing() -> None:
    zone: Zone = {("x.test", "NAPTR"): [Naptr(1, 1, "s", "SIP+D2U", "_sip._udp.x.test")],
                  ("x.test", "A"): [Address("127.0.0.1")]}
    assert resolve("sip:x.test", Dns(zone)) == []
    assert resolve("sip:nowhere.test", Dns({})) == []


def test_not_a_sip_uri() -> None:
    with pytest.raises(ResolveError):
        resolve("tel:+8612345", Dns({}))


def test_srv_priority_then_weight_with_injected_random() -> None:
    records = [Srv(20, 0, 1, "c"), Srv(10, 10, 1, "a"), Srv(10, 90, 1, "b"), Srv(30, 0, 1, ".")]
    # random 0.0: the running sum passes 0 first at the lightest non-zero weight (a, 10)
    assert [r.target for r in order_srv(records, lambda: 0.0)] == ["a", "b", "c"]
    # random 0.5: 0.5 * 100 = 50 > 10, so b (running sum 100) wins the first draw
    assert [r.target for r in order_srv(records, lambda: 0.5)] == ["b", "a", "c"]
    draws = iter([0.05, 0.0])  # 0.05 * 100 = 5 < 10: a first
    assert [r.target for r in order_srv(records, lambda: next(draws, 0.0))] == ["a", "b", "c"]


def test_srv_weights_are_honoured_statistically() -> None:
    import random

    rng = random.Random(7)
    records = [Srv(10, 1, 1, "light"), Srv(10, 3, 1, "heavy")]
    firsts = [order_srv(records, rng.random)[0].target for _ in range(4000)]
    share = firsts.count("heavy") / len(firsts)
    assert 0.70 < share < 0.80  # 3 / 4


def test_failover_order_is_srv_priority_then_each_targets_addresses() -> None:
    zone: Zone = {
        ("_sip._udp.pbx.test", "SRV"): [Srv(20, 0, 5080, "live.pbx.test"), Srv(10, 0, 5070, "dead.pbx.test")],
        ("dead.pbx.test", "A"): [Address("127.0.0.2")],
        ("live.pbx.test", "A"): [Address("127.0.0.3")],
    }
    assert resolve("sip:agent@pbx.test", Dns(zone)) == [
        Target("udp", "127.0.0.2", 5070), Target("udp", "127.0.0.3", 5080)
    ]


def test_answers_are_cached_until_their_ttl_on_the_virtual_clock() -> None:
    clock = VirtualClock()
    cache = DnsCache(clock.now, negative_ttl=100.0)  # the empty AAAA answers outlive the positive ones here
    dns = Dns(FULL, ttl=60.0)
    first = resolve("sip:agent@example.test;transport=udp", dns, cache)
    asked = len(dns.asked)
    clock.advance_to(59.0)
    assert resolve("sip:agent@example.test;transport=udp", dns, cache) == first
    assert len(dns.asked) == asked  # all from the cache
    clock.advance_to(59.9)
    dns.zone = {**FULL, ("a.example.test", "A"): [Address("127.0.0.99")]}
    assert resolve("sip:agent@example.test;transport=udp", dns, cache) == first
    clock.advance_to(60.0)  # expired: asked again, the new address is seen
    assert resolve("sip:agent@example.test;transport=udp", dns, cache) == [Target("udp", "127.0.0.99", 5060)]
    assert len(dns.asked) > asked


def test_negative_answers_expire_after_negative_ttl() -> None:
    clock = VirtualClock()
    cache = DnsCache(clock.now, negative_ttl=5.0)
    dns = Dns({})
    assert resolve("sip:agent@late.test:5060", dns, cache) == []
    dns.zone = {("late.test", "A"): [Address("127.0.0.4")]}
    clock.advance_to(4.9)
    assert resolve("sip:agent@late.test:5060", dns, cache) == []
    clock.advance_to(5.0)
    assert resolve("sip:agent@late.test:5060", dns, cache) == [Target("udp", "127.0.0.4", 5060)]
