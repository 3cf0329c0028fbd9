"""The engine on real feedback: sentiment direction, complaints, edge cases, fast mode, trained models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from closeloop.analysis.engine import DEFAULT_MODEL_DIR, AnalysisResult, Engine, read_manifest
from closeloop.analysis.train import (
    choose_weights,
    parse_aspect_cell,
    parse_category_cell,
    stratified_folds,
    train_model,
)

POSITIVE_FEEDBACK = [
    "送餐很快，味道很好，下次还点",
    "质量非常好，物超所值，推荐购买",
    "The staff were friendly and the room was clean.",
    "Great battery life, I love this phone.",
]
NEGATIVE_FEEDBACK = [
    "等了两个小时才送到，饭都凉了",
    "用了三天就坏了，质量太差",
    "The food was cold and the waiter was rude.",
    "Stopped working after a week, total waste of money.",
]


def test_shipped_model_has_a_version(engine: Engine) -> None:
    manifest = read_manifest(DEFAULT_MODEL_DIR)
    assert engine.version == manifest["version"]
    assert engine.version.startswith("default-")


@pytest.mark.parametrize("fast", [False, True])
def test_sentiment_direction_in_chinese_and_english(engine: Engine, fast_engine: Engine, fast: bool) -> None:
    chosen = fast_engine if fast else engine
    results = chosen.analyze(POSITIVE_FEEDBACK + NEGATIVE_FEEDBACK)
    scores = [r.sentiment_score for r in results]
    assert all(s > 0 for s in scores[:4]), scores
    assert all(s < 0 for s in scores[4:]), scores
    assert [r.language for r in results] == ["zh", "zh", "en", "en"] * 2
    assert all(-1.0 <= s <= 1.0 for s in scores)
    assert all(0.0 <= r.confidence <= 1.0 for r in results)


def test_complaints_need_negative_sentiment_and_redress(engine: Engine) -> None:
    results = engine.analyze(
        [
            "东西是坏的，客服也不理人，我要退款，不然就投诉到12315",
            "Package arrived smashed and nobody answers. I want a full refund.",
            "东西很好，退款也很及时，点赞",
            "等了两个小时才送到，饭都凉了",
        ]
    )
    assert [r.complaint for r in results] == [True, True, False, False]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "😀😀😀",
        "12345",
        "!!!???",
        "这个手机的 screen 很好 but battery 一般",
        "好" * 10_000,
        "bad " * 2_500,
        None,
        3.5,
    ],
)
def test_awkward_input_gives_a_result_not_an_exception(engine: Engine, text: object) -> None:
    (result,) = engine.analyze([text])
    assert isinstance(result, AnalysisResult)
    assert result.error is None
    assert result.sentiment in {"positive", "neutral", "negative"}
    assert -1.0 <= result.sentiment_score <= 1.0


def test_empty_text_is_neutral_with_no_confidence(engine: Engine) -> None:
    (result,) = engine.analyze([""])
    assert (result.language, result.sentiment, result.sentiment_score, result.confidence) == (
        "und",
        "neutral",
        0.0,
        0.0,
    )
    assert result.needs_review


def test_emoji_only_text_uses_emoji_sentiment(engine: Engine) -> None:
    happy, angry = engine.analyze(["😍👍", "😡👎"])
    assert happy.sentiment_score > 0 > angry.sentiment_score


def test_batch_order_and_length_are_preserved(fast_engine: Engine) -> None:
    texts = POSITIVE_FEEDBACK + NEGATIVE_FEEDBACK
    one_by_one = [fast_engine.analyze([t])[0].sentiment_score for t in texts]
    together = [r.sentiment_score for r in fast_engine.analyze(texts)]
    assert together == pytest.approx(one_by_one, abs=1e-4)


def test_a_failing_text_gets_an_error_and_the_rest_still_analysed(engine: Engine, monkeypatch) -> None:
    original = engine._analyze_batch

    def fragile(texts: list[str]) -> list[AnalysisResult]:
        if any("BOOM" in t for t in texts):
            raise RuntimeError("model exploded")
        return original(texts)

    monkeypatch.setattr(engine, "_analyze_batch", fragile)
    results = engine.analyze(["很好", "BOOM", "很差"])
    assert [r.error is None for r in results] == [True, False, True]
    assert "model exploded" in (results[1].error or "")
    assert results[0].sentiment_score > 0 > results[2].sentiment_score


def test_clause_sentiment_scores_short_texts(engine: Engine) -> None:
    good, bad = engine.clause_sentiment(["物流很快", "包装破了"])
    assert good > 0 > bad


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("Late Flight;退款", ["Late Flight", "退款"]), ("", []), (None, []), ("a；b;", ["a", "b"])],
)
def test_parse_category_cell(cell: object, expected: list[str]) -> None:
    assert parse_category_cell(cell) == expected


def test_parse_aspect_cell() -> None:
    assert parse_aspect_cell("price:negative;logistics:1;smell:mixed") == [
        ("price", "negative"),
        ("logistics", "positive"),
    ]


def test_stratified_folds_spread_each_class() -> None:
    labels = ["positive"] * 10 + ["negative"] * 5
    folds = stratified_folds(labels, 5)
    assert sorted(folds[:10].tolist()) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert sorted(folds[10:].tolist()) == [0, 1, 2, 3, 4]


def test_choose_weights_prefers_the_informative_part() -> None:
    import numpy as np

    gold = np.array([0, 1, 0, 1, 1, 0])
    informative = np.array([[1.0, -1.0], [-1.0, 1.0]] * 3)[[0, 1, 2, 3, 1, 0]]
    noise = np.array([[0.0, 2.0], [2.0, 0.0], [0.0, 2.0], [2.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    weights = choose_weights({"good": informative, "noise": noise}, gold)
    assert weights["good"] > 0 and weights["noise"] == 0


def _labelled_sample() -> tuple[list[str], list[str]]:
    # A made-up domain where a word the shipped model does not know ("zork") carries the sentiment.
    texts, labels = [], []
    for i in range(30):
        texts.append(f"订单{i} 这次是 zork 体验")
        labels.append("negative")
        texts.append(f"订单{i} 这次是 blip 体验")
        labels.append("positive")
    return texts, labels


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts, labels = _labelled_sample()
    model_dir = tmp_path_factory.mktemp("model")
    train_model(texts, model_dir, sentiment_labels=labels)
    return model_dir


def test_training_learns_a_new_domain_signal(trained_dir: Path) -> None:
    manifest = json.loads((trained_dir / "model.json").read_text("utf-8"))
    assert manifest["version"].startswith("user-")
    assert manifest["trained"] == {"sentiment": 60}
    assert manifest["sentiment"]["kind"] == "stacked"
    for fast in (False, True):
        trained = Engine.load(trained_dir, fast=fast)
        zork, blip = trained.analyze(["订单99 这次是 zork 体验", "订单99 这次是 blip 体验"])
        assert zork.sentiment_score < 0 < blip.sentiment_score


def test_training_without_both_poles_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="both positive and negative"):
        train_model(["好"] * 20, tmp_path / "m", sentiment_labels=["1"] * 20)


def test_training_only_categories_keeps_shipped_sentiment(tmp_path: Path) -> None:
    pytest.importorskip("closeloop.analysis.categories")
    texts = [f"航班{i}又晚点了，等了三个小时" for i in range(20)] + [f"座位{i}很舒服" for i in range(20)]
    cells = ["Late Flight"] * 20 + [""] * 20  # the category detector needs ≥ 15 examples
    report = train_model(texts, tmp_path / "m", category_labels=cells)
    assert report.category_rows == 20
    trained = Engine.load(tmp_path / "m")
    manifest = read_manifest(tmp_path / "m")
    assert manifest["sentiment"].get("kind") != "stacked"
    (late, comfy) = trained.analyze(["航班99又晚点了，等了三个小时", "座位99很舒服"])
    assert "late_flight" in late.categories
    assert late.sentiment_score < 0 < comfy.sentiment_score
