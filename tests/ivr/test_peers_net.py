"""The network shell with real traffic: garbage and oversize datagrams, 400s, TCP, registrar, ``hotline serve``."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.ivr import RegistrarUser
from ivr.app import Call
from tests.ivr.peers.fixtures import BaresipPool, Ivr
from tests.ivr.peers.harness import LOOPBACK, analyse_tone, free_port, read_wav, run_sipp, wait_until

pytestmark = [
    pytest.mark.peers,
    pytest.mark.skipif(shutil.which("baresip") is None or shutil.which("sipp") is None, reason="needs baresip, sipp"),
]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def baresips(tmp_path: Path) -> Iterator[BaresipPool]:
    pool = BaresipPool(tmp_path)
    yield pool
    pool.stop_all()


@pytest.fixture(scope="module")
def ivr() -> Iterator[Ivr]:
    server = Ivr(max_datagram=4000, registrar_users=[RegistrarUser(username="1001", password="agent-pw")]).start()
    yield server
    server.stop()


def udp_exchange(port: int, payload: bytes, wait: float = 2.0) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        sock.settimeout(wait)
        sock.sendto(payload, (LOOPBACK, port))
        try:
            return sock.recv(65535)
        except TimeoutError:
            return None


MALFORMED = (
    b"INVITE sip:12345@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKbad;rport\r\n"
    b"From: <sip:x@127.0.0.1>;tag=1\r\nTo: <sip:12345@127.0.0.1>\r\nCall-ID: bad-1\r\nCSeq: 1 INVITE\r\n"
    b"Content-Length: 999\r\n\r\nshort"
)


def test_garbage_oversize_and_malformed_do_not_disturb_a_call(ivr: Ivr, baresips: BaresipPool) -> None:
    caller = baresips("caller")
    caller.start(dial=ivr.uri(), seconds=40)
    caller.wait_log("Call established")
    record = ivr.record(index=-1)
    wait_until(lambda: record.audio_frames >= 25, 10, what="audio")
    before = ivr.runner.call(lambda: (ivr.engine.stats.garbage_dropped, ivr.engine.stats.oversize_dropped))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for i in range(200):
            sock.sendto(os.urandom(50 + i), (LOOPBACK, ivr.engine.port))
            sock.sendto(b"\x00" * 5000, (LOOPBACK, ivr.engine.port))  # over max_datagram (4000 here)
            time.sleep(0.002)  # stay under the kernel's socket buffer: count what the engine really sees
    reply = udp_exchange(ivr.engine.port, MALFORMED)
    assert reply is not None and reply.startswith(b"SIP/2.0 400 Content-Length exceeds body\r\n")
    wait_until(
        lambda: ivr.runner.call(lambda: ivr.engine.stats.oversize_dropped) >= before[1] + 200,
        5,
        what="oversize datagrams counted",
    )
    after = ivr.runner.call(lambda: (ivr.engine.stats.garbage_dropped, ivr.engine.stats.bad_requests))
    assert after[0] >= before[0] + 190  # a few random blobs may be parseable-looking but answered 400 instead
    assert after[1] >= 1
    frames = record.audio_frames
    wait_until(lambda: record.audio_frames >= frames + 50, 5, what="the call to keep receiving audio")
    caller.hangup()
    wait_until(lambda: record.hangup is not None, 10, what="BYE")
    caller.stop()
    recording = caller.recording()
    assert recording is not None
    samples, rate = read_wav(recording)
    report = analyse_tone(samples, rate)
    assert report.silent_holes == 0 and abs(report.frequency - 440) < 5


def test_sip_over_tcp_info_dtmf(ivr: Ivr, tmp_path: Path) -> None:
    result = run_sipp("info_dtmf.xml", ivr.target, tmp_path, extra=["-t", "t1"])
    assert result.ok, result.stderr + result.messages
    assert "TCP message received" in result.messages
    record = ivr.records()[-1]
    wait_until(lambda: record.hangup is not None, 5, what="the TCP call to end")
    assert record.digits == [("5", "info"), ("7", "info"), ("*", "info")]


def test_large_message_over_tcp(ivr: Ivr) -> None:
    padding = "x" * 6000  # far over a UDP MTU
    options = (
        f"OPTIONS sip:12345@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKtcp1\r\n"
        f"From: <sip:x@127.0.0.1>;tag=1\r\nTo: <sip:12345@127.0.0.1>\r\nCall-ID: tcp-1\r\nCSeq: 1 OPTIONS\r\n"
        f"X-Padding: {padding}\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    with socket.create_connection((LOOPBACK, ivr.engine.port), timeout=5) as sock:
        sock.sendall(options[:100])
        time.sleep(0.05)
        sock.sendall(options[100:])  # split across segments: the framer reassembles
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(4096)
    assert data.startswith(b"SIP/2.0 200 OK\r\n") and b"Call-ID: tcp-1" in data


def test_agent_phone_registers_with_digest_and_is_dialled(ivr: Ivr, baresips: BaresipPool) -> None:
    agent = baresips(
        "agent",
        user="1001",
        auto_answer=True,
        extra_account=f';auth_pass=agent-pw;outbound="sip:127.0.0.1:{ivr.engine.port}";regint=60',
    )
    agent.start()
    wait_until(lambda: ivr.runner.call(lambda: ivr.engine.resolve("1001")) is not None, 10, what="registration")
    contact = ivr.runner.call(lambda: ivr.engine.resolve("sip:1001@127.0.0.1"))
    assert contact is not None and f":{agent.sip_port}" in contact

    async def call_agent() -> tuple[str, str]:
        leg: Call = await ivr.engine.dial("1001", caller_id="12345", timeout=10)
        await leg.hangup()
        return leg.called, leg.call_id

    called, _ = ivr.runner.run(call_agent())
    assert called == "1001"
    agent.wait_log("Call established")


def test_hotline_serve_cli_answers_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), HOTLINE_TEST_LOG=str(tmp_path / "app.jsonl"))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hotline",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--app",
            "tests.ivr.peers.app:build",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert f"listening on 127.0.0.1:{port}" in first, first
        result = run_sipp("info_dtmf.xml", f"127.0.0.1:{port}", tmp_path)
        assert result.ok, result.stderr + result.messages
        wait_until(lambda: '"digit": "7"' in (tmp_path / "app.jsonl").read_text(), 5, what="digits in the app log")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert "shutting down" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_ivr_registers_to_a_pbx_with_digest_and_refreshes(tmp_path: Path) -> None:
    from config.ivr import IvrConfig, UpstreamRegistration
    from tests.ivr.peers.harness import SippServer

    pbx = SippServer("registrar_server.xml", tmp_path, timeout=20)
    try:
        upstream = UpstreamRegistration(
            enabled=True,
            registrar=f"sip:127.0.0.1:{pbx.port}",
            aor="sip:12345@127.0.0.1",
            username="12345",
            password="pbx-pw",
            expires=60,
        )
        server = Ivr(config=IvrConfig(host="127.0.0.1", port=0, upstream=upstream)).start()
        try:
            result = pbx.wait()  # challenge, verified digest, 2 s grant, refresh, challenge, verified, 60 s
            assert result.ok, result.stderr + result.messages
            wait_until(
                lambda: server.runner.call(lambda: server.engine.upstream.granted) == 60,
                5,  # type: ignore[union-attr]
                what="the refreshed registration",
            )
            assert server.runner.call(lambda: server.engine.upstream.registered)  # type: ignore[union-attr]
        finally:
            server.stop()
    finally:
        pbx.stop()


def test_outgoing_call_answers_a_digest_challenge(tmp_path: Path) -> None:
    from config.ivr import IvrConfig, UpstreamRegistration
    from tests.ivr.peers.harness import SippServer

    pbx = SippServer("pbx_call.xml", tmp_path, timeout=20)
    try:
        credentials = UpstreamRegistration(enabled=False, username="12345", password="pbx-pw")
        server = Ivr(config=IvrConfig(host="127.0.0.1", port=0, upstream=credentials)).start()
        try:

            async def call() -> str:
                leg = await server.engine.dial(f"sip:agent@127.0.0.1:{pbx.port}", timeout=10)
                codec = leg.media.codec.name  # type: ignore[attr-defined]
                await leg.hangup()
                return str(codec)

            assert server.runner.run(call()) == "PCMA"  # answered after the digest retry, PBX's codec
            result = pbx.wait()  # 401, verified Authorization, 200, ACK, BYE
            assert result.ok, result.stderr + result.messages
        finally:
            server.stop()
    finally:
        pbx.stop()
