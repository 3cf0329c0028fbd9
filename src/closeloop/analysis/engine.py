"""The analysis engine: texts in, one AnalysisResult per text out (language, sentiment, complaint,
categories, aspects, confidence). No database, no HTTP; the model directory is the only thing it reads.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from closeloop.analysis.complaint import is_complaint
from closeloop.analysis.language import UNDETERMINED, detect_language
from closeloop.analysis.sentiment import (
    NEUTRAL,
    VADER_LOGIT_SCALE,
    CharNgramSentiment,
    EmbeddingSentiment,
    embed,
    polarity_logits,
    sentiment_confidence,
    sentiment_labels,
    sentiment_score,
    softmax,
    vader_compound,
)
from closeloop.analysis.text import clip_for_model, has_letters, normalize_text

log = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = Path(__file__).with_name("data") / "default"
MANIFEST_NAME = "model.json"
# Results whose confidence is below this are flagged for a person to check.
REVIEW_THRESHOLD = 0.5


@dataclass
class AnalysisResult:
    """What the engine concludes about one piece of feedback."""

    language: str = UNDETERMINED
    sentiment: str = NEUTRAL
    sentiment_score: float = 0.0
    complaint: bool = False
    categories: list[str] = field(default_factory=list)
    aspects: list[tuple[str, str]] = field(default_factory=list)
    confidence: float = 0.0
    error: str | None = None
    needs_review: bool = True

    def as_row(self) -> dict[str, str]:
        """The result as CSV cells (the columns ``closeloop analyze`` appends)."""
        return {
            "language": self.language,
            "sentiment": self.sentiment,
            "sentiment_score": f"{self.sentiment_score:.4f}",
            "complaint": "true" if self.complaint else "false",
            "categories": ";".join(self.categories),
            "aspects": ";".join(f"{category}:{polarity}" for category, polarity in self.aspects),
            "confidence": f"{self.confidence:.4f}",
            "needs_review": "true" if self.needs_review else "false",
            "error": self.error or "",
        }


@dataclass
class SentimentScores:
    """Per-text sentiment of a batch: labels, scores (−1…1) and confidences (0…1)."""

    labels: list[str]
    scores: np.ndarray
    confidences: np.ndarray


@dataclass
class SentimentEnsemble:
    """The sentiment models of one model directory and the languages each of them speaks."""

    classes: tuple[str, ...]
    embedding: EmbeddingSentiment | None = None
    char: CharNgramSentiment | None = None
    char_languages: frozenset[str] | None = None  # None: every language
    vader_languages: frozenset[str] = frozenset({"en", UNDETERMINED})

    def score(self, texts: Sequence[str], languages: Sequence[str], *, fast: bool) -> SentimentScores:
        """Score normalised texts. ``fast`` skips the embedding model (thousands of texts per second)."""
        n = len(texts)
        logits = np.zeros((n, len(self.classes)))
        informed = np.zeros(n, dtype=bool)  # rows at least one model had something to read
        with_letters = np.array([has_letters(t) for t in texts], dtype=bool)
        if self.embedding is not None and not fast and with_letters.any():
            rows = np.flatnonzero(with_letters)
            logits[rows] += self.embedding.logits(embed([clip_for_model(texts[i]) for i in rows]))
            informed[rows] = True
        if self.char is not None:
            rows = np.flatnonzero([
                bool(letters) and (self.char_languages is None or lang in self.char_languages)
                for letters, lang in zip(with_letters, languages, strict=True)
            ])
            if rows.size:
                logits[rows] += self.char.logits([texts[i] for i in rows])
                informed[rows] = True
        vader_rows = np.flatnonzero([lang in self.vader_languages for lang in languages])
        if vader_rows.size:
            compound = vader_compound([texts[i] for i in vader_rows])
            logits[vader_rows] += polarity_logits(compound * VADER_LOGIT_SCALE, self.classes)
            informed[vader_rows] |= compound != 0
        probabilities = softmax(logits)
        scores = sentiment_score(probabilities, self.classes)
        labels = sentiment_labels(probabilities, self.classes)
        confidences = sentiment_confidence(probabilities)
        for i in np.flatnonzero(~informed):  # nothing to read (empty, digits, unknown emoji): say so
            labels[i], scores[i], confidences[i] = NEUTRAL, 0.0, 0.0
        return SentimentScores(labels, scores, confidences)


def read_manifest(model_dir: Path) -> dict[str, Any]:
    """The ``model.json`` of a model directory."""
    path = model_dir / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{model_dir}: not a closeloop model directory (no {MANIFEST_NAME})")
    return json.loads(path.read_text(encoding="utf-8"))


def load_sentiment(model_dir: Path, manifest: dict[str, Any]) -> SentimentEnsemble:
    """The sentiment ensemble described by ``manifest['sentiment']``."""
    spec = manifest["sentiment"]
    char_languages = spec.get("char_languages")
    return SentimentEnsemble(
        classes=tuple(spec["classes"]),
        embedding=EmbeddingSentiment.load(model_dir) if spec.get("embedding") else None,
        char=CharNgramSentiment.load(model_dir) if spec.get("char") else None,
        char_languages=frozenset(char_languages) if char_languages is not None else None,
        vader_languages=frozenset(spec.get("vader_languages", ["en", UNDETERMINED])),
    )


def _load_detectors(model_dir: Path) -> tuple[Any, Any]:
    """Category and aspect detectors: the model directory's own, else the defaults; (None, None) if absent."""
    try:
        from closeloop.analysis.aspects import AspectDetector
        from closeloop.analysis.categories import CategoryDetector
        from closeloop.analysis.taxonomy import load_taxonomy
    except ImportError as exc:  # the category helper's modules are optional for sentiment-only use
        log.warning("categories and aspects unavailable: %s", exc)
        return None, None
    taxonomy_path = model_dir / "taxonomy.yaml"
    taxonomy = load_taxonomy(taxonomy_path if taxonomy_path.is_file() else None)
    categories_dir, aspects_dir = model_dir / "categories", model_dir / "aspects"
    categories = (CategoryDetector.load(categories_dir) if categories_dir.is_dir()
                  else CategoryDetector.default(taxonomy))
    aspects = AspectDetector.load(aspects_dir) if aspects_dir.is_dir() else AspectDetector.default(taxonomy)
    return categories, aspects


class Engine:
    """Analyses feedback with the models of one model directory (default: the packaged model)."""

    def __init__(self, sentiment: SentimentEnsemble, *, version: str, fast: bool = False,
                 categories: Any = None, aspects: Any = None, model_dir: Path | None = None) -> None:
        self.sentiment = sentiment
        self.version = version
        self.fast = fast
        self.category_detector = categories
        self.aspect_detector = aspects
        self.model_dir = model_dir

    @classmethod
    def load(cls, model_dir: Path | None = None, *, fast: bool = False) -> Engine:
        """Load a model directory written by ``train_model`` (``None``: the shipped default model)."""
        directory = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
        manifest = read_manifest(directory)
        categories, aspects = _load_detectors(directory)
        version = str(manifest["version"]) + ("+fast" if fast else "")
        return cls(load_sentiment(directory, manifest), version=version, fast=fast,
                   categories=categories, aspects=aspects, model_dir=directory)

    def clause_sentiment(self, clauses: list[str]) -> list[float]:
        """Sentiment scores (−1…1) of short texts such as clauses; what the aspect detector calls back."""
        texts = [normalize_text(c) for c in clauses]
        return [float(s) for s in self.score_sentiment(texts).scores]

    def score_sentiment(self, texts: Sequence[str]) -> SentimentScores:
        """Sentiment of already normalised texts."""
        return self.sentiment.score(texts, [detect_language(t) for t in texts], fast=self.fast)

    def analyze(self, texts: Sequence[object]) -> list[AnalysisResult]:
        """Analyse a batch; a text that cannot be analysed gets a result with ``error`` set, never an exception."""
        try:
            return self._analyze_batch([normalize_text(t) for t in texts])
        except Exception:  # one bad text must not sink the batch: retry one by one
            log.exception("batch analysis failed; analysing texts one by one")
        results = []
        for text in texts:
            try:
                results.extend(self._analyze_batch([normalize_text(text)]))
            except Exception as exc:  # noqa: BLE001 - reported in the row's error cell
                results.append(AnalysisResult(error=f"{type(exc).__name__}: {exc}"))
        return results

    def _analyze_batch(self, texts: list[str]) -> list[AnalysisResult]:
        languages = [detect_language(t) for t in texts]
        sentiment = self.sentiment.score(texts, languages, fast=self.fast)
        categories = self._categories(texts)
        aspects = self._aspects(texts, categories)
        results = []
        for i, text in enumerate(texts):
            score = float(sentiment.scores[i])
            confidence = float(sentiment.confidences[i])
            results.append(AnalysisResult(
                language=languages[i],
                sentiment=sentiment.labels[i],
                sentiment_score=round(score, 4),
                complaint=is_complaint(text, sentiment.labels[i], score),
                categories=categories[i],
                aspects=aspects[i],
                confidence=round(confidence, 4),
                needs_review=confidence < REVIEW_THRESHOLD,
            ))
        return results

    def _categories(self, texts: list[str]) -> list[list[str]]:
        if self.category_detector is None:
            return [[] for _ in texts]
        predicted: list[list[tuple[str, float]]] = self.category_detector.predict(texts)
        return [[category for category, _ in row] for row in predicted]

    def _aspects(self, texts: list[str], categories: list[list[str]]) -> list[list[tuple[str, str]]]:
        if self.aspect_detector is None:
            return [[] for _ in texts]
        clause_sentiment: Callable[[list[str]], list[float]] = self.clause_sentiment
        return [list(row) for row in self.aspect_detector.predict(texts, categories, clause_sentiment)]
