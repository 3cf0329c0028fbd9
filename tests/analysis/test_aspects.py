"""Aspect-level sentiment: per-category polarity from clauses, training, persistence and bad input."""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

import pytest

from closeloop.analysis.aspects import AspectDetector, cue_score, polarity_of
from closeloop.analysis.taxonomy import load_taxonomy

ZHIJIANG = Path(__file__).resolve().parents[3] / "shared" / "data" / "zhijiang2019_ecommerce_absa" / "dev.csv"
COLUMNS = {
    "price": "price",
    "logistics": "logistics",
    "packaging": "packaging",
    "service": "service",
    "smell": "smell",
    "efficacy": "efficacy",
    "authenticity": "authenticity",
    "user_experience": "usability",
}
POSITIVE = ("好", "不错", "喜欢", "满意", "棒", "good", "great", "love")
NEGATIVE = ("差", "失望", "垃圾", "bad", "terrible", "awful")


def lexicon(clauses: list[str]) -> list[float]:
    """A tiny stand-in for the engine's sentiment model."""
    return [math.tanh(sum(w in c for w in POSITIVE) - sum(w in c for w in NEGATIVE)) for c in clauses]


@pytest.fixture(scope="module")
def detector() -> AspectDetector:
    return AspectDetector.default(load_taxonomy())


@pytest.mark.parametrize(
    ("text", "categories", "expected"),
    [
        (
            "物流很快，但是包装太差了",
            ["logistics", "packaging"],
            [("logistics", "positive"), ("packaging", "negative")],
        ),
        (
            "价格便宜，不过客服态度很差",
            ["price", "service"],
            [("price", "positive"), ("service", "negative")],
        ),
        ("发货太慢了，东西还不错", ["logistics"], [("logistics", "negative")]),
        (
            "Shipping was fast but the bottle leaked",
            ["logistics", "packaging"],
            [("logistics", "positive"), ("packaging", "negative")],
        ),
        (
            "The price is not cheap, the staff were great",
            ["price", "service"],
            [("price", "negative"), ("service", "positive")],
        ),
    ],
)
def test_each_category_gets_the_polarity_of_its_own_clauses(
    detector: AspectDetector, text: str, categories: list[str], expected: list[tuple[str, str]]
) -> None:
    assert detector.predict([text], [categories], lexicon) == [expected]


def test_unjudged_mention_takes_the_tone_of_the_text(detector: AspectDetector) -> None:
    assert detector.predict(["收到快递了，非常满意"], [["logistics"]], lexicon) == [
        [("logistics", "positive")]
    ]


def test_only_taxonomy_categories_come_out(detector: AspectDetector) -> None:
    (found,) = detector.predict(["物流很快"], [["logistics", "invented", "logistics"]], lexicon)
    assert found == [("logistics", "positive")]


def test_clause_sentiment_is_called_once_per_batch(detector: AspectDetector) -> None:
    calls: list[list[str]] = []

    def counting(clauses: list[str]) -> list[float]:
        calls.append(clauses)
        return lexicon(clauses)

    detector.predict(["物流很快，包装很好", "价格太贵"], [["logistics", "packaging"], ["price"]], counting)
    assert len(calls) == 1


@pytest.mark.parametrize("text", ["", "😀😀", "物流" * 5_000, "物流快 but the packaging 太差 😡", None])
def test_bad_input_never_crashes(detector: AspectDetector, text: object) -> None:
    (found,) = detector.predict([text], [["logistics", "packaging"]], lexicon)  # type: ignore[list-item]
    assert all(polarity in ("positive", "neutral", "negative") for _category, polarity in found)


def test_a_broken_sentiment_callback_counts_as_neutral(detector: AspectDetector) -> None:
    assert detector.predict(["物流"], [["logistics"]], lambda clauses: []) == [[("logistics", "neutral")]]
    nan = detector.predict(["物流"], [["logistics"]], lambda clauses: [float("nan")] * len(clauses))
    assert nan == [[("logistics", "neutral")]]


@pytest.mark.parametrize(
    ("clause", "sign"),
    [
        ("物流很快", 1),
        ("物流太慢", -1),
        ("物流不慢", 1),
        ("价格不便宜", -1),
        ("快递到了", 0),
        ("shipping was slow", -1),
        ("not expensive at all", 1),
    ],
)
def test_cue_words(clause: str, sign: int) -> None:
    score = cue_score(clause)
    assert (score > 0) - (score < 0) == sign


@pytest.mark.parametrize(("score", "polarity"), [(0.8, "positive"), (0.0, "neutral"), (-0.5, "negative")])
def test_polarity_of(score: float, polarity: str) -> None:
    assert polarity_of(score) == polarity


def test_fit_learns_polarity_and_user_categories(tmp_path: Path) -> None:
    texts = ["退款很快就到账了", "退款一个月还没到", "refund arrived quickly", "refund never came"] * 5
    aspects = [
        [("退款", "positive")],
        [("退款", "negative")],
        [("退款", "positive")],
        [("退款", "negative")],
    ] * 5
    trained = AspectDetector.default(load_taxonomy()).fit(texts, aspects)
    assert trained.trained and "退款" in trained.taxonomy
    no_opinion = [0.0]
    found = trained.predict(["退款很快", "退款还没到"], [["退款"], ["退款"]], lambda c: no_opinion * len(c))
    assert found == [[("退款", "positive")], [("退款", "negative")]]
    trained.save(tmp_path)
    loaded = AspectDetector.load(tmp_path)
    assert loaded.predict(["退款很快"], [["退款"]], lexicon) == trained.predict(
        ["退款很快"], [["退款"]], lexicon
    )


def test_fit_with_too_few_labels_stays_untrained(tmp_path: Path) -> None:
    detector = AspectDetector.default(load_taxonomy()).fit(["物流很快"], [[("logistics", "positive")]])
    assert not detector.trained
    detector.save(tmp_path)
    assert not AspectDetector.load(tmp_path).trained


@pytest.mark.slow
def test_training_improves_aspect_polarity_on_cosmetics_reviews() -> None:
    if not ZHIJIANG.is_file():
        pytest.skip("development data not available")
    with ZHIJIANG.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    random.Random(7).shuffle(rows)
    train, test = rows[: len(rows) // 2], rows[len(rows) // 2 :]

    def gold(row: dict[str, str]) -> list[tuple[str, str]]:
        return [
            (c, row[col]) for col, c in COLUMNS.items() if row[col] in ("positive", "neutral", "negative")
        ]

    test = [row for row in test if gold(row)]

    def accuracy(detector: AspectDetector) -> float:
        found = detector.predict([r["text"] for r in test], [[c for c, _ in gold(r)] for r in test], lexicon)
        pairs = [(dict(f).get(c), p) for r, f in zip(test, found, strict=True) for c, p in gold(r)]
        return sum(a == b for a, b in pairs) / len(pairs)

    zero_shot = accuracy(AspectDetector.default(load_taxonomy()))
    trained = accuracy(
        AspectDetector.default(load_taxonomy()).fit([r["text"] for r in train], [gold(r) for r in train])
    )
    assert zero_shot >= 0.7
    assert trained >= 0.85 and trained > zero_shot
