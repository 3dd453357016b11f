"""Real-peer test harness: free ports, baresip instances, SIPp runs, audio checks.

Each baresip gets its own config directory, SIP port, UDP console port and RTP port range; tests kill every
process they start in fixture finalizers.  Conditions are polled (``wait_until``), never slept for.
"""

from __future__ import annotations

import itertools
import os
import random
import signal
import socket
import subprocess
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PEERS_DIR = Path(__file__).resolve().parent
LOOPBACK = "127.0.0.1"

_rtp_base = itertools.count(random.randrange(20000, 28000, 200), 200)


def free_port(host: str = LOOPBACK) -> int:
    """A port free for both UDP and TCP on ``host`` right now."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((host, 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((host, port))
                except OSError:
                    continue
                return int(port)
    raise RuntimeError("no free port")


_sip_base = itertools.count(random.randrange(12000, 19000, 2), 2)


def _free_tcp_udp(host: str, port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                return False
    return True


def free_sip_port(host: str = LOOPBACK) -> int:
    """A SIP port for baresip: it binds UDP and TCP on the port and its SIP/TLS transport on the port + 1, so both
    must be free.  Taken below the kernel's ephemeral range (32768-60999), where no client socket of another
    process (PostgreSQL, Redis, Chromium connections) can grab the + 1 port between this check and baresip's bind;
    a per-process counter keeps two baresips of one test apart."""
    for _ in range(500):
        port = next(_sip_base)
        if port > 19998:
            port = 12000 + port % 8000
        if _free_tcp_udp(host, port) and _free_tcp_udp(host, port + 1):
            return port
    raise RuntimeError("no free SIP port pair")


def free_port_block(count: int = 4, host: str = LOOPBACK) -> int:
    """The first of ``count`` consecutive UDP ports (even first) that are free right now."""
    for _ in range(200):
        base = random.randrange(40000, 60000, 2)
        socks = []
        try:
            for port in range(base, base + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(sock)
                sock.bind((host, port))
            return base
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError("no free port block")


def rtp_range(size: int = 40) -> tuple[int, int]:
    """A fresh RTP port range for one peer (distinct within this test run)."""
    base = next(_rtp_base)
    if base + size > 29990:
        base = 20000 + (base % 9000)
    return base, base + size


def wait_until(cond: Callable[[], object], timeout: float = 10.0, interval: float = 0.05, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what or cond}")


def write_tone(path: Path, freq: float, seconds: float, amplitude: float = 0.5, rate: int = 8000) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    samples = (np.sin(2 * np.pi * freq * t) * amplitude * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return path


def tone_pcm(freq: float, seconds: float, amplitude: float = 0.5, rate: int = 8000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    return bytes((np.sin(2 * np.pi * freq * t) * amplitude * 32767).astype("<i2").tobytes())


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as w:
        rate = w.getframerate()
        data = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        if w.getnchannels() > 1:
            data = data[:: w.getnchannels()]
    return data.astype(np.float64), rate


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    if len(samples) < 64:
        return 0.0
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    spectrum[0] = 0.0
    return float(np.fft.rfftfreq(len(samples), 1.0 / rate)[int(np.argmax(spectrum))])


@dataclass
class ToneReport:
    total_s: float
    active_s: float  # from first to last non-silent 20 ms frame
    frequency: float  # dominant frequency over the active part
    silent_holes: int  # silent 20 ms frames inside the active part
    longest_hole_ms: int


def analyse_tone(samples: np.ndarray, rate: int, silence_rms: float = 300.0) -> ToneReport:
    frame = rate // 50
    n = len(samples) // frame
    if n == 0:
        return ToneReport(0.0, 0.0, 0.0, 0, 0)
    rms = np.sqrt(np.mean(samples[: n * frame].reshape(n, frame) ** 2, axis=1))
    loud = np.flatnonzero(rms > silence_rms)
    if len(loud) == 0:
        return ToneReport(n / 50, 0.0, 0.0, 0, 0)
    first, last = int(loud[0]), int(loud[-1])
    quiet = rms[first : last + 1] <= silence_rms
    longest = run = 0
    for q in quiet:
        run = run + 1 if q else 0
        longest = max(longest, run)
    active = samples[first * frame : (last + 1) * frame]
    return ToneReport(n / 50, (last - first + 1) / 50, dominant_frequency(active, rate), int(quiet.sum()), longest * 20)


# ---------------------------------------------------------------- baresip


@dataclass
class Baresip:
    """One baresip user agent with its own config dir, SIP port, console port and RTP ports."""

    workdir: Path
    user: str = "caller"
    audio_source: Path | None = None
    auto_answer: bool = False
    sip_port: int = 0
    cons_port: int = 0
    rtp: tuple[int, int] = (0, 0)
    proc: subprocess.Popen[bytes] | None = None
    extra_account: str = ""  # appended to the account line (auth_pass=..., outbound=..., regint=...)
    extra_config: str = ""  # appended to the config file (sip_cafile ..., module srtp.so ...)
    log_path: Path = field(init=False)
    rec_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.sip_port = self.sip_port or free_sip_port()
        self.cons_port = self.cons_port or free_sip_port()
        self.rtp = self.rtp if self.rtp != (0, 0) else rtp_range()
        self.log_path = self.workdir / "baresip.log"
        self.rec_dir = self.workdir / "rec"
        self.rec_dir.mkdir(exist_ok=True)
        if self.audio_source is None:
            self.audio_source = write_tone(self.workdir / "source.wav", 1000.0, 30.0)
        self._write_config()

    @property
    def uri(self) -> str:
        return f"sip:{self.user}@{LOOPBACK}:{self.sip_port}"

    def _write_config(self) -> None:
        config = f"""poll_method epoll
sip_listen {LOOPBACK}:{self.sip_port}
net_interface {LOOPBACK}
audio_player alsa,null
audio_source aufile,{self.audio_source}
audio_alert alsa,null
rtp_ports {self.rtp[0]}-{self.rtp[1]}
call_max_calls 4
module_path /usr/lib/baresip/modules
module cons.so
module g711.so
module aufile.so
module alsa.so
module sndfile.so
module_app account.so
module_app menu.so
cons_listen {LOOPBACK}:{self.cons_port}
snd_path {self.rec_dir}
{self.extra_config}"""
        (self.workdir / "config").write_text(config)
        answer = ";answermode=auto" if self.auto_answer else ""
        account = f"<sip:{self.user}@{LOOPBACK}:{self.sip_port}>{answer}"
        account += self.extra_account if "regint=" in self.extra_account else ";regint=0" + self.extra_account
        (self.workdir / "accounts").write_text(account + "\n")

    def start(self, dial: str | None = None, seconds: int = 60) -> Baresip:
        args = ["stdbuf", "-o0", "-e0", "baresip", "-f", str(self.workdir), "-t", str(seconds)]  # unbuffered log
        if dial:
            args += ["-e", f"/dial {dial}"]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if dial is None:
            wait_until(lambda: "baresip is ready" in self.log(), 10, what=f"baresip {self.user} ready")
        return self

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, *texts: str, timeout: float = 10.0) -> None:
        """Wait until any of ``texts`` shows in baresip's (unbuffered) log."""
        wait_until(lambda: any(t in self.log() for t in texts), timeout, what=f"{texts!r} in {self.user}'s log")

    def wait_call_end(self, timeout: float = 10.0) -> None:
        """The remote ended the call (baresip logs either line, depending on timing)."""
        self.wait_log("session closed", "terminated", timeout=timeout)

    def console(self, text: str) -> None:
        """Send keys or a /command to baresip's UDP console."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(text.encode(), (LOOPBACK, self.cons_port))

    def press(self, digit: str) -> None:
        """Send one key during the call (baresip sends it as RFC 2833)."""
        self.console(digit)
        self.console("\x04")  # KEYCODE_REL: release the key, so the event gets its end packets

    def hangup(self) -> None:
        self.console("/hangup\n")

    def recording(self, kind: str = "dec") -> Path | None:
        """What baresip heard (``dec``) or sent (``enc``) in its last call."""
        files = sorted(self.rec_dir.glob(f"dump-*-{kind}.wav"))
        return files[-1] if files else None

    def recorded_seconds(self, kind: str = "dec") -> float:
        """Length of the last call's recording so far (baresip writes it as the call goes)."""
        path = self.recording(kind)
        if path is None:
            return 0.0
        try:
            return max(0, path.stat().st_size - 44) / 16000
        except FileNotFoundError:
            return 0.0

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if getattr(self, "_log", None) is not None:
            self._log.close()


# ---------------------------------------------------------------- SIPp


@dataclass
class SippResult:
    returncode: int
    stdout: str
    stderr: str
    messages: str  # -trace_msg log

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def run_sipp(
    scenario: str,
    target: str,
    workdir: Path,
    *,
    calls: int = 1,
    rate: float = 10.0,
    timeout: float = 30.0,
    extra: list[str] | None = None,
    media_port: int | None = None,
) -> SippResult:
    """Run a SIPp scenario from tests/ivr/peers against ``target`` (host:port) and wait for it to end."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    msg_file = workdir / f"{Path(scenario).stem}-messages.log"
    args = [
        "sipp",
        "-sf",
        str(PEERS_DIR / scenario),
        "-i",
        LOOPBACK,
        "-p",
        str(port),
        "-m",
        str(calls),
        "-l",
        str(calls),
        "-r",
        str(rate),
        "-rp",
        "1000",
        "-nostdin",
        "-timeout",
        f"{int(timeout)}s",
        "-timeout_error",
        "-trace_msg",
        "-message_file",
        str(msg_file),
        "-trace_err",
        "-error_file",
        str(workdir / "sipp-errors.log"),
        "-mi",
        LOOPBACK,
        "-mp",
        str(media_port or free_port_block(4)),
    ]
    args += extra or []
    args.append(target)
    env = dict(os.environ, TERM="dumb")
    proc = subprocess.run(args, capture_output=True, cwd=workdir, timeout=timeout + 15, env=env)
    messages = msg_file.read_text(errors="replace") if msg_file.exists() else ""
    return SippResult(
        proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"), messages
    )


class SippServer:
    """SIPp waiting for requests (UAS mode) on its own port, e.g. as a PBX registrar; ``wait()`` for its result."""

    def __init__(self, scenario: str, workdir: Path, *, calls: int = 1, timeout: float = 30.0) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.msg_file = workdir / f"{Path(scenario).stem}-messages.log"
        args = [
            "sipp", "-sf", str(PEERS_DIR / scenario), "-i", LOOPBACK, "-p", str(self.port), "-m", str(calls),
            "-nostdin", "-timeout", f"{int(timeout)}s", "-timeout_error", "-trace_msg",
            "-message_file", str(self.msg_file), "-mi", LOOPBACK, "-mp", str(free_port_block(4)),
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            args, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ, TERM="dumb")
        )
        self.timeout = timeout

    def wait(self) -> SippResult:
        try:
            out, err = self.proc.communicate(timeout=self.timeout + 15)
        finally:
            self.stop()
        messages = self.msg_file.read_text(errors="replace") if self.msg_file.exists() else ""
        return SippResult(self.proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"), messages)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
