"""Flow-engine figures: pure runner steps per second and whole simulated calls per second (real classifier).

Run: .venv/bin/python bench/flows_runner.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flows.setup import ContextFactory
from flows.simulate import Simulator
from tests.kit.classifier import FakeClassifier

CALLS = {
    "accept": ["我家门口路灯坏了", "朝阳区建国路街道幸福小区三号楼", "昨天晚上", "整条路都是黑的",
               "幺三八幺二三四五六七八", "对"],
    "emergency": ["仓库着火了"],
    "decline": ["那栋楼坏了我家风水 要求拆了", "我不服"],
    "no_input": ["", "", "", "", ""],
}


def run(factory: ContextFactory, rounds: int) -> tuple[float, int]:
    steps = 0
    start = time.perf_counter()
    for _ in range(rounds):
        for turns in CALLS.values():
            sim = Simulator(factory.new_context())
            sim.start()
            for turn in turns:
                sim.turn(turn)
            steps += len(sim.output)
    return time.perf_counter() - start, steps


def main() -> None:
    for name, classifier in (("table classifier (runner only)", FakeClassifier()), ("policy classifier", None)):
        factory = ContextFactory.from_config(classifier=classifier)
        factory.new_context()
        rounds = 200
        seconds, lines = run(factory, rounds)
        calls = rounds * len(CALLS)
        print(f"{name}: {calls} simulated calls in {seconds:.2f} s = {calls / seconds:.0f} calls/s, "
              f"{lines / seconds:.0f} actions/s, {1000 * seconds / calls:.2f} ms per call")


if __name__ == "__main__":
    main()
