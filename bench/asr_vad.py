"""VAD comparison on generated audio: webrtcvad vs Silero, clean and with white noise.

Prints per engine and SNR: frame recall on speech, false alarms on silence, endpointer start/end error, false
utterances in noise-only audio, and CPU per 20 ms frame.  Usage: .venv/bin/python bench/asr_vad.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from asr import endpointer as ep
from asr.synth import add_noise, frames, noise, say, silence
from asr.vad import make_vad

PHRASES = ["안녕하세요", "감사합니다", "서울 시청", "하나 둘 셋 넷", "아니요", "네 맞습니다", "주소를 말씀해 주세요"]
LEAD, TAIL = 1.0, 1.5


def truth(pcm: bytes) -> list[bool]:
    return [
        float(np.sqrt(np.mean(np.frombuffer(f, dtype=np.int16).astype(np.float64) ** 2))) > 150 for f in frames(pcm)
    ]


def endpoint(flags: list[bool]) -> tuple[float | None, float | None, int]:
    state, _ = ep.step(ep.State(), ep.Arm(ep.Params(no_input_timeout=99, end_silence=0.5), 0.0))
    start = end = None
    count = 0
    for i, v in enumerate(flags):
        state, actions = ep.step(state, ep.Frame(v, i * 0.02))
        for a in actions:
            if isinstance(a, ep.StartSpeech):
                count += 1
                start = a.at if start is None else start
            if isinstance(a, ep.EndSpeech):
                end = a.end
                state, _ = ep.step(state, ep.Arm(ep.Params(no_input_timeout=99, end_silence=0.5), i * 0.02))
    return start, end, count


def main() -> None:
    engines = ["webrtc", "silero", "auto"]
    print(
        f"{'engine':8} {'snr':>5} {'recall':>7} {'false+':>7} {'start err ms':>13} {'end err ms':>11} "
        f"{'noise-only utts/10s':>19} {'µs/frame':>9}"
    )
    for snr in (None, 20.0, 10.0, 5.0, 0.0):
        for engine in engines:
            tp = fn = fp = tn = 0
            start_err: list[float] = []
            end_err: list[float] = []
            cpu = 0.0
            nframes = 0
            for k, text in enumerate(PHRASES):
                speech = say(text)
                clean = silence(LEAD) + speech + silence(TAIL)
                gt = truth(clean)
                audio = clean if snr is None else add_noise(clean, snr, seed=k, reference=speech)
                vad = make_vad(engine)
                t0 = time.process_time()
                flags = [vad.speech(f) for f in frames(audio)]
                cpu += time.process_time() - t0
                nframes += len(flags)
                for g, f in zip(gt, flags, strict=False):
                    tp += g and f
                    fn += g and not f
                    fp += f and not g
                    tn += not f and not g
                s, e, _ = endpoint(flags)
                gs = gt.index(True) * 0.02
                ge = (len(gt) - gt[::-1].index(True)) * 0.02
                if s is not None:
                    start_err.append((s - gs) * 1000)
                if e is not None:
                    end_err.append((e - ge) * 1000)
            level = 1000.0 / (10 ** ((snr or 60) / 20))
            vad = make_vad(engine)
            _, _, false_utts = endpoint([vad.speech(f) for f in frames(noise(10.0, level, seed=99))])
            print(
                f"{engine:8} {('clean' if snr is None else f'{snr:.0f}dB'):>5} {tp / max(1, tp + fn):7.2f} "
                f"{fp / max(1, fp + tn):7.2f} {np.median(start_err) if start_err else float('nan'):13.0f} "
                f"{np.median(end_err) if end_err else float('nan'):11.0f} {false_utts:19d} "
                f"{cpu / nframes * 1e6:9.1f}"
            )


if __name__ == "__main__":
    main()
