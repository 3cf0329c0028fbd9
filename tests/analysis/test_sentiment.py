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
    PHRASE_FEATURES,
    POSITIVE,
    CharNgramSentiment,
    LinearHead,
    PhraseSentiment,
    class_order,
    fit_idf,
    mean_word_polarity,
    negation_marked_words,
    parse_sentiment_label,
    phrase_counts,
    phrase_features,
    polarity_logits,
    sentiment_confidence,
    sentiment_labels,
    sentiment_score,
    softmax,
    tfidf_rows,
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
    ("text", "expected"),
    [
        ("The food wasn't good", ["the", "food", "wasn't", "not_good"]),
        ("not fresh, but tasty", ["not", "not_fresh", "but", "tasty"]),
        ("Never again! Great staff", ["never", "not_again", "great", "staff"]),
        ("I dont like it however it works", ["i", "dont", "not_like", "not_it", "however", "it", "works"]),
        ("Good\u2019s", ["good's"]),
        ("配送很快", []),
        ("", []),
    ],
)
def test_negation_scope_runs_to_punctuation_or_contrast(text: str, expected: list[str]) -> None:
    assert negation_marked_words(text) == expected


def test_phrase_features_add_bigrams_across_the_negation_mark() -> None:
    features = phrase_features("is not good")
    assert features == ["is", "not", "not_good", "is not", "not not_good"]
    assert phrase_counts(["is not good"]).sum() == len(features)


def test_phrase_student_saves_loads_and_reads_negation(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    texts = ["good food", "not bad at all", "great staff", "bad food", "not good", "rude staff"] * 4
    labels = [POSITIVE, POSITIVE, POSITIVE, NEGATIVE, NEGATIVE, NEGATIVE] * 4
    counts = phrase_counts(texts)
    idf = fit_idf(counts)
    fitted = LogisticRegression(C=10.0).fit(tfidf_rows(counts, idf), labels)
    # Word polarities as the build folds them from e5; "awful" is known only through them.
    words = {"good": (1.0, -1.0), "awful": (-3.0, 1.0)}
    model = PhraseSentiment(idf, LinearHead.from_sklearn(fitted, (NEGATIVE, POSITIVE)), words)
    model.save(tmp_path)
    reloaded = PhraseSentiment.load(tmp_path)
    assert reloaded.word_polarity == words
    texts = ["good food", "not good", "not bad", "bad food", "awful"]
    polarity = np.diff(reloaded.logits(texts), axis=1)[:, 0]
    assert polarity[0] > 0 > polarity[1]
    assert polarity[2] > 0 > polarity[3]
    assert polarity[4] < 0


def test_mean_word_polarity_uses_the_negated_value_in_scope() -> None:
    words = {"good": (2.0, -1.0), "food": (0.0, 0.0)}
    means = mean_word_polarity(["good food", "not good", "the unknown", ""], words)
    assert means.tolist() == [1.0, -1.0, 0.0, 0.0]


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
        ("très bon produit", "fr"),
        ("Livraison rapide, produit conforme, je recommande.", "fr"),
        ("Das Paket kam viel zu spät und die Verpackung war kaputt.", "de"),
        ("El producto llegó roto y nadie me responde.", "es"),
        ("Отличный товар, быстрая доставка", "ru"),
        ("Dobra jakość, szybka wysyłka", "pl"),
        ("خدمة سيئة جدا", "ar"),
        # Short English stays English even where an n-gram identifier alone would guess another language.
        ("Excellent product.", "en"),
        ("Horrible, horrible protector.", "en"),
        ("Sooooo good!!", "en"),
        ("Works fine.", "en"),
        ("Meh.", "en"),
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


@pytest.mark.parametrize(
    ("text", "cues"),
    [
        ("El producto llegó roto. Quiero un reembolso.", ["reembolso"]),
        ("Je veux être remboursé, plus jamais !", ["remboursé", "plus jamais"]),
        ("Ich will mein Geld zurück. Nie wieder!", ["geld zurück", "nie wieder"]),
        ("Chcę zwrot pieniędzy, nie polecam.", ["zwrot", "nie polecam"]),
        ("Bir daha asla almam, iade istiyorum.", ["bir daha asla", "iade"]),
        ("Верните деньги, это обман.", ["верните деньги", "обман"]),
        ("配送が遅い。返金してください。", ["返金"]),
        ("환불해 주세요.", ["환불"]),
        # A cue is a word start: "Ersatzteil" (spare part) or "proiade" are not cues.
        ("Das Ersatzteil passt perfekt.", []),
    ],
)
def test_complaint_cues_in_other_languages(text: str, cues: list[str]) -> None:
    assert complaint_cues(text) == cues


def test_a_refund_request_in_spanish_is_a_complaint_only_when_negative() -> None:
    text = "El producto llegó roto y nadie me responde. Quiero un reembolso."
    assert is_complaint(text, "negative", -0.9)
    assert not is_complaint(text, "positive", 0.8)


def test_phrase_student_serves_fast_mode_only_and_only_its_languages() -> None:
    from closeloop.analysis.sentiment_model import SentimentBatch, SentimentEnsemble, prepare_batch

    classes = (NEGATIVE, POSITIVE)
    head = LinearHead(classes, np.zeros((2, PHRASE_FEATURES), dtype=np.float32), np.zeros(2))
    phrase = PhraseSentiment(np.ones(PHRASE_FEATURES, dtype=np.float32), head, {"good": (4.0, -4.0)})
    ensemble = SentimentEnsemble(classes=classes, phrase=phrase, vader_languages=frozenset())
    fast_logits, fast_informed = ensemble.logits(
        prepare_batch(["good", "not good", "good"], ["en", "en", "zh"], fast=True)
    )
    assert np.diff(fast_logits, axis=1)[:, 0].tolist() == [4.0, -4.0, 0.0]
    assert fast_informed.tolist() == [True, True, False]
    accurate = SentimentBatch(["good"], ["en"], np.zeros((1, 384), dtype=np.float32))
    accurate_logits, accurate_informed = ensemble.logits(accurate)
    assert accurate_logits.tolist() == [[0.0, 0.0]]
    assert not accurate_informed[0]


def test_without_the_identifier_other_latin_languages_are_other(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("closeloop.analysis.language._identifier", lambda: None)
    assert detect_language("Das Paket kam viel zu spät und die Verpackung war kaputt.") == "other"
    assert detect_language("The delivery was late") == "en"
    assert detect_language("送餐很快") == "zh"
