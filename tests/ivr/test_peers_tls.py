"""SIP over TLS on 127.0.0.1: a raw TLS client, engine to engine, and Debian baresip's TLS transport."""

from __future__ import annotations

import shutil
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.ivr import DnsSettings, IvrConfig, SrtpSettings, TlsSettings
from ivr.app import DialFailed
from tests.ivr.dnsserver import DnsSpy, LoopbackDns, dns_spy
from tests.ivr.peers.fixtures import BaresipPool, Ivr
from tests.ivr.peers.harness import LOOPBACK, analyse_tone, read_wav, wait_until
from tests.ivr.tlscerts import Pki, make_pki

__all__ = ["dns_spy"]  # the fixture, imported for pytest


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def tls_settings(pki: Pki, **more: object) -> TlsSettings:
    return TlsSettings.model_validate({"port": 0, "cert_file": str(pki.cert_file), "key_file": str(pki.key_file),
                                       "ca_file": str(pki.ca_file), **more})


@pytest.fixture(scope="module")
def ivr(pki: Pki) -> Iterator[Ivr]:
    server = Ivr(transports=["udp", "tcp", "tls"], tls=tls_settings(pki)).start()
    yield server
    server.stop()


@pytest.fixture
def baresips(tmp_path: Path) -> Iterator[BaresipPool]:
    pool = BaresipPool(tmp_path)
    yield pool
    pool.stop_all()


def options(port: int, branch: str) -> bytes:
    return (
        f"OPTIONS sip:12345@127.0.0.1:{port};transport=tls SIP/2.0\r\n"
        f"Via: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bK{branch};rport\r\n"
        "Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=t1\r\nTo: <sip:12345@127.0.0.1>\r\n"
        f"Call-ID: tls-{branch}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def read_response(conn: ssl.SSLSocket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65535)
        if not chunk:
            break
        data += chunk
    return data


def test_options_over_tls_verified_against_the_configured_certificate(ivr: Ivr, pki: Pki) -> None:
    context = ssl.create_default_context(cafile=str(pki.ca_file))  # verifies the chain and the IP SAN
    with socket.create_connection((LOOPBACK, ivr.engine.tls_port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=LOOPBACK) as conn:
            conn.sendall(options(ivr.engine.tls_port, "a1"))
            answer = read_response(conn)
            assert answer.startswith(b"SIP/2.0 200"), answer[:200]
            assert b"Via: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKa1" in answer
            # a second request on the same connection is answered on it too (stream framing over TLS)
            conn.sendall(options(ivr.engine.tls_port, "a2"))
            assert read_response(conn).startswith(b"SIP/2.0 200")
    assert ivr.engine.tls_port != ivr.engine.port


def test_plain_tcp_to_the_tls_port_gets_no_sip_answer(ivr: Ivr) -> None:
    with socket.create_connection((LOOPBACK, ivr.engine.tls_port), timeout=3) as raw:
        raw.sendall(options(ivr.engine.tls_port, "p1"))
        try:
            data = raw.recv(4096)
        except (TimeoutError, ConnectionResetError):
            data = b""
    assert not data.startswith(b"SIP/2.0")


def test_engine_to_engine_call_over_tls(ivr: Ivr, pki: Pki) -> None:
    caller = Ivr(transports=["udp", "tls"], tls=tls_settings(pki)).start()
    try:
        before = len(ivr.records())
        target = f"sip:12345@127.0.0.1:{ivr.engine.tls_port};transport=tls"
        call = caller.runner.run(caller.engine.dial(target, caller_id="200", timeout=10))
        record = ivr.record(index=-1)
        assert len(ivr.records()) == before + 1 and record.caller == "200"
        wait_until(lambda: record.audio_frames >= 10, 10, what="audio from the calling engine")
        tls_peers = caller.runner.call(lambda: [e for e in caller.engine.transports.tcp_conns if e.transport == "tls"])
        assert [(e.host, e.port) for e in tls_peers] == [(LOOPBACK, ivr.engine.tls_port)]
        caller.runner.run(call.hangup())
        wait_until(lambda: record.hangup is not None, 10, what="the BYE over TLS")
        assert record.hangup == ("remote_bye", True)
    finally:
        caller.stop()


def test_tls_server_with_an_untrusted_certificate_is_refused(ivr: Ivr, pki: Pki, tmp_path: Path) -> None:
    other = make_pki(tmp_path / "other")  # a CA the caller does not trust
    caller = Ivr(transports=["udp", "tls"], tls=tls_settings(pki, ca_file=str(other.ca_file))).start()
    try:
        before = len(ivr.records())
        target = f"sip:12345@127.0.0.1:{ivr.engine.tls_port};transport=tls"
        with pytest.raises(DialFailed):
            caller.runner.run(caller.engine.dial(target, caller_id="201", timeout=3))
        time.sleep(0.2)
        assert len(ivr.records()) == before
    finally:
        caller.stop()


needs_baresip = pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip (Debian baresip-core) missing")


def tls_baresip_config(pki: Pki) -> str:
    return f"sip_cafile {pki.ca_file}\nsip_certificate {pki.combined_file}\nsip_verify_server yes\n"


@pytest.mark.peers
@needs_baresip
def test_baresip_calls_over_tls(ivr: Ivr, pki: Pki, baresips: BaresipPool) -> None:
    caller = baresips("tlscaller", user="13800000031", extra_config=tls_baresip_config(pki),
                      extra_account=";transport=tls")
    datagrams = ivr.runner.call(lambda: ivr.engine.stats.datagrams_in)
    caller.start(dial=f"sip:12345@127.0.0.1:{ivr.engine.tls_port};transport=tls", seconds=30)
    caller.wait_log("Call established", timeout=15)
    record = ivr.record(index=-1)
    assert record.caller == "13800000031"
    wait_until(lambda: record.audio_frames >= 50, 10, what="1 s of baresip's audio at the IVR")
    conns = ivr.runner.call(lambda: [e.transport for e in ivr.engine.transports.tcp_conns])
    assert "tls" in conns
    caller.hangup()
    wait_until(lambda: record.hangup is not None, 10, what="baresip's BYE over TLS")
    assert record.hangup == ("remote_bye", True)
    assert ivr.runner.call(lambda: ivr.engine.stats.datagrams_in) == datagrams  # no SIP over UDP in this call


SIPS_ZONE = """
$TTL 60
@ IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 5
@ IN NS ns.example.test.
ns IN A 127.0.0.1
pbx IN NAPTR 10 50 "s" "SIPS+D2T" "" _sips._tcp.pbx.example.test.
pbx IN NAPTR 20 50 "s" "SIP+D2U" "" _sip._udp.pbx.example.test.
_sips._tcp.pbx IN SRV 10 0 {tls} live.pbx.example.test.
_sip._udp.pbx IN SRV 10 0 {udp} live.pbx.example.test.
live.pbx IN A 127.0.0.1
"""


def test_sips_target_by_name_resolves_to_tls_and_calls(ivr: Ivr, pki: Pki, dns_spy: DnsSpy) -> None:
    """RFC 3263 with TLS supported: the SIPS+D2T NAPTR (order 10) wins, its SRV names the TLS port."""
    server = LoopbackDns(SIPS_ZONE.format(tls=ivr.engine.tls_port, udp=ivr.engine.port), "example.test.").start()
    caller = Ivr(transports=["udp", "tls"], tls=tls_settings(pki),
                 dns=DnsSettings(nameservers=[server.address])).start()
    try:
        call = caller.runner.run(caller.engine.dial("sip:12345@pbx.example.test", caller_id="202", timeout=10))
        record = ivr.record(index=-1)
        assert record.caller == "202"
        tls_peers = caller.runner.call(lambda: [e for e in caller.engine.transports.tcp_conns if e.transport == "tls"])
        assert [(e.host, e.port) for e in tls_peers] == [(LOOPBACK, ivr.engine.tls_port)]
        assert server.asked()[:2] == ["pbx.example.test NAPTR", "_sips._tcp.pbx.example.test SRV"]
        caller.runner.run(call.hangup())
        wait_until(lambda: record.hangup is not None, 10, what="the BYE over TLS")
    finally:
        caller.stop()
        server.stop()
    assert dns_spy.sent and all(where == "127.0.0.1" for where, _ in dns_spy.sent)


def test_tls_needs_certificate_and_key_in_the_config() -> None:
    with pytest.raises(ValueError, match=r"tls\.cert_file"):
        IvrConfig(transports=["udp", "tls"])
    assert IvrConfig(transports=["tls"], tls=TlsSettings(cert_file="c.pem", key_file="k.pem")).tls.port == 5061


def test_a_missing_certificate_file_stops_the_start_with_one_clear_error(tmp_path: Path) -> None:
    server = Ivr(transports=["udp", "tls"], tls=TlsSettings(port=0, cert_file=str(tmp_path / "none.pem"),
                                                            key_file=str(tmp_path / "none.key")))
    with pytest.raises(ValueError, match=r"cannot load tls\.cert_file"):
        server.start()


@pytest.mark.peers
@needs_baresip
def test_baresip_srtp_over_tls_audio_both_ways_and_a_digit(ivr: Ivr, pki: Pki, baresips: BaresipPool) -> None:
    """baresip with srtp.so and ;mediaenc=srtp-mand (RTP/SAVP, a=crypto) over TLS: the IVR answers with its own
    key; its 440 Hz tone reaches baresip through SRTP, baresip's 1 kHz tone and an RFC 4733 digit reach the IVR."""
    caller = baresips("srtpcaller", user="13800000032", extra_config=tls_baresip_config(pki) + "module srtp.so\n",
                      extra_account=";transport=tls;mediaenc=srtp-mand")
    caller.start(dial=f"sip:12345@127.0.0.1:{ivr.engine.tls_port};transport=tls", seconds=30)
    caller.wait_log("Call established", timeout=15)
    record = ivr.record(index=-1)
    assert record.caller == "13800000032"
    wait_until(lambda: record.audio_frames >= 100, 10, what="2 s of baresip's SRTP audio at the IVR")

    def media_stats() -> dict[str, float | int]:
        calls = [c for c in ivr.engine.calls.values() if c.call_id == record.call_id]
        return calls[0].media.stats() if calls else {}

    stats = ivr.runner.call(media_stats)
    assert stats["srtp"] == 1 and stats["srtp_auth_failures"] == 0 and stats["received"] >= 100
    caller.press("8")
    wait_until(lambda: len(record.digits) >= 1, 10, what="an RFC 2833 digit over SRTP at the IVR")
    assert record.digits == [("8", "rfc4733")]
    time.sleep(1.0)
    caller.hangup()
    wait_until(lambda: record.hangup is not None, 10, what="baresip's BYE over TLS")
    caller.stop()
    loud = [r for r in record.audio_rms if r > 3000]
    assert len(loud) >= 0.7 * len(record.audio_rms)  # baresip's 1 kHz tone, decrypted at the IVR
    path = caller.recording("dec")
    assert path is not None
    samples, rate = read_wav(path)
    report = analyse_tone(samples, rate)
    assert abs(report.frequency - 440) < 5 and report.active_s > 2.0  # the IVR's tone, decrypted by baresip
    assert "SRTP is Enabled (cryptosuite=AES_CM_128_HMAC_SHA1_80)" in caller.log()


@pytest.mark.peers
@needs_baresip
def test_srtp_required_refuses_a_plain_baresip_call_with_488(baresips: BaresipPool) -> None:
    strict = Ivr(srtp=SrtpSettings(mode="required")).start()
    try:
        caller = baresips("plaincaller", user="13800000033")
        caller.start(dial=strict.uri(), seconds=20)
        caller.wait_log("488 Not Acceptable Here", timeout=10)
        assert strict.records() == []
    finally:
        strict.stop()


def test_engine_to_engine_srtp_required_over_tls(ivr: Ivr, pki: Pki) -> None:
    """The calling engine requires SRTP: its INVITE offers RTP/SAVP with crypto, the IVR (mode offer) answers
    with its own key; audio flows through SRTP both ways with no authentication failure."""
    caller = Ivr(transports=["udp", "tls"], tls=tls_settings(pki), srtp=SrtpSettings(mode="required")).start()
    try:
        target = f"sip:12345@127.0.0.1:{ivr.engine.tls_port};transport=tls"
        call = caller.runner.run(caller.engine.dial(target, caller_id="203", timeout=10))
        record = ivr.record(index=-1)
        assert record.caller == "203"
        wait_until(lambda: record.audio_frames >= 25, 10, what="SRTP audio from the calling engine")

        def stats(side: Ivr) -> dict[str, float | int]:
            legs = list(side.engine.calls.values())
            return legs[0].media.stats() if legs else {}

        ours, theirs = caller.runner.call(lambda: stats(caller)), ivr.runner.call(lambda: stats(ivr))
        for st in (ours, theirs):
            assert st["srtp"] == 1 and st["srtp_auth_failures"] == 0 and st["received"] > 10
        caller.runner.run(call.hangup())
        wait_until(lambda: record.hangup is not None, 10, what="the BYE")
    finally:
        caller.stop()


@pytest.mark.peers
@needs_baresip
def test_ivr_hangs_up_a_tls_call_with_bye(ivr: Ivr, pki: Pki, baresips: BaresipPool) -> None:
    """The IVR's BYE goes to baresip's Contact (;transport=tls, its TLS listener) over a new TLS connection and ends
    the call there (baresip logs a received BYE as "session closed: Connection reset by peer", as over UDP); no
    SIP datagram reaches the IVR during the call."""
    caller = baresips("tlsbye", user="13800000034", extra_config=tls_baresip_config(pki),
                      extra_account=";transport=tls")
    datagrams = ivr.runner.call(lambda: ivr.engine.stats.datagrams_in)
    caller.start(dial=f"sip:12345@127.0.0.1:{ivr.engine.tls_port};transport=tls", seconds=30)
    caller.wait_log("Call established", timeout=15)
    record = ivr.record(index=-1)
    wait_until(lambda: record.audio_frames >= 25, 10, what="audio")
    caller.press("0")  # the test app hangs up on 0
    caller.wait_call_end()
    assert record.hangup == ("local", False)
    wait_until(lambda: ivr.live_calls() == 0, 5, what="the call to be gone from the engine")
    assert ivr.runner.call(lambda: ivr.engine.stats.datagrams_in) == datagrams
