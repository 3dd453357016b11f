"""Benchmark: N concurrent SIPp calls with media against ``hotline serve`` (N = 50, 150, 300 by default).

For each N: SIPp (UAC, ``-rtp_echo``) places N calls at ``--rate`` calls/s and holds them; the IVR runs the load
application below (plays a 10 s tone+noise prompt in a loop, with an audio sink on every leg, so it encodes,
sends, receives, de-jitters and decodes 50 packets/s each way per call).  Once all N calls are up, a window of
``--seconds`` is measured:
- CPU of the ``hotline serve`` process (utime+stime from /proc) as % of one core, and per call;
- the engine's pacer: lateness histogram, catch-up / skipped frames, frames vs wall clock (drift);
- tcpdump on lo of every RTP packet the IVR sends: p99 inter-packet interval jitter per SSRC, drift of each
  stream against a perfect 20 ms clock;
- failed calls (SIPp statistics) and the machine load (other processes share the CPUs).
Then the call setup rate: bursts of short calls at rising rates until SIPp reports failures.

    .venv/bin/python bench/sip_load.py                      # full run (30 s windows)
    .venv/bin/python bench/sip_load.py --calls 300 --seconds 10 --no-setup-rate

``sip_load:build_app`` is also the ``--app`` factory ``hotline serve`` runs here (bench/ is put on PYTHONPATH).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gc
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
STATS_ENV = "SIPLOAD_STATS"
RTP_PORTS = (20000, 29999)
sys.path.insert(0, str(Path(__file__).resolve().parent))
from media_pacer import tick_figures  # noqa: E402

# ---------------------------------------------------------------------------------------------------------------
# the application run inside hotline serve


def build_app(engine: Any) -> Any:
    """``--app`` factory: every call hears a prompt in a loop until the caller hangs up."""
    from ivr.app import Call, HangupEvent, PlaybackFinished

    t = np.arange(8000 * 10) / 8000
    pcm = 6000 * np.sin(2 * np.pi * 440 * t) + 500 * np.random.default_rng(1).standard_normal(len(t))
    prompt = pcm.astype("<i2").tobytes()
    stats_path = os.environ.get(STATS_ENV)
    frames_in = [0]

    def sink(frame: bytes) -> None:
        frames_in[0] += 1

    async def dump_stats() -> None:
        while stats_path:
            pacer = getattr(engine, "pacer", None)
            if pacer is not None:
                s = pacer.stats
                data = {
                    "t": pacer.clock.now(),
                    "frame_no": pacer.frame_no,
                    "t0": pacer.deadline(0),
                    "ticks": s.ticks,
                    "frames": s.frames,
                    "late_ticks": s.late_ticks,
                    "catchup_frames": s.catchup_frames,
                    "skipped_frames": s.skipped_frames,
                    "max_lateness": s.max_lateness,
                    "lateness_hist": list(s.lateness_hist),
                    "errors": s.errors,
                    "sessions": pacer.sessions,
                    "frames_in": frames_in[0],
                    "tick_acc": tick_acc.get("acc", {}),
                    "gc_count": gc_pause["count"],
                    "gc_total_s": gc_pause["total"],
                    "gc_max_pause_s": gc_pause["max"],
                }
                tmp = stats_path + ".tmp"
                Path(tmp).write_text(json.dumps(data))
                os.replace(tmp, stats_path)
            await asyncio.sleep(0.5)

    started: list[asyncio.Task[None]] = []
    tick_acc: dict[str, dict[str, float]] = {}
    gc_pause = {"count": 0, "max": 0.0, "total": 0.0, "start": 0.0}

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_pause["start"] = time.perf_counter()
            return
        pause = time.perf_counter() - gc_pause["start"]
        gc_pause["count"] += 1
        gc_pause["total"] += pause
        gc_pause["max"] = max(gc_pause["max"], pause)

    gc.callbacks.append(on_gc)

    async def handler(call: Call) -> None:
        if not started:
            started.append(asyncio.get_running_loop().create_task(dump_stats()))
            from media_pacer import instrument_ticks

            tick_acc["acc"] = instrument_ticks(engine.pacer)
        call.set_audio_sink(sink)
        call.play(prompt)
        while True:
            event = await call.next_event()
            if isinstance(event, HangupEvent):
                return
            if isinstance(event, PlaybackFinished) and event.completed:
                call.play(prompt)

    return handler


# ---------------------------------------------------------------------------------------------------------------
# the load driver

SCENARIO = """<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="hotline load">
  <send retrans="500">
    <![CDATA[
      INVITE sip:12345@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "load" <sip:load[call_number]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:12345@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:load@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=load 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15
      a=ptime:20
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rtd="true"/>
  <send>
    <![CDATA[
      ACK sip:12345@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "load" <sip:load[call_number]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:12345@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: <sip:load@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <pause/>
  <send retrans="500">
    <![CDATA[
      BYE sip:12345@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "load" <sip:load[call_number]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:12345@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Contact: <sip:load@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" crlf="true"/>
  <ResponseTimeRepartition value="10, 20, 50, 100, 200, 500, 1000"/>
</scenario>
"""


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    parts = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read_pcap(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(ssrc, seq, RTP timestamp, time) of every RTP packet in a tcpdump capture (EN10MB or LINUX_SLL)."""
    data = path.read_bytes()
    if len(data) < 24:
        return np.zeros(0, np.uint32), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    magic = struct.unpack_from("<I", data)[0]
    e = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
    link = struct.unpack_from(e + "I", data, 20)[0]
    l2 = {1: 14, 113: 16, 276: 20}.get(link, 14)
    ssrcs, seqs, tss, times = [], [], [], []
    off = 24
    n = len(data)
    while off + 16 <= n:
        sec, frac, incl, _ = struct.unpack_from(e + "IIII", data, off)
        pkt = off + 16
        off = pkt + incl
        ip = pkt + l2
        if off > n or data[ip] >> 4 != 4 or data[ip + 9] != 17:
            continue
        udp = ip + (data[ip] & 0x0F) * 4
        rtp = udp + 8
        if rtp + 12 > off or data[rtp] & 0xC0 != 0x80 or 200 <= data[rtp + 1] <= 204:
            continue
        seq, ts, ssrc = struct.unpack_from("!HII", data, rtp + 2)
        ssrcs.append(ssrc)
        seqs.append(seq)
        tss.append(ts)
        times.append(sec + frac / (1e9 if nano else 1e6))
    return np.array(ssrcs, np.uint32), np.array(seqs, np.int64), np.array(tss, np.int64), np.array(times)


def analyse_streams(
    ssrcs: np.ndarray, seqs: np.ndarray, tss: np.ndarray, times: np.ndarray, t_from: float, t_to: float
) -> dict:
    """Per SSRC: |interval - 20 ms| between consecutive packets; drift of arrival against the RTP timestamps."""
    sel = (times >= t_from) & (times <= t_to)
    ssrcs, seqs, tss, times = ssrcs[sel], seqs[sel], tss[sel], times[sel]
    all_j, p99s, drifts, gaps_over_40 = [], [], [], 0
    for ssrc in np.unique(ssrcs):
        m = ssrcs == ssrc
        s = np.unwrap(seqs[m], period=65536)
        t = times[m]
        order = np.argsort(s, kind="stable")
        s, t = s[order], t[order]
        rtp_ts = np.unwrap(tss[m][order], period=2**32)
        if len(s) < 50:
            continue
        dt = np.diff(t)
        consecutive = np.diff(s) == 1
        j = np.abs(dt[consecutive] - 0.020)
        gaps_over_40 += int(np.sum(dt > 0.040))
        all_j.append(j)
        p99s.append(np.percentile(j, 99))
        offset = t - rtp_ts / 8000.0
        tenth = max(1, len(offset) // 10)
        drifts.append(float(np.median(offset[-tenth:]) - np.median(offset[:tenth])))
    if not all_j:
        return {"streams": 0}
    j = np.concatenate(all_j)
    return {
        "streams": len(p99s),
        "packets": len(times),
        "pps": round(len(times) / max(1e-9, t_to - t_from), 1),
        "p50_jitter_ms": round(float(np.percentile(j, 50)) * 1000, 3),
        "p99_jitter_ms": round(float(np.percentile(j, 99)) * 1000, 3),
        "worst_stream_p99_ms": round(float(max(p99s)) * 1000, 3),
        "max_jitter_ms": round(float(j.max()) * 1000, 3),
        "intervals_over_40ms": gaps_over_40,
        "max_stream_drift_ms_over_window": round(float(np.max(np.abs(drifts))) * 1000, 3),
        "mean_stream_drift_ms_over_window": round(float(np.mean(drifts)) * 1000, 3),
    }


class Ivr:
    def __init__(self, workdir: Path, port: int, nice: int) -> None:
        self.stats_path = workdir / "ivr_stats.json"
        self.stats_path.unlink(missing_ok=True)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "bench"), str(ROOT), env.get("PYTHONPATH", "")])
        env[STATS_ENV] = str(self.stats_path)
        env["HOTLINE_IVR__MAX_CALLS"] = "2000"
        env["HOTLINE_IVR__RTP_PORT_MIN"] = str(RTP_PORTS[0])  # below the ephemeral range SIPp's ports come from
        env["HOTLINE_IVR__RTP_PORT_MAX"] = str(RTP_PORTS[1])
        cmd = [
            sys.executable,
            "-m",
            "hotline",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--transport",
            "udp",
            "--app",
            "sip_load:build_app",
        ]
        self.log = open(workdir / "ivr.log", "w")
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=(lambda: os.nice(nice)) if nice else None,
        )
        deadline = time.monotonic() + 20
        while "listening" not in (workdir / "ivr.log").read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("hotline serve did not start:\n" + (workdir / "ivr.log").read_text())
            time.sleep(0.2)

    def stats(self) -> dict[str, Any]:
        try:
            return dict(json.loads(self.stats_path.read_text()))
        except (OSError, ValueError):
            return {}

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def sipp_cmd(
    scenario: Path,
    workdir: Path,
    ivr_port: int,
    *,
    calls: int,
    rate: float,
    hold_ms: int,
    tag: str,
    media_port: int = 0,
) -> list[str]:
    return [
        "sipp",
        "-sf",
        str(scenario),
        "-i",
        "127.0.0.1",
        "-p",
        str(free_port()),
        "-m",
        str(calls),
        "-l",
        str(calls),
        "-r",
        str(rate),
        "-rp",
        "1000",
        "-d",
        str(hold_ms),
        "-mi",
        "127.0.0.1",
        "-mp",
        str(media_port or free_port() & ~1),
        "-rtp_echo",
        "-nostdin",
        "-max_socket",
        "4000",
        "-trace_stat",
        "-stf",
        str(workdir / f"{tag}.csv"),
        "-fd",
        "1",
        f"127.0.0.1:{ivr_port}",
    ]


def sipp_totals(path: Path) -> dict[str, int]:
    try:
        rows = list(csv.DictReader(path.read_text().splitlines(), delimiter=";"))
    except OSError:
        return {}
    if not rows:
        return {}
    last = rows[-1]
    return {k: int(last[f"{k}(C)"]) for k in ("SuccessfulCall", "FailedCall") if f"{k}(C)" in last}


def run_concurrent(n: int, args: argparse.Namespace, workdir: Path, scenario: Path) -> dict[str, Any]:
    port = free_port()
    ivr = Ivr(workdir, port, args.nice)
    pcap = workdir / f"rtp_{n}.pcap"
    media_port = free_port() & ~1
    setup_s = n / args.rate
    hold_ms = int((setup_s + args.seconds + 6) * 1000)
    tcpdump = subprocess.Popen(
        [
            "tcpdump",
            "-i",
            "lo",
            "-n",
            "-B",
            "32768",
            "-s",
            "64",
            "-w",
            str(pcap),
            f"udp and src portrange {RTP_PORTS[0]}-{RTP_PORTS[1]} and dst port {media_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)
    sipp = subprocess.Popen(
        sipp_cmd(scenario, workdir, port, calls=n, rate=args.rate, hold_ms=hold_ms, tag=f"c{n}", media_port=media_port),
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / f"sipp_c{n}.err", "w"),
    )
    time.sleep(setup_s + 3.0)  # every call up and settled
    st0 = ivr.stats()
    cpu0, busy0, wall0, wall_clock0 = proc_cpu_seconds(ivr.proc.pid), machine_busy(), time.monotonic(), time.time()
    time.sleep(args.seconds)
    cpu1, busy1, wall1, wall_clock1 = proc_cpu_seconds(ivr.proc.pid), machine_busy(), time.monotonic(), time.time()
    st1 = ivr.stats()
    load = os.getloadavg()[0]
    try:
        sipp.wait(hold_ms / 1000 + 60)
    except subprocess.TimeoutExpired:
        sipp.kill()
    tcpdump.send_signal(signal.SIGINT)
    tcpdump.wait(10)
    ivr.stop()
    wall = wall1 - wall0
    hist = [b - a for a, b in zip(st0.get("lateness_hist", []), st1.get("lateness_hist", []), strict=False)]
    frames = st1.get("frames", 0) - st0.get("frames", 0)
    sipp_stats = sipp_totals(workdir / f"c{n}.csv")
    out: dict[str, Any] = {
        "calls": n,
        "sessions_seen": st1.get("sessions"),
        "cpu_pct_one_core": round(100 * (cpu1 - cpu0) / wall, 1),
        "cpu_pct_per_call": round(100 * (cpu1 - cpu0) / wall / n, 3),
        "pacer_frames_minus_wall_frames": round(frames - (st1.get("t", 0) - st0.get("t", 0)) / 0.02, 2),
        "pacer_late_ticks_gt5ms": st1.get("late_ticks", 0) - st0.get("late_ticks", 0),
        "pacer_catchup_frames": st1.get("catchup_frames", 0) - st0.get("catchup_frames", 0),
        "pacer_skipped_frames": st1.get("skipped_frames", 0) - st0.get("skipped_frames", 0),
        "pacer_lateness_hist_ms(<=.5,1,2,5,10,20,50,100,inf)": hist,
        "gc_runs": st1.get("gc_count", 0) - st0.get("gc_count", 0),
        "gc_pause_total_ms": round((st1.get("gc_total_s", 0) - st0.get("gc_total_s", 0)) * 1000, 1),
        "gc_max_pause_ms_whole_run": round(st1.get("gc_max_pause_s", 0) * 1000, 2),
        **(
            {k: round(v, 3) for k, v in tick_figures(st0["tick_acc"], st1["tick_acc"]).items()}
            if st0.get("tick_acc") and st1.get("tick_acc")
            else {}
        ),
        "ivr_frames_in_per_s": round((st1.get("frames_in", 0) - st0.get("frames_in", 0)) / wall, 1),
        "sipp_successful": sipp_stats.get("SuccessfulCall"),
        "sipp_failed": sipp_stats.get("FailedCall"),
        "machine_busy_pct_of_2_cores": round(
            100 * (busy1[0] - busy0[0]) / max(1.0, busy1[1] - busy0[1]) * (os.cpu_count() or 1), 1
        ),
        "loadavg_1m": round(load, 2),
    }
    out.update(analyse_streams(*read_pcap(pcap), wall_clock0, wall_clock1))
    if sipp_stats.get("FailedCall"):
        out["sipp_stderr"] = (workdir / f"sipp_c{n}.err").read_text()[-500:]
        out["ivr_log_tail"] = (workdir / "ivr.log").read_text()[-500:]
    pcap.unlink(missing_ok=True)
    return out


def run_setup_rate(args: argparse.Namespace, workdir: Path, scenario: Path) -> list[dict[str, Any]]:
    port = free_port()
    ivr = Ivr(workdir, port, args.nice)
    results = []
    try:
        for rate in args.setup_rates:
            calls = int(rate * args.setup_seconds)
            tag = f"rate{rate}"
            start = time.monotonic()
            subprocess.run(
                sipp_cmd(scenario, workdir, port, calls=calls, rate=rate, hold_ms=2000, tag=tag),
                cwd=workdir,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=args.setup_seconds + 60,
            )
            totals = sipp_totals(workdir / f"{tag}.csv")
            results.append(
                {
                    "rate_cps": rate,
                    "calls": calls,
                    **totals,
                    "elapsed_s": round(time.monotonic() - start, 1),
                    "attempted_cps_sustained": round(calls / max(1e-9, time.monotonic() - start - 2.0), 1),
                }
            )
            print("setup", json.dumps(results[-1]), flush=True)
            if totals.get("FailedCall", 1):
                break
            time.sleep(3)
    finally:
        ivr.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, nargs="*", default=[50, 150, 300])
    parser.add_argument("--seconds", type=float, default=30.0, help="measured window once all calls are up")
    parser.add_argument("--rate", type=float, default=30.0, help="call setup rate while ramping up (calls/s)")
    parser.add_argument("--nice", type=int, default=0, help="renice hotline serve by this (e.g. -10; needs root)")
    parser.add_argument("--no-setup-rate", action="store_true")
    parser.add_argument("--setup-rates", type=int, nargs="+", default=[25, 50, 100, 200, 300, 400, 600, 800])
    parser.add_argument("--setup-seconds", type=float, default=8.0)
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, SIPp stats)")
    args = parser.parse_args()
    for tool in ("sipp", "tcpdump"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found (apt-get install sip-tester tcpdump)")
    workdir = Path(tempfile.mkdtemp(prefix="sip_load_"))
    scenario = workdir / "load.xml"
    scenario.write_text(SCENARIO)
    print(
        f"# sip_load: window {args.seconds:.0f} s, ramp {args.rate:.0f} cps, nice {args.nice}, "
        f"cpus {os.cpu_count()}, loadavg {os.getloadavg()[0]:.2f}, workdir {workdir}",
        flush=True,
    )
    for n in args.calls:
        print(json.dumps(run_concurrent(n, args, workdir, scenario)), flush=True)
    if not args.no_setup_rate:
        run_setup_rate(args, workdir, scenario)
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
