"""--fast defers to accurate mode where it stays least sure: e5 reads those texts, and only those."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from closeloop.analysis.engine import Engine
from closeloop.analysis.language import detect_language
from closeloop.analysis.sentence_head import band_for_confidence
from closeloop.analysis.sentiment import NEGATIVE, POSITIVE
from closeloop.analysis.sentiment_model import (
    SentimentEnsemble,
    ensemble_spec,
    load_sentiment_model,
    prepare_batch,
)
from closeloop.analysis.text import normalize_text

# Hand-written English feedback, plain and hedged, so that fast mode is sure of some and unsure of others.
ENGLISH = [
    "Great service, thank you!",
    "Terrible. Never again.",
    "It arrived on Tuesday.",
    "Does it come with batteries?",
    "Meh, it's fine I guess.",
    "Not what I expected but it works.",
    "The box was there when I got home.",
    "Okay for the price.",
    "I asked about the warranty last week.",
    "Could be better, could be worse.",
    "Fits, mostly.",
    "Second order this month.",
]
# Languages no student reads (the sentence head reads them alone in fast mode).
OTHER = [
    "Sehr gute Qualität, schnelle Lieferung.",
    "Ужасное качество, верните деньги.",
    "Le colis est arrivé mardi.",
    "配送は普通でした。",
    "Servizio clienti eccellente!",
    "배송이 너무 늦어요.",
    "Het pakket kwam op dinsdag.",
]
CHINESE = ["还行吧", "一般般", "收到了", "东西到了，还没用", "和描述差不多", "不好不坏"]


def shipped_ensemble(engine: Engine) -> SentimentEnsemble:
    assert isinstance(engine.sentiment, SentimentEnsemble)
    return engine.sentiment


def fast_polarity_before_deferring(ensemble: SentimentEnsemble, texts: list[str]) -> np.ndarray:
    """The fast polarity logit with the cascade but without deferring."""
    cascade_only = dataclasses.replace(ensemble, defer_band=0.0, defer_uncovered_band=0.0)
    languages = [detect_language(t) for t in texts]
    logits, _ = cascade_only.logits(prepare_batch(texts, languages, fast=True))
    return logits[:, cascade_only.classes.index(POSITIVE)] - logits[:, cascade_only.classes.index(NEGATIVE)]


def test_the_shipped_model_defers_english_and_unread_languages_but_not_chinese(fast_engine: Engine) -> None:
    ensemble = shipped_ensemble(fast_engine)
    assert ensemble.defer_band == pytest.approx(band_for_confidence(0.15), abs=1e-4)
    assert ensemble.defer_languages == frozenset({"en"})
    assert ensemble.defer_uncovered_band == pytest.approx(band_for_confidence(0.5), abs=1e-4)
    assert "zh" not in ensemble.defer_languages


def scored_both_ways(
    engine: Engine, fast_engine: Engine, raw_texts: list[str], band: float
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(texts, fast polarity before deferring, which are within ``band``, fast scores, accurate scores); the
    list must hold texts on both sides of the band."""
    texts = [normalize_text(t) for t in raw_texts]
    before = fast_polarity_before_deferring(shipped_ensemble(fast_engine), texts)
    unsure = np.abs(before) < band
    assert unsure.any() and not unsure.all(), before
    fast, accurate = fast_engine.score_sentiment(texts).scores, engine.score_sentiment(texts).scores
    return texts, before, unsure, fast, accurate


def test_unsure_english_gets_accurate_modes_verdict_and_sure_english_keeps_its_own(
    engine: Engine, fast_engine: Engine
) -> None:
    ensemble = shipped_ensemble(fast_engine)
    texts, _, unsure, fast, accurate = scored_both_ways(engine, fast_engine, ENGLISH, ensemble.defer_band)
    cascade_only = dataclasses.replace(ensemble, defer_band=0.0, defer_uncovered_band=0.0)
    kept = cascade_only.score(prepare_batch(texts, [detect_language(t) for t in texts], fast=True)).scores
    for i, text in enumerate(texts):
        wanted = accurate[i] if unsure[i] else kept[i]
        assert fast[i] == pytest.approx(wanted, abs=1e-6), text


def test_languages_only_the_head_reads_are_deferred_where_it_would_be_flagged_for_review(
    engine: Engine, fast_engine: Engine
) -> None:
    band = shipped_ensemble(fast_engine).defer_uncovered_band
    texts, before, unsure, fast, accurate = scored_both_ways(engine, fast_engine, OTHER, band)
    for i, text in enumerate(texts):
        if unsure[i]:
            assert fast[i] == pytest.approx(accurate[i], abs=1e-6), text
        else:  # the head's own verdict, confident enough not to be flagged for review
            assert abs(np.tanh(before[i] / 2)) >= 0.5 and np.sign(fast[i]) == np.sign(before[i]), text


def test_chinese_is_never_deferred(fast_engine: Engine) -> None:
    ensemble = shipped_ensemble(fast_engine)
    cascade_only = dataclasses.replace(ensemble, defer_band=0.0, defer_uncovered_band=0.0)
    batch_languages = ["zh"] * len(CHINESE)
    fast = ensemble.score(prepare_batch(CHINESE, batch_languages, fast=True)).scores
    kept = cascade_only.score(prepare_batch(CHINESE, batch_languages, fast=True)).scores
    assert fast.tolist() == pytest.approx(kept.tolist(), abs=1e-9)


def test_a_deferred_verdict_does_not_depend_on_the_rest_of_the_batch(fast_engine: Engine) -> None:
    texts = [normalize_text(t) for t in ENGLISH]
    together = fast_engine.score_sentiment(texts).scores
    alone = [float(fast_engine.score_sentiment([t]).scores[0]) for t in texts]
    assert together.tolist() == pytest.approx(alone, abs=1e-6)


def test_aspect_clauses_are_not_deferred(fast_engine: Engine) -> None:
    texts = [normalize_text(t) for t in ENGLISH]
    ensemble = shipped_ensemble(fast_engine)
    languages = [detect_language(t) for t in texts]
    clauses = ensemble.score(prepare_batch(texts, languages, fast=True, second_opinion=False)).scores
    no_defer = dataclasses.replace(ensemble, defer_band=0.0, defer_uncovered_band=0.0)
    plain = no_defer.score(prepare_batch(texts, languages, fast=True, second_opinion=False)).scores
    assert clauses.tolist() == pytest.approx(plain.tolist(), abs=1e-9)


def test_deferring_is_part_of_the_manifest_and_older_models_do_not_defer(fast_engine: Engine) -> None:
    ensemble = shipped_ensemble(fast_engine)
    spec = ensemble_spec(ensemble)
    assert spec["defer_languages"] == ["en"] and spec["defer_uncovered_band"] > spec["defer_band"] > 0
    assert fast_engine.model_dir is not None
    again = load_sentiment_model(fast_engine.model_dir, spec)
    assert isinstance(again, SentimentEnsemble)
    assert (again.defer_band, again.defer_languages) == (ensemble.defer_band, ensemble.defer_languages)
    older = {k: v for k, v in spec.items() if not k.startswith("defer_")}
    before = load_sentiment_model(fast_engine.model_dir, older)
    assert isinstance(before, SentimentEnsemble)
    assert before.defer_band == before.defer_uncovered_band == 0.0
