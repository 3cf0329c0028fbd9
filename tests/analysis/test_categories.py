"""Category detection: zero-shot keywords, training, user categories, persistence and bad input."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import joblib
import numpy as np
import pytest
from scipy import sparse

from closeloop.analysis.categories import (
    MODEL_FILE,
    CategoryDetector,
    fit_category_model,
    log_count_ratios,
    tuned_threshold,
)
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
}


@pytest.fixture(scope="module")
def zero_shot() -> CategoryDetector:
    return CategoryDetector.default(load_taxonomy())


def ids(found: list[tuple[str, float]]) -> set[str]:
    return {category for category, _score in found}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("物流很快，第二天就到了", {"logistics"}),
        ("价格实惠，性价比高", {"price"}),
        ("包装破损，瓶子漏液了", {"packaging"}),
        ("客服态度很差，问了半天不理人", {"service"}),
        ("申请退款一周了还没处理", {"after_sales"}),
        ("The app keeps crashing at checkout", {"app_website"}),
        ("Shipping was slow and the box arrived crushed", {"logistics", "packaging"}),
        ("Way overpriced, not worth the money", {"price"}),
        ("The staff were friendly and helpful", {"service"}),
        ("Smells lovely", {"smell"}),
        ("这个味道很好吃", {"taste_freshness"}),
        ("味道很好闻", {"smell"}),
    ],
)
def test_zero_shot_finds_categories(zero_shot: CategoryDetector, text: str, expected: set[str]) -> None:
    assert expected <= ids(zero_shot.predict([text])[0])


@pytest.mark.parametrize(
    ("text", "absent"),
    [
        ("贵妇级别的面霜", "price"),  # 贵 inside 贵妇 is not about price
        ("快递小哥服务态度很好", "service"),  # a courier's manners are delivery, not customer service
        ("谢谢老板，祝生意兴隆", "service"),
        ("泡沫很丰富，洗得很干净", "packaging"),
    ],
)
def test_zero_shot_avoids_lookalikes(zero_shot: CategoryDetector, text: str, absent: str) -> None:
    assert absent not in ids(zero_shot.predict([text])[0])


def test_scores_are_between_zero_and_one_and_grow_with_evidence(zero_shot: CategoryDetector) -> None:
    one, two = zero_shot.predict(["物流很快", "物流很快，快递小哥送货上门"])
    assert 0 < dict(one)["logistics"] < dict(two)["logistics"] <= 1


@pytest.mark.parametrize(
    "text", ["", "   ", "😀😀👍", "!!!???", "好" * 10_000, "物流快 but the price is 太贵了 😡", None, 12345]
)
def test_bad_input_never_crashes(zero_shot: CategoryDetector, text: object) -> None:
    (found,) = zero_shot.predict([text])  # type: ignore[list-item]
    assert all(category in zero_shot.taxonomy for category, _score in found)


def test_empty_and_emoji_texts_have_no_categories(zero_shot: CategoryDetector) -> None:
    assert zero_shot.predict(["", "😀👍"]) == [[], []]
    assert zero_shot.predict([]) == []


TRAIN_TEXTS = (
    [
        "航班延误了三个小时",
        "飞机晚点两个小时没人通知",
        "the flight was delayed for hours",
        "late flight again",
        "航班又延误，白等一晚上",
        "flight delayed and no explanation",
        "延误四个小时才起飞",
        "our flight was late",
    ]
    * 3
    + [
        "退款到现在还没到账",
        "申请退款被拒绝",
        "refund took three weeks",
        "still waiting for my refund",
        "退款流程太慢",
        "they refused my refund",
        "退款很快就到了",
        "got my refund quickly",
    ]
    * 3
    + [
        "座位很舒服，空姐很热情",
        "seat was comfortable",
        "餐食一般般",
        "the meal was fine",
        "登机很顺利",
        "boarding was smooth",
        "行李很快就拿到了",
        "good entertainment on board",
    ]
    * 3
)


def training_labels() -> list[list[str]]:
    return [["Late Flight"]] * 24 + [["退款"]] * 24 + [[]] * 24


def test_fit_learns_user_categories_and_outputs_only_taxonomy_ids(tmp_path: Path) -> None:
    detector = CategoryDetector.default(load_taxonomy()).fit(TRAIN_TEXTS, training_labels())
    assert {"late_flight", "退款"} <= set(detector.taxonomy.ids())
    assert {"late_flight", "退款"} <= set(detector.models)
    found = detector.predict(
        ["航班延误了五个小时", "退款迟迟不到", "The flight was delayed again", "座位不错"]
    )
    assert "late_flight" in ids(found[0]) and "退款" in ids(found[1]) and "late_flight" in ids(found[2])
    assert "late_flight" not in ids(found[3]) and "退款" not in ids(found[3])
    for row in found:  # never an invented category
        assert all(category in detector.taxonomy for category, _score in row)
        assert all(0.0 <= score <= 1.0 for _category, score in row)

    detector.save(tmp_path / "model")
    assert (tmp_path / "model" / "taxonomy.yaml").is_file()
    loaded = CategoryDetector.load(tmp_path / "model")
    assert loaded.predict(["航班延误了五个小时", "😀", ""]) == detector.predict(
        ["航班延误了五个小时", "😀", ""]
    )


def test_log_count_ratios_favour_features_seen_in_the_category() -> None:
    # columns: seen only in the category, only outside it, everywhere, never
    features = sparse.csr_matrix(
        np.array([[1.0, 0.0, 0.5, 0.0], [0.3, 0.0, 1.0, 0.0], [0.0, 1.0, 0.5, 0.0], [0.0, 0.2, 1.0, 0.0]])
    )
    ratios = log_count_ratios(features, np.array([1, 1, 0, 0]))
    assert ratios[0] > 0 > ratios[1]
    assert ratios[2] == pytest.approx(0.0) and ratios[3] == pytest.approx(0.0)
    assert ratios[0] == pytest.approx(-ratios[1])


def test_dense_embedding_columns_keep_weight_one() -> None:
    features = sparse.csr_matrix(np.array([[1.0, 0.0, 0.4], [0.0, 1.0, -0.2]] * 10))
    target = np.array([1, 0] * 10)
    model = fit_category_model(features, target, dense_columns=1)
    assert model.ratios[-1] == 1.0 and model.ratios[0] > 0
    assert model.probabilities(features[:2]).tolist() == pytest.approx([1.0, 0.0], abs=0.2)


def test_threshold_is_tuned_by_cross_validation_within_bounds() -> None:
    rng = np.random.default_rng(0)
    target = np.array([1] * 30 + [0] * 60)
    signal = target + rng.normal(0, 0.6, len(target))
    features = sparse.csr_matrix(np.column_stack([signal > 0.5, signal <= 0.5, rng.random(90) > 0.5]))
    threshold = tuned_threshold(features.astype(float), target)
    assert 0.2 <= threshold <= 0.8
    # too few examples for three folds: keep the natural cut-off
    assert tuned_threshold(features[:3].astype(float), np.array([1, 0, 0])) == 0.5


def test_load_refuses_a_model_of_another_format(tmp_path: Path) -> None:
    detector = CategoryDetector.default(load_taxonomy()).fit(TRAIN_TEXTS, training_labels())
    detector.save(tmp_path)
    state = joblib.load(tmp_path / MODEL_FILE)
    state["format_version"] = 1
    joblib.dump(state, tmp_path / MODEL_FILE)
    with pytest.raises(ValueError, match="unsupported format"):
        CategoryDetector.load(tmp_path)


def test_fit_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="texts"):
        CategoryDetector.default(load_taxonomy()).fit(["a", "b"], [["price"]])


def test_untrained_detector_saves_and_loads(tmp_path: Path, zero_shot: CategoryDetector) -> None:
    zero_shot.save(tmp_path)
    loaded = CategoryDetector.load(tmp_path)
    assert not loaded.trained
    assert loaded.predict(["物流很快"]) == zero_shot.predict(["物流很快"])


def read_zhijiang() -> list[dict[str, str]]:
    if not ZHIJIANG.is_file():
        pytest.skip("development data not available")
    with ZHIJIANG.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def f1(gold: list[bool], found: list[bool]) -> float:
    tp = sum(g and f for g, f in zip(gold, found, strict=True))
    return 2 * tp / (sum(gold) + sum(found)) if sum(gold) + sum(found) else 0.0


@pytest.mark.slow
@pytest.mark.parametrize("category", ["logistics", "price", "packaging", "service"])
def test_zero_shot_f1_on_cosmetics_reviews(zero_shot: CategoryDetector, category: str) -> None:
    rows = read_zhijiang()
    found = [ids(row) for row in zero_shot.predict([row["text"] for row in rows])]
    assert f1([bool(row[category]) for row in rows], [category in row for row in found]) >= 0.82


@pytest.mark.slow
def test_training_on_one_half_beats_keywords_on_the_other() -> None:
    rows = read_zhijiang()
    random.Random(42).shuffle(rows)
    train, test = rows[: len(rows) // 2], rows[len(rows) // 2 :]
    labels = [[category for column, category in COLUMNS.items() if row[column]] for row in train]
    trained = CategoryDetector.default(load_taxonomy()).fit([row["text"] for row in train], labels)
    keywords = CategoryDetector.default(load_taxonomy())

    def micro_f1(detector: CategoryDetector) -> float:
        found = [ids(row) for row in detector.predict([row["text"] for row in test])]
        gold = [bool(row[column]) for column in COLUMNS for row in test]
        predicted = [category in row for category in COLUMNS.values() for row in found]
        return f1(gold, predicted)

    assert micro_f1(trained) >= 0.88  # 0.914 when measured (see .notes/categories.md)
    assert micro_f1(trained) > micro_f1(keywords)
