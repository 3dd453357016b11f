"""The upstream registrar's RFC 3263 targets, sans-IO: a REGISTER that times out moves on to the next target."""

from __future__ import annotations

from config.ivr import UpstreamRegistration
from ivr.engine.upstream import UpstreamRegistrar
from ivr.sip.address import Endpoint

DEAD = Endpoint("udp", "127.0.0.1", 5070)
LIVE = Endpoint("udp", "127.0.0.1", 5080)


def registrar() -> UpstreamRegistrar:
    config = UpstreamRegistration(enabled=True, registrar="sip:pbx.example.test", aor="sip:12345@pbx.example.test")
    up = UpstreamRegistrar(config, "<sip:12345@127.0.0.1:5060>", "127.0.0.1", 5060, retry_after=30.0)
    up.use_targets([DEAD, LIVE])
    return up


def test_timeout_tries_the_next_target_at_once_then_retries_later_from_the_best() -> None:
    up = registrar()
    first = up.start(0.0)
    assert [o.dest for o in first] == [DEAD]
    assert first[0].request.uri == "sip:pbx.example.test"
    second = up.on_timeout(32.0)  # Timer F on the dead target
    assert [o.dest for o in second] == [LIVE]
    assert second[0].request.cseq[0] == first[0].request.cseq[0] + 1
    assert up.on_timeout(64.0) == []  # every target tried: retry after retry_after, from the best again
    assert up.next_at == 94.0 and not up.registered
    assert [o.dest for o in up.on_tick(94.0)] == [DEAD]


def test_without_targets_a_timeout_waits_for_the_retry() -> None:
    config = UpstreamRegistration(enabled=True, registrar="sip:127.0.0.1:5070")
    up = UpstreamRegistrar(config, "<sip:12345@127.0.0.1:5060>", "127.0.0.1", 5060, retry_after=30.0)
    assert [o.dest for o in up.start(0.0)] == [DEAD]
    assert up.on_timeout(32.0) == [] and up.next_at == 62.0
