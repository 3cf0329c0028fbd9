"""Sentiment building blocks: label parsing, logit arithmetic, heads that learn, language and text helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from closeloop.analysis.complaint import complaint_cues, is_complaint
from closeloop.analysis.language import detect_language
from closeloop.analysis.sentiment import (
    NEGATIVE,
    NEUTRAL,
    POSITIVE,
    CharNgramSentiment,
    class_order,
    parse_sentiment_label,
    polarity_logits,
    sentiment_confidence,
    sentiment_labels,
    sentiment_score,
    softmax,
)
from closeloop.analysis.text import clip_for_model, has_letters, normalize_text, split_clauses


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("1", POSITIVE),
        ("0", NEGATIVE),
        ("Positive", POSITIVE),
        (" negative ", NEGATIVE),
        ("neutral", NEUTRAL),
        ("正面", POSITIVE),
        ("负面", NEGATIVE),
        ("中性", NEUTRAL),
        ("mixed", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_sentiment_label(label: object, expected: str | None) -> None:
    assert parse_sentiment_label(label) == expected


def test_polarity_logits_give_sigmoid_probabilities() -> None:
    probabilities = softmax(polarity_logits(np.array([2.0, 0.0, -2.0]), (NEGATIVE, POSITIVE)))
    assert probabilities[0, 1] == pytest.approx(1 / (1 + np.exp(-2)))
    assert probabilities[1, 1] == pytest.approx(0.5)
    scores = sentiment_score(probabilities, (NEGATIVE, POSITIVE))
    assert scores[0] > 0 > scores[2]
    assert scores[0] == pytest.approx(-scores[2])


def test_two_class_models_read_near_zero_as_neutral() -> None:
    probabilities = np.array([[0.05, 0.95], [0.48, 0.52], [0.9, 0.1]])
    assert sentiment_labels(probabilities, (NEGATIVE, POSITIVE)) == [POSITIVE, NEUTRAL, NEGATIVE]
    confidence = sentiment_confidence(probabilities)
    assert confidence[0] == pytest.approx(0.9)
    assert confidence[1] < 0.1


def test_class_order_requires_both_poles() -> None:
    assert class_order([POSITIVE, NEUTRAL, NEGATIVE, POSITIVE]) == (NEGATIVE, NEUTRAL, POSITIVE)
    with pytest.raises(ValueError, match="both positive and negative"):
        class_order([POSITIVE, POSITIVE])


def test_char_head_learns_saves_and_loads(tmp_path: Path) -> None:
    texts = ["很好吃", "非常好", "好评推荐", "太难吃了", "很差劲", "差评不推荐"] * 5
    labels = [POSITIVE] * 3 + [NEGATIVE] * 3
    model = CharNgramSentiment.fit(texts, labels * 5)
    model.save(tmp_path)
    reloaded = CharNgramSentiment.load(tmp_path)
    logits = reloaded.logits(["好吃推荐", "难吃差评"])
    assert logits[0, 1] - logits[0, 0] > 0 > logits[1, 1] - logits[1, 0]


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("送餐很快，味道不错", "zh"),
        ("The delivery was late", "en"),
        ("配送 very fast, 但是味道一般", "zh"),
        ("I love this 手机 so much, the screen is great", "en"),
        ("とても美味しいです", "ja"),
        ("배송이 빨라요", "ko"),
        ("", "und"),
        ("😀👍", "und"),
        ("12345", "und"),
        ("très bon produit", "other"),
    ],
)
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_normalize_text_handles_bad_cells() -> None:
    assert normalize_text(None) == ""
    assert normalize_text(42) == "42"
    assert normalize_text("  ＡＢＣ\n\t好  ") == "ABC 好"


def test_split_clauses_at_punctuation_and_contrast() -> None:
    assert split_clauses("物流很快，但是包装破了。") == ["物流很快", "但是包装破了"]
    assert split_clauses("Great screen, but the battery died.") == ["Great screen", "but the battery died"]
    assert split_clauses("") == []


def test_clip_for_model_keeps_head_and_tail() -> None:
    text = "头" * 300 + "尾"
    clipped = clip_for_model(text, 100)
    assert len(clipped) < 110 and clipped.startswith("头") and clipped.endswith("尾")
    assert clip_for_model("short") == "short"


def test_has_letters() -> None:
    assert has_letters("好") and has_letters("ok")
    assert not has_letters("😀!! 123")


@pytest.mark.parametrize(
    ("text", "sentiment", "score", "expected"),
    [
        ("太差了，我要退款！", NEGATIVE, -0.9, True),
        ("质量很差，再也不买了", NEGATIVE, -0.8, True),
        ("Broken on arrival, I want a refund.", NEGATIVE, -0.7, True),
        ("Never ordering from them again.", NEGATIVE, -0.6, True),
        ("太差了", NEGATIVE, -0.9, False),
        ("退款很快，点赞", POSITIVE, 0.8, False),
        ("The refund was quick, thanks!", POSITIVE, 0.9, False),
    ],
)
def test_complaint_needs_negative_and_a_cue(text: str, sentiment: str, score: float, expected: bool) -> None:
    assert is_complaint(text, sentiment, score) is expected


def test_complaint_cues_in_order() -> None:
    assert complaint_cues("要求退款，不然就投诉到12315") == ["退款", "投诉", "12315"]
