"""Classifier accuracy on a labelled corpus (one JSON object per line: text, disposition, category, channel, rule).

    .venv/bin/python bench/classifier_accuracy.py --corpus tests/corpus/dev.jsonl [--errors]

Prints aggregate figures only: disposition accuracy, emergency recall (and how many emergencies were confirmed
first), the per-class confusion matrix, category/channel/rule accuracy where labelled, and time per utterance.
``--errors`` lists the misclassified lines; it is refused for a held-out corpus (its lines are never printed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flows.classifier import Classifier  # noqa: E402
from flows.policy import DISPOSITIONS  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", required=True, type=Path)
    ap.add_argument("--policy", type=Path, default=None, help="policy file (default flows/policy.yaml)")
    ap.add_argument("--errors", action="store_true", help="list misclassified lines (not for held-out corpora)")
    args = ap.parse_args(argv)
    if args.errors and "heldout" in args.corpus.name:
        print("refusing --errors on a held-out corpus: only aggregate figures are printed", file=sys.stderr)
        return 2
    clf = Classifier.from_file(args.policy) if args.policy else Classifier.default()
    rows = []
    for n, line in enumerate(args.corpus.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            rows.append((n, row))
        except json.JSONDecodeError:
            print(f"line {n}: not JSON, skipped", file=sys.stderr)
    confusion: Counter[tuple[str, str]] = Counter()
    field_ok: Counter[str] = Counter()
    field_n: Counter[str] = Counter()
    em_total = em_hit = em_confirm = false_alarms = 0
    errors = []
    t0 = time.perf_counter()
    results = [(n, row, clf.classify(str(row.get("text", "")))) for n, row in rows]
    cold = time.perf_counter() - t0  # includes first-time pinyin look-ups and loading the word list
    t0 = time.perf_counter()
    for _n, row in rows:
        clf.classify(str(row.get("text", "")))
    elapsed = time.perf_counter() - t0
    for n, row, res in results:
        gold = row.get("disposition")
        confusion[(gold, res.disposition)] += 1
        if gold == "emergency":
            em_total += 1
            if res.disposition == "emergency":
                em_hit += 1
                em_confirm += res.confirm
        elif res.disposition == "emergency":
            false_alarms += 1
        for field in ("category", "channel", "rule"):
            if row.get(field) is not None:
                field_n[field] += 1
                field_ok[field] += getattr(res, field) == row[field]
        if gold != res.disposition or any(row.get(f) is not None and getattr(res, f) != row[f]
                                          for f in ("category", "channel", "rule")):
            errors.append((n, row, res))
    total = len(results)
    correct = sum(v for (g, p), v in confusion.items() if g == p)
    print(f"corpus: {args.corpus} ({total} utterances)")
    print(f"disposition accuracy: {correct}/{total} = {correct / max(total, 1):.1%}")
    print(f"emergency recall: {em_hit}/{em_total} = {em_hit / max(em_total, 1):.1%} "
          f"(confirmed first: {em_confirm}; false alarms on non-emergencies: {false_alarms})")
    for field in ("category", "channel", "rule"):
        if field_n[field]:
            print(f"{field} accuracy (where labelled): {field_ok[field]}/{field_n[field]} = "
                  f"{field_ok[field] / field_n[field]:.1%}")
    print(f"time: {elapsed / max(total, 1) * 1000:.3f} ms per utterance (second pass; first pass "
          f"{cold / max(total, 1) * 1000:.3f} ms with cold caches)")
    print("\nconfusion (rows gold, columns predicted):")
    print(f"{'':>10}" + "".join(f"{d:>10}" for d in DISPOSITIONS))
    for g in DISPOSITIONS:
        print(f"{g:>10}" + "".join(f"{confusion[(g, p)]:>10}" for p in DISPOSITIONS))
    if args.errors:
        print("\nerrors:")
        for n, row, res in errors:
            got = f"{res.disposition}/{res.category or res.channel or ''}/{res.rule or ''}"
            want = f"{row.get('disposition')}/{row.get('category') or row.get('channel') or ''}/{row.get('rule') or ''}"
            print(f"  {n}: {row.get('text')} | want {want} got {got} {list(res.evidence)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
