"""Adapting the fast mode to unlabelled feedback: a complete model directory whose accurate mode is the
base's and whose fast mode follows the accurate mode more closely on the user's kind of feedback."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from closeloop.analysis.adapt import (
    MIN_TEXTS,
    AdaptReport,
    adapt_model,
    agreement,
    feedback_sample,
    soft_logistic_regression,
)
from closeloop.analysis.engine import DEFAULT_MODEL_DIR, Engine, read_manifest
from closeloop.analysis.sentiment_model import AdaptedSentiment

POSITIVE_ZH = ["送餐很快", "味道很好", "分量很足", "包装很用心", "骑手态度很好", "下次还点"]
NEGATIVE_ZH = ["送得太慢", "饭都凉了", "味道很差", "分量太少", "汤洒了一袋子", "再也不点了"]
POSITIVE_EN = ["Great battery life", "the staff were friendly", "works perfectly", "I love it"]
NEGATIVE_EN = ["Stopped working after a week", "the waiter was rude", "total waste of money", "I hate it"]


def generated_feedback() -> list[str]:
    """About 90 distinct unlabelled reviews built from clauses of one polarity (plus noise rows)."""
    texts = []
    for first, second in itertools.permutations(POSITIVE_ZH, 2):
        texts.append(f"{first}，{second}")
    for first, second in itertools.permutations(NEGATIVE_ZH, 2):
        texts.append(f"{first}，{second}")
    for first, second in itertools.product(POSITIVE_EN, POSITIVE_EN[::-1]):
        texts.append(f"{first}, and {second.lower()}.")
    for first, second in itertools.product(NEGATIVE_EN, NEGATIVE_EN[::-1]):
        texts.append(f"{first}, and {second.lower()}.")
    return [*texts, "", "   ", "!!!", texts[0], texts[1]]  # empty, letterless and duplicate rows


Adapted = tuple[Path, AdaptReport, list[tuple[str, int, int]]]


@pytest.fixture(scope="module")
def adapted_dir(tmp_path_factory: pytest.TempPathFactory) -> Adapted:
    model_dir = tmp_path_factory.mktemp("adapt") / "adapted"
    stages: list[tuple[str, int, int]] = []
    report = adapt_model(
        generated_feedback(),
        model_dir,
        progress=lambda stage, done, total: stages.append((stage, done, total)),
    )
    return model_dir, report, stages


def test_adapted_directory_is_a_new_model_version(adapted_dir: Adapted) -> None:
    model_dir, report, _stages = adapted_dir
    manifest = read_manifest(model_dir)
    base_version = read_manifest(DEFAULT_MODEL_DIR)["version"]
    assert manifest["version"] == report.version
    assert manifest["version"].startswith("adapted-")
    assert manifest["version"] != base_version
    assert manifest["base_version"] == base_version
    assert manifest["sentiment"]["kind"] == "adapted"
    assert (model_dir / "student" / "student_head.npz").is_file()
    # the base's own files are there too: the directory is complete without the shipped model
    assert (model_dir / "sentiment_embedding_head.npz").is_file()


def test_report_counts_the_sample_and_progress_reaches_every_stage(adapted_dir: Adapted) -> None:
    _model_dir, report, stages = adapted_dir
    texts = generated_feedback()
    assert report.texts == len(set(t for t in texts if t.strip(" !"))) == len(texts) - 5
    assert report.skipped == 5
    assert report.languages == {"zh": 60, "en": 32}
    assert 0.0 <= report.agreement_before <= 1.0 and 0.0 <= report.agreement_after <= 1.0
    assert set(report.fast_weights) >= {"*"}
    finished = {stage for stage, done, total in stages if done == total}
    assert finished == {"labelling", "training", "writing"}
    json.dumps(report.as_dict())  # serialisable for the CLI and logs


def test_fast_mode_of_the_adapted_model_reads_feedback(adapted_dir: Adapted) -> None:
    model_dir, _report, _stages = adapted_dir
    engine = Engine.load(model_dir, fast=True)
    assert isinstance(engine.sentiment, AdaptedSentiment)
    assert engine.version.endswith("+fast") and engine.version.startswith("adapted-")
    results = engine.analyze(
        ["骑手态度很好，味道很好", "饭都凉了，再也不点了", "I love it, works perfectly.", ""]
    )
    assert [r.sentiment for r in results[:3]] == ["positive", "negative", "positive"]
    assert results[3].sentiment == "neutral" and results[3].error is None


def test_accurate_mode_of_the_adapted_model_equals_the_base(adapted_dir: Adapted, engine: Engine) -> None:
    model_dir, _report, _stages = adapted_dir
    adapted = Engine.load(model_dir)
    texts = ["送餐很快，味道很好", "等了两个小时才送到", "The food was cold.", "Great phone 👍", "😡"]
    assert [r.as_row() for r in adapted.analyze(texts)] == [r.as_row() for r in engine.analyze(texts)]


def test_adapting_an_adapted_model_starts_from_its_base(adapted_dir: Adapted, tmp_path: Path) -> None:
    model_dir, _report, _stages = adapted_dir
    again = adapt_model(generated_feedback()[:40], tmp_path / "again", base_model_dir=model_dir)
    manifest = read_manifest(again.model_dir)
    assert manifest["sentiment"]["base"]["kind"] == "ensemble"  # no adapted model nested in another
    assert again.version != read_manifest(model_dir)["version"]


@pytest.mark.parametrize(
    "texts",
    [[], ["", "  ", "123"], ["同一句话"] * 100, [f"第{i}条" for i in range(MIN_TEXTS - 1)]],
    ids=["no-rows", "no-letters", "one-distinct-text", "too-few"],
)
def test_too_little_feedback_is_refused_with_a_clear_error(texts: list[str], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="need at least"):
        adapt_model(texts, tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_refuses_to_overwrite_the_base_or_a_directory_that_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="differ from the base"):
        adapt_model(generated_feedback(), DEFAULT_MODEL_DIR)
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(ValueError, match="not a closeloop model directory"):
        adapt_model(generated_feedback(), other)
    assert (other / "keep.txt").read_text(encoding="utf-8") == "mine"


def test_feedback_sample_dedupes_and_caps_deterministically() -> None:
    texts = [f"评论{i}" for i in range(50)] + ["评论1", "", None]
    sample, skipped, sampled_out = feedback_sample(texts, max_texts=20)
    assert len(sample) == 20 and len(set(sample)) == 20
    assert (skipped, sampled_out) == (3, 30)
    assert feedback_sample(texts, max_texts=20)[0] == sample
    assert feedback_sample(texts, max_texts=0)[0] == [f"评论{i}" for i in range(50)]


def test_soft_logistic_regression_follows_the_teachers_probabilities() -> None:
    features = np.array([[1.0], [2.0], [-1.0], [-2.0]])
    confident = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    unsure = np.array([[0.4, 0.6], [0.4, 0.6], [0.6, 0.4], [0.6, 0.4]])
    strong = soft_logistic_regression(features, confident, c=10.0).coef_[0][0]
    weak = soft_logistic_regression(features, unsure, c=10.0).coef_[0][0]
    assert strong > weak > 0


def test_agreement_counts_matching_classes() -> None:
    logits = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, 2.0]])
    teacher = np.array([[0.2, 0.8], [0.3, 0.7], [0.1, 0.9]])
    assert agreement(logits, teacher) == pytest.approx(2 / 3)
