"""Prompt rendering figures: cold catalogue render, cache-hit latency, synthesis time per dynamic sentence.

Run: .venv/bin/python bench/prompts_bench.py [--sentences 30]
Uses a temporary cache directory; real pyttsx3 + espeak-ng (worker process), soxr HQ to 8 kHz.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.prompts import PromptsConfig
from prompts.normalize import normalize
from prompts.pinyin import to_pinyin
from prompts.service import PromptService


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sentences", type=int, default=30)
    ap.add_argument("--hits", type=int, default=20000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = PromptsConfig(cache_dir=tmp)
        svc = PromptService.from_config(cfg)
        t0 = time.perf_counter()
        svc.say("预热")  # worker start-up
        startup = time.perf_counter() - t0
        t0 = time.perf_counter()
        done = svc.render_all()
        cold = time.perf_counter() - t0
        audio_s = sum(r.seconds for r in done)
        tts = [r for r in done if r.source == "tts"]
        print(f"worker start + first sentence:   {startup * 1000:.0f} ms")
        print(
            f"cold render of the catalogue:    {cold:.2f} s for {len(done)} prompts ({len(tts)} synthesized), "
            f"{audio_s:.0f} s of audio, {audio_s / cold:.0f}x real time"
        )

        lat = []
        for _ in range(args.hits):
            t = time.perf_counter_ns()
            svc.audio("greeting")
            lat.append((time.perf_counter_ns() - t) / 1000)
        print(
            f"memory cache hit audio():        median {statistics.median(lat):.2f} us, "
            f"p99 {_pct(lat, 0.99):.2f} us, max {max(lat):.0f} us ({args.hits} calls)"
        )
        slots = {"category": "路灯", "address": "朝阳区建国路88号", "time": "昨天晚上8点", "phone": "13812345678"}
        svc.audio("confirm.readback", slots)
        lat = []
        for _ in range(args.hits):
            t = time.perf_counter_ns()
            svc.audio("confirm.readback", slots)
            lat.append((time.perf_counter_ns() - t) / 1000)
        print(f"memory cache hit with slots:     median {statistics.median(lat):.2f} us, p99 {_pct(lat, 0.99):.2f} us")

        fresh = PromptService.from_config(cfg)
        disk = []
        for pid in fresh.catalogue.ids():
            if fresh.catalogue.get(pid).slots:
                continue
            t = time.perf_counter_ns()
            fresh.audio(pid)
            disk.append((time.perf_counter_ns() - t) / 1e6)
        print(
            f"disk cache hit (new service):    median {statistics.median(disk):.3f} ms, "
            f"max {max(disk):.3f} ms, synth calls {fresh.tts.synth_count}"
        )
        fresh.close()

        per, prep, seconds = [], [], []
        for i in range(args.sentences):
            values = dict(slots, address=f"海淀区中关村大街{i + 1}号院{(i * 7) % 30 + 1}号楼", phone=f"1391000{i:04d}")
            t = time.perf_counter()
            spoken = svc.spoken_text("confirm.readback", values)
            to_pinyin(normalize(spoken))
            prep.append(time.perf_counter() - t)
            t = time.perf_counter()
            pcm = svc.audio("confirm.readback", values)
            per.append(time.perf_counter() - t)
            seconds.append(len(pcm) / 16000)
        print(
            f"dynamic sentence (readback):     median {statistics.median(per) * 1000:.0f} ms, "
            f"p90 {_pct(per, 0.9) * 1000:.0f} ms for {statistics.median(seconds):.1f} s of audio "
            f"(normalise + pinyin {statistics.median(prep) * 1000:.2f} ms), {args.sentences} sentences"
        )
        svc.close()


if __name__ == "__main__":
    main()
