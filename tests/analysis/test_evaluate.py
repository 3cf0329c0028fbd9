"""The evaluation metrics, checked against figures worked out by hand."""

from __future__ import annotations

import pytest

from closeloop.analysis.evaluate import (
    accuracy,
    binary_accuracy,
    confusion_matrix,
    macro_f1,
    multilabel_scores,
    per_class_scores,
)

GOLD = ["positive", "positive", "negative", "negative", "neutral", "positive"]
PREDICTED = ["positive", "negative", "negative", "positive", "neutral", "positive"]


def test_accuracy_counts_exact_matches() -> None:
    assert accuracy(GOLD, PREDICTED) == pytest.approx(4 / 6)
    assert accuracy([], []) == 0.0


def test_per_class_precision_recall_by_hand() -> None:
    scores = per_class_scores(GOLD, PREDICTED)
    # positive: predicted 3 times, 2 right; gold 3 times, 2 found.
    assert scores["positive"].precision == pytest.approx(2 / 3)
    assert scores["positive"].recall == pytest.approx(2 / 3)
    # negative: predicted 2, 1 right; gold 2, 1 found.
    assert scores["negative"].precision == pytest.approx(0.5)
    assert scores["negative"].recall == pytest.approx(0.5)
    assert scores["neutral"].f1 == pytest.approx(1.0)
    assert scores["positive"].support == 3


def test_macro_f1_is_unweighted_mean_over_gold_classes() -> None:
    assert macro_f1(GOLD, PREDICTED) == pytest.approx((2 / 3 + 0.5 + 1.0) / 3)


def test_confusion_matrix_rows_are_gold() -> None:
    labels, matrix = confusion_matrix(GOLD, PREDICTED)
    assert labels == ["negative", "neutral", "positive"]
    assert matrix == [[1, 0, 1], [0, 1, 0], [1, 0, 2]]


def test_binary_accuracy_uses_score_sign() -> None:
    assert binary_accuracy([True, False, True, False], [0.3, -0.1, 0.0, -0.9]) == pytest.approx(0.75)


def test_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        accuracy(["positive"], [])


def test_multilabel_micro_and_macro() -> None:
    gold = [{"price", "logistics"}, {"service"}, set()]
    predicted = [{"price"}, {"service", "price"}, {"logistics"}]
    report = multilabel_scores(gold, predicted)
    # price: tp 1, predicted 2, gold 1 → P 0.5 R 1; service: P 1 R 1; logistics: tp 0, pred 1, gold 1 → 0.
    assert report.per_category["price"].precision == pytest.approx(0.5)
    assert report.per_category["price"].recall == pytest.approx(1.0)
    assert report.per_category["logistics"].f1 == 0.0
    assert report.micro.precision == pytest.approx(2 / 4)
    assert report.micro.recall == pytest.approx(2 / 3)
    assert report.macro.f1 == pytest.approx((2 / 3 + 1.0 + 0.0) / 3)
    assert report.exact_match == pytest.approx(0.0)
