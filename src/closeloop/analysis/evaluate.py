"""Metrics for judging the engine against labelled feedback: pure functions on gold and predicted labels."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ClassScores:
    """Precision, recall and F1 of one class or category, with its number of gold examples."""

    precision: float
    recall: float
    f1: float
    support: int


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def accuracy(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Share of items whose predicted label equals the gold label (0.0 for no items)."""
    _same_length(gold, predicted)
    return _ratio(sum(g == p for g, p in zip(gold, predicted, strict=True)), len(gold))


def label_order(gold: Iterable[str], predicted: Iterable[str]) -> list[str]:
    """Labels in a stable order: negative, neutral, positive first, then the rest alphabetically."""
    known = ["negative", "neutral", "positive"]
    labels = set(gold) | set(predicted)
    return [label for label in known if label in labels] + sorted(labels - set(known))


def per_class_scores(
    gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None
) -> dict[str, ClassScores]:
    """Precision / recall / F1 / support of each label (one label per item)."""
    _same_length(gold, predicted)
    labels = list(labels) if labels is not None else label_order(gold, predicted)
    scores = {}
    for label in labels:
        true_positive = sum(g == label and p == label for g, p in zip(gold, predicted, strict=True))
        precision = _ratio(true_positive, sum(p == label for p in predicted))
        recall = _ratio(true_positive, sum(g == label for g in gold))
        scores[label] = ClassScores(precision, recall, _f1(precision, recall), sum(g == label for g in gold))
    return scores


def macro_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Unweighted mean F1 over the labels that occur in the gold labels."""
    gold_labels = [label for label in label_order(gold, []) if label in set(gold)]
    scores = per_class_scores(gold, predicted, gold_labels)
    return _ratio_f(sum(s.f1 for s in scores.values()), len(scores))


def _ratio_f(numerator: float, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def confusion_matrix(
    gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None
) -> tuple[list[str], list[list[int]]]:
    """(labels, matrix) where ``matrix[i][j]`` counts items of gold label i predicted as label j."""
    _same_length(gold, predicted)
    labels = list(labels) if labels is not None else label_order(gold, predicted)
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, predicted, strict=True):
        if g in index and p in index:
            matrix[index[g]][index[p]] += 1
    return labels, matrix


def binary_accuracy(gold_positive: Sequence[bool], scores: Sequence[float]) -> float:
    """Accuracy of "positive iff score > 0" against binary gold labels."""
    _same_length(gold_positive, scores)
    return _ratio(sum(bool(g) == (s > 0) for g, s in zip(gold_positive, scores, strict=True)), len(scores))


@dataclass(frozen=True)
class MultiLabelReport:
    """Per-category scores plus micro and macro averages for multi-label predictions (categories)."""

    per_category: dict[str, ClassScores]
    micro: ClassScores
    macro: ClassScores
    exact_match: float

    def as_dict(self) -> dict[str, object]:
        return {
            "per_category": {c: asdict(s) for c, s in self.per_category.items()},
            "micro": asdict(self.micro),
            "macro": asdict(self.macro),
            "exact_match": self.exact_match,
        }


def multilabel_scores(gold: Sequence[Iterable[str]], predicted: Sequence[Iterable[str]]) -> MultiLabelReport:
    """Precision / recall / F1 per category, micro- and macro-averaged, for sets of labels per item.

    Macro averages run over the categories present in the gold labels.
    """
    _same_length(gold, predicted)
    gold_sets = [set(g) for g in gold]
    predicted_sets = [set(p) for p in predicted]
    categories = sorted(set().union(*gold_sets, *predicted_sets)) if gold_sets else []
    per_category = {}
    total_tp = total_pred = total_gold = 0
    for category in categories:
        tp = sum(category in g and category in p for g, p in zip(gold_sets, predicted_sets, strict=True))
        n_pred = sum(category in p for p in predicted_sets)
        n_gold = sum(category in g for g in gold_sets)
        precision, recall = _ratio(tp, n_pred), _ratio(tp, n_gold)
        per_category[category] = ClassScores(precision, recall, _f1(precision, recall), n_gold)
        total_tp, total_pred, total_gold = total_tp + tp, total_pred + n_pred, total_gold + n_gold
    micro_p, micro_r = _ratio(total_tp, total_pred), _ratio(total_tp, total_gold)
    in_gold = [s for s in per_category.values() if s.support]
    macro = ClassScores(
        _ratio_f(sum(s.precision for s in in_gold), len(in_gold)),
        _ratio_f(sum(s.recall for s in in_gold), len(in_gold)),
        _ratio_f(sum(s.f1 for s in in_gold), len(in_gold)),
        total_gold,
    )
    exact = _ratio(sum(g == p for g, p in zip(gold_sets, predicted_sets, strict=True)), len(gold_sets))
    return MultiLabelReport(
        per_category, ClassScores(micro_p, micro_r, _f1(micro_p, micro_r), total_gold), macro, exact
    )


def _same_length(a: Sequence[object], b: Sequence[object]) -> None:
    if len(a) != len(b):
        raise ValueError(f"gold and predicted differ in length ({len(a)} vs {len(b)})")
