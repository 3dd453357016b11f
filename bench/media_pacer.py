"""Benchmark: N MediaSessions on one shared pacer sending real RTP over UDP loopback.

Each session plays audio (G.711-encoded once per prompt, sliced per frame) to a sink process that records the
kernel arrival time of every packet (SO_TIMESTAMPNS, so the sink's own scheduling does not pollute the figures)
and, unless --no-echo, echoes every packet back, so the sessions also receive, de-jitter and decode 50 packets/s
each (like SIPp -rtp_echo).  Prints, per N: CPU % of one core (this process only), CPU per call, pacer lateness,
drift over the run, and the p99 / max inter-packet interval jitter per SSRC measured at the receiver.

    .venv/bin/python bench/media_pacer.py                 # 50, 150, 300 calls, 30 s each
    .venv/bin/python bench/media_pacer.py --calls 300 --seconds 10
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import socket
import struct
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ivr.clock import LoopClock
from ivr.media import MediaSession, Pacer
from ivr.media.pacer import PacerStats

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)


def sink_main(port: int, echo: bool, conn: Connection) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    sock.bind(("127.0.0.1", port))
    sock.settimeout(0.5)
    conn.send("ready")
    ssrcs: list[int] = []
    seqs: list[int] = []
    tss: list[int] = []
    times: list[float] = []
    recording = False
    while True:
        if conn.poll():
            cmd = conn.recv()
            if cmd == "record":
                recording = True
            elif cmd == "stop":
                break
        try:
            data, anc, _flags, addr = sock.recvmsg(2048, 64)
        except TimeoutError:
            continue
        if echo:
            try:
                sock.sendto(data, addr)
            except OSError:
                pass
        if not recording or len(data) < 12:
            continue
        t = 0.0
        for level, kind, cdata in anc:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", cdata[:16])
                t = sec + nsec / 1e9
        seq, ts, ssrc = struct.unpack_from("!HII", data, 2)
        ssrcs.append(ssrc)
        seqs.append(seq)
        tss.append(ts)
        times.append(t)
    conn.send(analyse(np.array(ssrcs, np.uint32), np.array(seqs, np.int64), np.array(tss, np.int64), np.array(times)))


def analyse(ssrcs: np.ndarray, seqs: np.ndarray, tss: np.ndarray, times: np.ndarray) -> dict[str, float]:
    """Per SSRC: |interval - 20 ms| between consecutive packets; drift of arrival against the RTP timestamps."""
    jitters = []
    p99s = []
    drifts = []
    counts = []
    for ssrc in np.unique(ssrcs):
        sel = ssrcs == ssrc
        s = np.unwrap(seqs[sel], period=65536)
        t = times[sel]
        order = np.argsort(s, kind="stable")
        s, t = s[order], t[order]
        rtp_ts = np.unwrap(tss[sel][order], period=2**32)
        if len(s) < 3:
            continue
        gaps = np.diff(s)
        dt = np.diff(t)
        ok = gaps == 1
        j = np.abs(dt[ok] - 0.020)
        jitters.append(j)
        p99s.append(np.percentile(j, 99))
        # drift: arrival offset against the stream's RTP clock, median of the last tenth minus the first tenth
        offset = t - rtp_ts / 8000.0
        tenth = max(1, len(offset) // 10)
        drifts.append(float(np.median(offset[-tenth:]) - np.median(offset[:tenth])))
        counts.append(len(s))
    allj = np.concatenate(jitters) if jitters else np.zeros(1)
    return {
        "streams": len(counts),
        "packets": int(sum(counts)),
        "p50_jitter_ms": float(np.percentile(allj, 50) * 1000),
        "p99_jitter_ms": float(np.percentile(allj, 99) * 1000),
        "worst_stream_p99_ms": float(max(p99s) * 1000) if p99s else 0.0,
        "max_jitter_ms": float(allj.max() * 1000),
        "max_abs_drift_ms": float(np.max(np.abs(drifts)) * 1000) if drifts else 0.0,
        "mean_drift_ms": float(np.mean(drifts) * 1000) if drifts else 0.0,
    }


def instrument_ticks(pacer: Pacer) -> dict[str, float]:
    """Wrap the pacer's timer callback to measure wall and process-CPU time spent per tick.

    ``cpu / wall`` inside ticks below 1 means the process was descheduled while it had work to do (other
    processes on the same CPUs), which is what turns into pacing lateness on a shared machine.
    """
    acc = {"ticks": 0.0, "wall": 0.0, "cpu": 0.0, "max_wall": 0.0}
    fire = pacer._fire

    def timed() -> None:
        w0, c0 = time.monotonic(), time.process_time()
        fire()
        w = time.monotonic() - w0
        acc["ticks"] += 1
        acc["wall"] += w
        acc["cpu"] += time.process_time() - c0
        acc["max_wall"] = max(acc["max_wall"], w)

    pacer._fire = timed  # type: ignore[method-assign]
    return acc


def tick_figures(a0: dict[str, float], a1: dict[str, float]) -> dict[str, float]:
    ticks = max(1.0, a1["ticks"] - a0["ticks"])
    wall = a1["wall"] - a0["wall"]
    cpu = a1["cpu"] - a0["cpu"]
    return {
        "tick_wall_ms_mean": 1000 * wall / ticks,
        "tick_cpu_ms_mean": 1000 * cpu / ticks,
        "cpu_share_in_ticks": cpu / wall if wall else 0.0,
        "tick_wall_ms_max": 1000 * a1["max_wall"],
    }


def system_busy() -> tuple[float, float]:
    with open("/proc/stat") as f:
        parts = [float(x) for x in f.readline().split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)


async def run(n: int, seconds: float, sink_port: int, with_sink: bool, conn: Connection) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    clock = LoopClock(loop)
    pacer = Pacer(clock)
    acc = instrument_ticks(pacer)
    t = np.arange(8000 * 10) / 8000
    audio = 6000 * np.sin(2 * np.pi * 440 * t) + 600 * np.random.default_rng(1).standard_normal(len(t))
    pcm = audio.astype("<i2").tobytes()
    sessions = []
    received = [0]

    def sink(frame: bytes) -> None:
        received[0] += 1

    for _ in range(n):
        s = MediaSession(local_host="127.0.0.1", port_range=(20000, 29999), pacer=pacer, clock=clock, loop=loop)
        s.open()
        s.set_remote("127.0.0.1", sink_port, payload_type=0, codec="PCMU", dtmf_payload_type=101)
        if with_sink:
            s.set_audio_sink(sink)
        for _ in range(int(seconds // 10) + 2):
            s.play(pcm)
        sessions.append(s)
    await asyncio.sleep(1.0)  # warm-up
    conn.send("record")
    pacer.stats = PacerStats()
    acc0 = dict(acc)
    busy0, total0 = system_busy()
    cpu0, wall0 = time.process_time(), time.monotonic()
    lag0 = (clock.now() - pacer.deadline(0)) / pacer.frame - pacer.frame_no
    await asyncio.sleep(seconds)
    cpu1, wall1 = time.process_time(), time.monotonic()
    busy1, total1 = system_busy()
    lag1 = (clock.now() - pacer.deadline(0)) / pacer.frame - pacer.frame_no
    ticks = tick_figures(acc0, acc)
    stats = [s.stats() for s in sessions]
    for s in sessions:
        s.close()
    pacer.stop()
    wall = wall1 - wall0
    ncpu = os.cpu_count() or 1
    return {
        "cpu_pct_one_core": 100 * (cpu1 - cpu0) / wall,
        "cpu_pct_per_call": 100 * (cpu1 - cpu0) / wall / n,
        "pacer_drift_frames": lag1 - lag0,  # frames due but not produced, end minus start (<0: none owed)
        "pacer_max_lateness_ms": pacer.stats.max_lateness * 1000,
        "pacer_p99_lateness_ms_le": pacer.stats.lateness_percentile(0.99),
        "pacer_late_ticks_gt5ms": pacer.stats.late_ticks,
        "pacer_catchup_frames": pacer.stats.catchup_frames,
        "pacer_skipped_frames": pacer.stats.skipped_frames,
        "sent_pps": sum(int(s["sent"]) for s in stats) / (wall + 1.0),
        "received_pps": sum(int(s["received"]) for s in stats) / (wall + 1.0),
        "lost": sum(int(s["lost"]) for s in stats),
        "late": sum(int(s["late"]) for s in stats),
        "send_errors": sum(int(s["send_errors"]) for s in stats),
        "machine_busy_pct": 100 * (busy1 - busy0) / max(1.0, total1 - total0) * ncpu,
        **ticks,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, nargs="+", default=[50, 150, 300])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--no-echo", action="store_true", help="send only (the sink does not echo)")
    parser.add_argument("--no-audio-sink", action="store_true", help="do not decode received audio to PCM")
    parser.add_argument("--sink-port", type=int, default=39990)
    parser.add_argument("--nice", type=int, default=0, help="renice this process (not the sink), e.g. -10 as root")
    args = parser.parse_args()
    print(
        f"# media_pacer: {args.seconds:.0f} s per run, echo={'no' if args.no_echo else 'yes'}, "
        f"cpus={os.cpu_count()}, loadavg before={os.getloadavg()[0]:.2f}"
    )
    for n in args.calls:
        parent, child = mp.Pipe()
        proc = mp.Process(target=sink_main, args=(args.sink_port, not args.no_echo, child), daemon=True)
        proc.start()
        if args.nice:
            os.setpriority(os.PRIO_PROCESS, 0, args.nice)  # after forking the sink: only the IVR side
        parent.recv()
        res = asyncio.run(run(n, args.seconds, args.sink_port, not args.no_audio_sink, parent))
        parent.send("stop")
        rx = parent.recv()
        proc.join(5)
        res.update(rx)
        res["loadavg_1m"] = os.getloadavg()[0]
        print(
            f"calls={n:4d} " + " ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in res.items()),
            flush=True,
        )


if __name__ == "__main__":
    main()
