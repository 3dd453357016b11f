"""Classifier accuracy on a labelled corpus (one JSON object per line: text, disposition, category, channel, rule).

    .venv/bin/python bench/classifier_accuracy.py --corpus tests/corpus/dev.jsonl [--errors]
    .venv/bin/python bench/classifier_accuracy.py --cross [--errors]

Prints aggregate figures only: disposition accuracy, emergency recall (and how many emergencies were confirmed
first), the per-class confusion matrix, category/channel/rule accuracy where labelled, and time per utterance.
``--errors`` lists the misclassified lines; it is refused for a held-out corpus (its lines are never printed).

``--cross`` measures generalisation on the training data itself: each author's file in
flows/classifier/training (author*.jsonl; generated files such as slot_answers.jsonl always stay in training) is
classified by a classifier whose learned model was trained without that file (leave one author out). The keyword
rules were tuned on some of these files, so this figure is optimistic for the rules; a held-out corpus nobody has
read (tests/corpus/heldout4_*.jsonl) is the figure that counts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flows.classifier import Classification, Classifier  # noqa: E402
from flows.classifier.learned import default_sources  # noqa: E402
from flows.policy import DISPOSITIONS, load_policy  # noqa: E402


@dataclass
class Report:
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    field_ok: Counter[str] = field(default_factory=Counter)
    field_n: Counter[str] = field(default_factory=Counter)
    em_total: int = 0
    em_hit: int = 0
    em_confirm: int = 0
    false_alarms: int = 0
    errors: list[tuple[int, dict[str, Any], Classification]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.confusion.values())

    @property
    def correct(self) -> int:
        return sum(v for (g, p), v in self.confusion.items() if g == p)

    def add(self, n: int, row: dict[str, Any], res: Classification) -> None:
        gold = str(row.get("disposition"))
        self.confusion[(gold, res.disposition)] += 1
        if gold == "emergency":
            self.em_total += 1
            if res.disposition == "emergency":
                self.em_hit += 1
                self.em_confirm += res.confirm
        elif res.disposition == "emergency":
            self.false_alarms += 1
        for name in ("category", "channel", "rule"):
            if row.get(name) is not None:
                self.field_n[name] += 1
                self.field_ok[name] += getattr(res, name) == row[name]
        if gold != res.disposition or any(row.get(f) is not None and getattr(res, f) != row[f]
                                          for f in ("category", "channel", "rule")):
            self.errors.append((n, row, res))

    def merge(self, other: Report) -> None:
        self.confusion.update(other.confusion)
        self.field_ok.update(other.field_ok)
        self.field_n.update(other.field_n)
        self.em_total += other.em_total
        self.em_hit += other.em_hit
        self.em_confirm += other.em_confirm
        self.false_alarms += other.false_alarms
        self.errors += other.errors

    def print(self, name: str, *, errors: bool = False) -> None:
        total = self.total
        print(f"corpus: {name} ({total} utterances)")
        print(f"disposition accuracy: {self.correct}/{total} = {self.correct / max(total, 1):.1%}")
        print(f"emergency recall: {self.em_hit}/{self.em_total} = {self.em_hit / max(self.em_total, 1):.1%} "
              f"(confirmed first: {self.em_confirm}; false alarms on non-emergencies: {self.false_alarms})")
        for f in ("category", "channel", "rule"):
            if self.field_n[f]:
                print(f"{f} accuracy (where labelled): {self.field_ok[f]}/{self.field_n[f]} = "
                      f"{self.field_ok[f] / self.field_n[f]:.1%}")
        print("confusion (rows gold, columns predicted):")
        print(f"{'':>10}" + "".join(f"{d:>10}" for d in DISPOSITIONS))
        for g in DISPOSITIONS:
            print(f"{g:>10}" + "".join(f"{self.confusion[(g, p)]:>10}" for p in DISPOSITIONS))
        if errors:
            print("errors:")
            for n, row, res in self.errors:
                got = f"{res.disposition}/{res.category or res.channel or ''}/{res.rule or ''}"
                want = (f"{row.get('disposition')}/{row.get('category') or row.get('channel') or ''}/"
                        f"{row.get('rule') or ''}")
                print(f"  {n}: {row.get('text')} | want {want} got {got} {list(res.evidence)}")


def read_corpus(path: Path) -> list[tuple[int, dict[str, Any]]]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append((n, json.loads(line)))
        except json.JSONDecodeError:
            print(f"{path}:{n}: not JSON, skipped", file=sys.stderr)
    return rows


def evaluate(clf: Classifier, rows: list[tuple[int, dict[str, Any]]]) -> Report:
    report = Report()
    for n, row in rows:
        report.add(n, row, clf.classify(str(row.get("text", ""))))
    return report


def cross(policy_path: Path | None, errors: bool) -> int:
    policy = load_policy(policy_path) if policy_path else load_policy()
    sources = default_sources()
    held = [p for p in sources if p.suffix == ".jsonl" and p.name.startswith("author")]  # not generated files
    if not held:
        print("no training/*.jsonl files to hold out", file=sys.stderr)
        return 2
    overall = Report()
    for path in held:
        clf = Classifier(policy, sources=[p for p in sources if p != path])
        report = evaluate(clf, read_corpus(path))
        print(f"{path.name}: {report.correct}/{report.total} = {report.correct / max(report.total, 1):.1%}, "
              f"emergency recall {report.em_hit}/{report.em_total}, false alarms {report.false_alarms}")
        overall.merge(report)
    print()
    overall.print("leave one author out over " + ", ".join(p.name for p in held), errors=errors)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path)
    ap.add_argument("--cross", action="store_true", help="leave-one-author-out over flows/classifier/training")
    ap.add_argument("--policy", type=Path, default=None, help="policy file (default flows/policy.yaml)")
    ap.add_argument("--errors", action="store_true", help="list misclassified lines (not for held-out corpora)")
    args = ap.parse_args(argv)
    if args.cross:
        return cross(args.policy, args.errors)
    if args.corpus is None:
        ap.error("--corpus or --cross is required")
    if args.errors and "heldout" in args.corpus.name:
        print("refusing --errors on a held-out corpus: only aggregate figures are printed", file=sys.stderr)
        return 2
    clf = Classifier.from_file(args.policy) if args.policy else Classifier.default()
    rows = read_corpus(args.corpus)
    t0 = time.perf_counter()
    report = evaluate(clf, rows)
    cold = time.perf_counter() - t0  # includes first-time pinyin look-ups and loading the word list
    t0 = time.perf_counter()
    for _n, row in rows:
        clf.classify(str(row.get("text", "")))
    elapsed = time.perf_counter() - t0
    report.print(str(args.corpus), errors=args.errors)
    n = max(report.total, 1)
    print(f"time: {elapsed / n * 1000:.3f} ms per utterance (second pass; first pass {cold / n * 1000:.3f} ms "
          "with cold caches)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
