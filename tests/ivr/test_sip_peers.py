"""The sans-IO SIP core against real peers (SIPp, baresip) through a minimal UDP loop in the test.

The loop is the thinnest possible shell: socket in, ``TransactionLayer`` + ``Dialog`` + ``SdpNegotiator``,
``Transmit`` out.  It proves the core interoperates (parsing real packets, Via/rport routing, 2xx
retransmission after a lost 200, ACK matching, in-dialog BYE both ways, digest auth) independent of the engine.
"""

from __future__ import annotations

import math
import shutil
import socket
import struct
import subprocess
import time
import wave
from collections import Counter
from pathlib import Path

import pytest

from ivr.sdp import LocalMedia, SdpNegotiator
from ivr.sip import Request, make_response, new_tag
from ivr.sip.auth import DigestServer
from ivr.sip.dialog import Dialog, DialogStore, LocalEndpoint
from ivr.sip.events import AckReceived, Event, RequestReceived, ResponseReceived, Transmit
from ivr.sip.transaction import TransactionLayer

pytestmark = pytest.mark.peers
HOST = "127.0.0.1"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


class MiniUas:
    """Answers INVITE with 200 + SDP, OPTIONS/BYE with 200; can drop the first N 200s to INVITE."""

    def __init__(self, drop_first_200: int = 0, auth: DigestServer | None = None, bye_after: float | None = None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, 0))
        self.port = int(self.sock.getsockname()[1])
        self.layer = TransactionLayer()
        self.endpoint = LocalEndpoint(HOST, self.port, contact=f"sip:12345@{HOST}:{self.port}")
        self.dialogs = DialogStore()
        self.drop_first_200 = drop_first_200
        self.auth = auth
        self.bye_after = bye_after
        self.log: list[tuple[float, str, str, bytes]] = []  # (time, "in"/"out"/"drop", first line, Call-ID line)
        self.invites: list[Request] = []
        self.counts: Counter[str] = Counter()
        self._bye_due: dict[tuple[str, str, str], float] = {}
        self._dropped = 0

    def handle(self, events: list[Event], now: float) -> None:
        for event in events:
            if isinstance(event, Transmit):
                line = event.data.split(b"\r\n", 1)[0].decode()
                is_invite_ok = line.startswith("SIP/2.0 200") and b"INVITE\r\n" in event.data.split(b"CSeq:")[1][:30]
                if is_invite_ok and self._dropped < self.drop_first_200:
                    self._dropped += 1
                    self.log.append((now, "drop", line, _call_id(event.data)))
                    continue
                self.log.append((now, "out", line, _call_id(event.data)))
                self.sock.sendto(event.data, event.dest)
            elif isinstance(event, RequestReceived):
                self.counts[event.request.method] += 1
                self.handle(self.on_request(event, now), now)
            elif isinstance(event, AckReceived):
                self.counts["ACK-2xx"] += 1
            elif isinstance(event, ResponseReceived):
                self.counts[f"{event.request.method}-{event.response.status}"] += 1

    def on_request(self, event: RequestReceived, now: float) -> list[Event]:
        req = event.request
        if req.method == "INVITE" and req.to_tag is None:
            self.invites.append(req)
            if self.auth is not None:
                header = req.headers.get("Authorization")
                result = self.auth.verify(header, "INVITE", {"caller": "s3cret"}.get, now) if header else None
                if result is None or not result.ok:
                    self.counts["challenged"] += 1
                    challenge = [("WWW-Authenticate", v) for v in self.auth.challenge(now)]
                    return self.layer.send_response(make_response(req, 401, headers=challenge, to_tag=new_tag()), now)
                self.counts["authenticated"] += 1
            tag = new_tag()
            dialog = Dialog.from_uas(req, tag, self.endpoint)
            self.dialogs.add(dialog)
            answer = SdpNegotiator(LocalMedia(HOST, 40000)).answer(req.body)
            if self.bye_after is not None:
                self._bye_due[dialog.id] = now + self.bye_after
            ok = make_response(req, 200, to_tag=tag, body=answer, content_type="application/sdp",
                               headers=[("Contact", f"<{self.endpoint.contact_uri}>")])
            return self.layer.send_response(ok, now, event.key)
        if req.to_tag is not None:
            _, error = self.dialogs.check_request(req)
            if error is not None:
                return self.layer.send_response(error, now, event.key)
        return self.layer.send_response(make_response(req, 200), now, event.key)

    def poll(self, until: float) -> None:
        """Run the loop until the monotonic deadline."""
        while (now := time.monotonic()) < until:
            for dialog_id, due in list(self._bye_due.items()):
                if now >= due:
                    del self._bye_due[dialog_id]
                    dialog = next(d for d in self.dialogs if d.id == dialog_id)
                    _, events = self.layer.send_request(dialog.bye(), dialog.destination(), now)
                    self.handle(events, now)
            timer = self.layer.next_timer()
            timeout = min([until, *([timer] if timer else []), *self._bye_due.values()]) - now
            self.sock.settimeout(max(0.001, min(timeout, 0.05)))
            try:
                data, source = self.sock.recvfrom(65535)
            except TimeoutError:
                data = b""
            now = time.monotonic()
            if data:
                self.log.append((now, "in", data.split(b"\r\n", 1)[0].decode(errors="replace"), _call_id(data)))
                self.handle(self.layer.receive_bytes(data, (source[0], source[1]), now), now)
            self.handle(self.layer.handle_timer(now), now)

    def close(self) -> None:
        self.sock.close()


def _call_id(data: bytes) -> bytes:
    return next((line for line in data.split(b"\r\n") if line.lower().startswith((b"call-id:", b"i:"))), b"")


def run_until_exit(uas: MiniUas, proc: subprocess.Popen[bytes], timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        uas.poll(time.monotonic() + 0.1)
    if proc.poll() is None:
        proc.kill()
        proc.wait()
        raise AssertionError("peer did not finish in time")
    uas.poll(time.monotonic() + 0.2)  # drain the last ACK/200
    return int(proc.returncode)


@pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp (Debian sip-tester) not installed")
def test_sipp_calls_survive_a_lost_200(tmp_path: Path) -> None:
    uas = MiniUas(drop_first_200=1)
    try:
        proc = subprocess.Popen(
            ["sipp", "-sn", "uac", f"{HOST}:{uas.port}", "-i", HOST, "-p", str(free_udp_port()), "-m", "3",
             "-r", "10", "-d", "300", "-nostdin", "-timeout", "25", "-trace_err",
             "-error_file", str(tmp_path / "err.log")],
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )
        rc = run_until_exit(uas, proc, 30.0)
        assert rc == 0, (tmp_path / "err.log").read_text() if (tmp_path / "err.log").exists() else rc
        assert uas.counts["INVITE"] == 3 and uas.counts["BYE"] == 3 and uas.counts["ACK-2xx"] == 3
        assert uas.layer.stats["stray_acks"] == 0 and uas.layer.stats["parse_errors"] == 0
        # The first 200 was lost: it went out again (2xx timer / absorbed INVITE retransmission), same call.
        drops = [d for d in uas.log if d[1] == "drop"]
        assert len(drops) == 1
        resend = next(d for d in uas.log if d[1] == "out" and d[2].startswith("SIP/2.0 200") and d[3] == drops[0][3])
        assert 0.45 <= resend[0] - drops[0][0] < 2.0  # Timer for 2xx retransmission: T1 after the lost one
        assert not [d for d in uas.log if d[2].startswith("SIP/2.0 481")]
        golden = uas.invites[0]
        assert golden.top_via.has_rport is False and golden.top_via.branch.startswith("z9hG4bK")  # type: ignore[union-attr]
        assert golden.content_type == "application/sdp" and golden.from_addr.display == "sipp"
    finally:
        uas.close()


def write_silence(path: Path, seconds: float = 5.0) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        frames = int(8000 * seconds)
        w.writeframes(b"".join(struct.pack("<h", int(3000 * math.sin(2 * math.pi * 440 * i / 8000)))
                               for i in range(frames)))
    return path


def baresip_dir(tmp_path: Path, sip_port: int, account_params: str = "") -> Path:
    conf = tmp_path / "baresip"
    conf.mkdir()
    source = write_silence(tmp_path / "tone.wav")
    (conf / "config").write_text(
        f"sip_listen {HOST}:{sip_port}\nnet_interface {HOST}\naudio_player alsa,null\n"
        f"audio_source aufile,{source}\naudio_alert alsa,null\nrtp_ports 31700-31780\n"
        "module_path /usr/lib/baresip/modules\nmodule g711.so\nmodule aufile.so\nmodule alsa.so\n"
        "module_app account.so\nmodule_app menu.so\n"
    )
    (conf / "accounts").write_text(f"<sip:caller@{HOST}:{sip_port}>;regint=0{account_params}\n")
    return conf


@pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip not installed")
def test_baresip_call_with_digest_auth_and_bye_from_uas(tmp_path: Path) -> None:
    uas = MiniUas(auth=DigestServer("hotline", b"k" * 32), bye_after=1.0)
    try:
        conf = baresip_dir(tmp_path, free_udp_port(), ";auth_pass=s3cret")
        with open(tmp_path / "baresip.log", "wb") as log:
            proc = subprocess.Popen(
                ["baresip", "-f", str(conf), "-t", "5", "-e", f"/dial sip:12345@{HOST}:{uas.port}"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
            run_until_exit(uas, proc, 20.0)
        log_text = (tmp_path / "baresip.log").read_text(errors="replace")
        assert uas.counts["challenged"] == 1 and uas.counts["authenticated"] == 1, log_text
        assert uas.counts["ACK-2xx"] == 1 and uas.counts["BYE-200"] == 1, (uas.counts, log_text)
        first, retry = uas.invites
        assert retry.cseq[0] == first.cseq[0] + 1 and retry.call_id == first.call_id
        assert (retry.headers.get("Authorization") or "").startswith("Digest ")
        assert "baresip" in (first.headers.get("User-Agent") or "") and first.top_via.has_rport
        assert uas.layer.stats["parse_errors"] == 0 and len(uas.dialogs) == 1
    finally:
        uas.close()
