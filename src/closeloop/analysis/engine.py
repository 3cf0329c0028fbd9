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
from closeloop.analysis.sentiment import NEUTRAL
from closeloop.analysis.sentiment_model import (
    SentimentModel,
    SentimentScores,
    load_sentiment_model,
    prepare_batch,
)
from closeloop.analysis.text import normalize_text

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
    # The text's e5 embedding in accurate mode (kept by the store so it is computed once), else None.
    embedding: np.ndarray | None = field(default=None, repr=False, compare=False)

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


def read_manifest(model_dir: Path) -> dict[str, Any]:
    """The ``model.json`` of a model directory."""
    path = model_dir / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{model_dir}: not a closeloop model directory (no {MANIFEST_NAME})")
    return json.loads(path.read_text(encoding="utf-8"))


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
    categories = (
        CategoryDetector.load(categories_dir)
        if categories_dir.is_dir()
        else CategoryDetector.default(taxonomy)
    )
    aspects = AspectDetector.load(aspects_dir) if aspects_dir.is_dir() else AspectDetector.default(taxonomy)
    return categories, aspects


class Engine:
    """Analyses feedback with the models of one model directory (default: the packaged model)."""

    def __init__(
        self,
        sentiment: SentimentModel,
        *,
        version: str,
        fast: bool = False,
        categories: Any = None,
        aspects: Any = None,
        model_dir: Path | None = None,
    ) -> None:
        self.sentiment = sentiment
        self.version = version
        self.fast = fast
        self.category_detector = categories
        self.aspect_detector = aspects
        if categories is not None and aspects is not None and categories.taxonomy == aspects.taxonomy:
            aspects.matcher = categories.matcher  # one keyword pass per text serves both detectors
        self.model_dir = model_dir
        self._batch_scores: dict[str, float] = {}  # text → score, for the batch being analysed

    @classmethod
    def load(cls, model_dir: Path | None = None, *, fast: bool = False) -> Engine:
        """Load a model directory written by ``train_model`` (``None``: the shipped default model)."""
        directory = Path(model_dir) if model_dir is not None else DEFAULT_MODEL_DIR
        manifest = read_manifest(directory)
        categories, aspects = _load_detectors(directory)
        version = str(manifest["version"]) + ("+fast" if fast else "")
        return cls(
            load_sentiment_model(directory, manifest["sentiment"]),
            version=version,
            fast=fast,
            categories=categories,
            aspects=aspects,
            model_dir=directory,
        )

    def clause_sentiment(self, clauses: list[str]) -> list[float]:
        """Sentiment scores (−1…1) of short texts such as clauses; what the aspect detector calls back.

        Clauses that are a whole text of the batch being analysed reuse that text's score. In fast mode
        clauses get no second opinion from the sentence head (there are several per text: it would cost
        most of fast mode's speed); texts in languages only the head reads still get it.
        """
        texts = [normalize_text(c) for c in clauses]
        missing = sorted({t for t in texts if t not in self._batch_scores})
        if missing:
            fresh = self.score_sentiment(missing, second_opinion=False).scores
            self._batch_scores.update(zip(missing, (float(s) for s in fresh), strict=True))
        return [self._batch_scores[t] for t in texts]

    def score_sentiment(
        self, texts: Sequence[str], languages: Sequence[str] | None = None, *, second_opinion: bool = True
    ) -> SentimentScores:
        """Sentiment of already normalised texts (languages detected when not given)."""
        languages = list(languages) if languages is not None else [detect_language(t) for t in texts]
        batch = prepare_batch(texts, languages, fast=self.fast, second_opinion=second_opinion)
        return self.sentiment.score(batch)

    def analyze(
        self, texts: Sequence[object], *, embeddings: Sequence[np.ndarray | None] | None = None
    ) -> list[AnalysisResult]:
        """Analyse a batch; a text that cannot be analysed gets a result with ``error`` set, no exception.

        ``embeddings`` may carry e5 embeddings kept from an earlier run (None where unknown); they are
        reused instead of being computed again.
        """
        try:
            return self._analyze_batch([normalize_text(t) for t in texts], embeddings)
        except Exception:  # one bad text must not sink the batch: retry one by one
            log.exception("batch analysis failed; analysing texts one by one")
        results = []
        for text in texts:
            try:
                results.extend(self._analyze_batch([normalize_text(text)]))
            except Exception as exc:  # reported in the row's error cell
                results.append(AnalysisResult(error=f"{type(exc).__name__}: {exc}"))
        return results

    def _analyze_batch(
        self, texts: list[str], known: Sequence[np.ndarray | None] | None = None
    ) -> list[AnalysisResult]:
        languages = [detect_language(t) for t in texts]
        batch = prepare_batch(texts, languages, fast=self.fast, known=known)
        sentiment = self.sentiment.score(batch)
        self._batch_scores = {t: float(s) for t, s in zip(texts, sentiment.scores, strict=True)}
        try:
            categories = self._categories(texts)
            aspects = self._aspects(texts, categories)
        finally:
            self._batch_scores = {}
        results = []
        for i, text in enumerate(texts):
            score = float(sentiment.scores[i])
            confidence = float(sentiment.confidences[i])
            results.append(
                AnalysisResult(
                    language=languages[i],
                    sentiment=sentiment.labels[i],
                    sentiment_score=round(score, 4),
                    complaint=is_complaint(text, sentiment.labels[i], score),
                    categories=categories[i],
                    aspects=aspects[i],
                    confidence=round(confidence, 4),
                    needs_review=confidence < REVIEW_THRESHOLD,
                    embedding=None if batch.embeddings is None else batch.embeddings[i],
                )
            )
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
