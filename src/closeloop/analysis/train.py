"""Learning from a user's labelled feedback: writes a model directory that ``Engine.load`` reads.

Only what was labelled is learned; everything else is copied from the base (shipped) model. Sentiment
stacks new heads (e5 embeddings and char n-grams, fitted on the labels) on the base model, with weights
chosen on out-of-fold predictions so that a few hundred labels cannot make things worse than the base.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from closeloop.analysis.engine import DEFAULT_MODEL_DIR, MANIFEST_NAME, read_manifest
from closeloop.analysis.language import detect_language
from closeloop.analysis.sentiment import (
    CharNgramSentiment,
    EmbeddingSentiment,
    class_order,
    parse_sentiment_label,
    softmax,
)
from closeloop.analysis.sentiment_model import (
    BASE_SUBDIR,
    SentimentEnsemble,
    base_to_classes,
    load_sentiment_model,
    prepare_batch,
)
from closeloop.analysis.text import normalize_text

FOLDS = 5
EMBEDDING_C = 2.0
CHAR_C = 4.0
# Candidate weights for stacking; all-zero is skipped.
WEIGHT_GRID = (0.0, 0.5, 1.0, 1.5)
MIN_SENTIMENT_ROWS = 10

Progress = Callable[[str], None]


@dataclass
class TrainingReport:
    """What ``train_model`` learned and where it put it."""

    model_dir: Path
    version: str
    sentiment_rows: int = 0
    sentiment_skipped: int = 0
    sentiment_weights: dict[str, float] = field(default_factory=dict)
    sentiment_fast_weights: dict[str, float] = field(default_factory=dict)
    category_rows: int = 0
    aspect_rows: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_dir": str(self.model_dir),
            "version": self.version,
            "sentiment_rows": self.sentiment_rows,
            "sentiment_skipped": self.sentiment_skipped,
            "sentiment_weights": self.sentiment_weights,
            "sentiment_fast_weights": self.sentiment_fast_weights,
            "category_rows": self.category_rows,
            "aspect_rows": self.aspect_rows,
            "seconds": round(self.seconds, 1),
        }


def parse_category_cell(cell: object) -> list[str]:
    """``"Late Flight;退款"`` → ``["Late Flight", "退款"]`` (empty cell → [])."""
    if cell is None:
        return []
    return [name.strip() for name in str(cell).replace("；", ";").split(";") if name.strip()]


def parse_aspect_cell(cell: object) -> list[tuple[str, str]]:
    """``"price:negative;logistics:positive"`` → pairs; a part without a known polarity is skipped."""
    pairs = []
    for part in parse_category_cell(cell):
        category, _, polarity = part.replace("：", ":").rpartition(":")
        label = parse_sentiment_label(polarity)
        if category.strip() and label is not None:
            pairs.append((category.strip(), label))
    return pairs


def stratified_folds(labels: Sequence[str], folds: int, seed: int = 0) -> np.ndarray:
    """A fold number per row, each class spread evenly over the folds (deterministic)."""
    rng = np.random.default_rng(seed)
    assignment = np.zeros(len(labels), dtype=int)
    labels_array = np.asarray(labels)
    for label in sorted(set(labels)):
        rows = rng.permutation(np.flatnonzero(labels_array == label))
        assignment[rows] = np.arange(rows.size) % folds
    return assignment


def choose_weights(parts: dict[str, np.ndarray], gold: np.ndarray) -> dict[str, float]:
    """The grid weights whose weighted sum of logits is most accurate (ties: lower log loss)."""
    names = sorted(parts)
    best: tuple[float, float] | None = None
    chosen: dict[str, float] = {}
    for combination in itertools.product(WEIGHT_GRID, repeat=len(names)):
        if not any(combination):
            continue
        logits = sum(w * parts[name] for w, name in zip(combination, names, strict=True))
        probabilities = softmax(np.asarray(logits))
        accuracy = float((probabilities.argmax(axis=1) == gold).mean())
        log_loss = float(-np.log(probabilities[np.arange(len(gold)), gold] + 1e-12).mean())
        key = (accuracy, -log_loss)
        if best is None or key > best:
            best, chosen = key, dict(zip(names, combination, strict=True))
    return chosen


def fit_stacker(parts: dict[str, np.ndarray], gold: np.ndarray, n_classes: int) -> dict[str, float]:
    """Weights for combining heads: with two classes a logistic regression on the heads' polarity logits
    (continuous weights plus a ``bias`` that absorbs the user's class balance), else the grid search.
    """
    if n_classes != 2:
        return choose_weights(parts, gold)
    from sklearn.linear_model import LogisticRegression

    names = sorted(parts)
    polarity = np.column_stack([parts[name][:, 1] - parts[name][:, 0] for name in names])
    stacker = LogisticRegression(C=1.0, max_iter=1000).fit(polarity, gold)
    weights = {name: round(float(w), 4) for name, w in zip(names, stacker.coef_[0], strict=True)}
    weights["bias"] = round(float(stacker.intercept_[0]), 4)
    return weights


def out_of_fold_logits(
    texts: list[str], embeddings: np.ndarray, labels: list[str], classes: tuple[str, ...], folds: int
) -> tuple[np.ndarray, np.ndarray]:
    """Embedding-head and char-head logits for each row from models that did not see that row."""
    assignment = stratified_folds(labels, folds)
    embedding_logits = np.zeros((len(texts), len(classes)))
    char_logits = np.zeros((len(texts), len(classes)))
    labels_array = np.asarray(labels)
    for fold in range(folds):
        train_rows, held_out = np.flatnonzero(assignment != fold), np.flatnonzero(assignment == fold)
        if held_out.size == 0 or set(labels_array[train_rows]) != set(classes):
            continue
        fold_labels = list(labels_array[train_rows])
        embedding_head = EmbeddingSentiment.fit(embeddings[train_rows], fold_labels, c=EMBEDDING_C)
        embedding_logits[held_out] = embedding_head.logits(embeddings[held_out])
        char_head = CharNgramSentiment.fit([texts[i] for i in train_rows], fold_labels, c=CHAR_C)
        char_logits[held_out] = char_head.logits([texts[i] for i in held_out])
    return embedding_logits, char_logits


def train_sentiment(
    texts: list[str], labels: list[str], model_dir: Path, base_dir: Path, progress: Progress
) -> dict[str, Any]:
    """Fit stacked sentiment heads into ``model_dir``; returns the manifest's ``sentiment`` entry."""
    classes = class_order(labels)
    base_manifest = read_manifest(base_dir)
    base = load_sentiment_model(base_dir, base_manifest["sentiment"])
    if not isinstance(base, SentimentEnsemble):
        raise ValueError(f"{base_dir}: train on top of the shipped model, not on another trained model")
    languages = [detect_language(t) for t in texts]
    progress(f"embedding {len(texts)} texts")
    batch = prepare_batch(texts, languages, fast=False)
    assert batch.embeddings is not None
    progress("cross-validating sentiment heads")
    embedding_oof, char_oof = out_of_fold_logits(texts, batch.embeddings, labels, classes, FOLDS)
    base_accurate = base_to_classes(base.logits(batch)[0], base.classes, classes)
    base_fast = base_to_classes(
        base.logits(prepare_batch(texts, languages, fast=True))[0], base.classes, classes
    )
    gold = np.array([classes.index(label) for label in labels])
    accurate_parts = {"embedding": embedding_oof, "char": char_oof, "base": base_accurate}
    weights = fit_stacker(accurate_parts, gold, len(classes))
    fast_weights = fit_stacker({"char": char_oof, "base": base_fast}, gold, len(classes))
    progress("fitting sentiment heads on all rows")
    EmbeddingSentiment.fit(batch.embeddings, labels, c=EMBEDDING_C).save(model_dir)
    CharNgramSentiment.fit(texts, labels, c=CHAR_C).save(model_dir)
    shutil.copytree(
        base_dir,
        model_dir / BASE_SUBDIR,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("categories", "aspects", BASE_SUBDIR),
    )
    return {
        "kind": "stacked",
        "classes": list(classes),
        "base": base_manifest["sentiment"],
        "base_version": base_manifest["version"],
        "weights": weights,
        "fast_weights": fast_weights,
    }


def _copy_base_sentiment(base_dir: Path, model_dir: Path) -> dict[str, Any]:
    for path in base_dir.iterdir():
        if path.is_file() and path.name != MANIFEST_NAME:
            shutil.copy2(path, model_dir / path.name)
        elif path.is_dir() and path.name == BASE_SUBDIR:
            shutil.copytree(path, model_dir / BASE_SUBDIR, dirs_exist_ok=True)
    return read_manifest(base_dir)["sentiment"]


def _model_hash(model_dir: Path, settings: dict[str, Any]) -> str:
    """Hash of the model's files and of its settings (stacking weights live in the manifest)."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, ensure_ascii=False).encode())
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file() and p.name != MANIFEST_NAME):
        digest.update(str(path.relative_to(model_dir)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def train_model(
    texts: Sequence[object],
    model_dir: Path,
    *,
    sentiment_labels: Sequence[object] | None = None,
    category_labels: Sequence[object] | None = None,
    aspect_labels: Sequence[object] | None = None,
    base_model_dir: Path | None = None,
    progress: Progress | None = None,
) -> TrainingReport:
    """Learn from labelled feedback and write a complete model directory to ``model_dir``.

    Label sequences run parallel to ``texts``; ``None`` means "not labelled, keep the base model's".
    Sentiment labels: positive/neutral/negative, 1/0, 正面/中性/负面 (unusable labels are skipped).
    Category cells: names joined by ``;`` (new names extend the taxonomy). Aspect cells:
    ``category:polarity`` pairs joined by ``;``.
    """
    started = time.perf_counter()
    say = progress or (lambda _message: None)
    base_dir = Path(base_model_dir) if base_model_dir is not None else DEFAULT_MODEL_DIR
    model_dir = Path(model_dir)
    normalized = [normalize_text(t) for t in texts]
    for name, column in (
        ("sentiment", sentiment_labels),
        ("category", category_labels),
        ("aspect", aspect_labels),
    ):
        if column is not None and len(column) != len(normalized):
            raise ValueError(f"{len(normalized)} texts but {len(column)} {name} labels")
    if model_dir.resolve() == base_dir.resolve():
        raise ValueError("the model directory must differ from the base model directory")
    if model_dir.exists():
        shutil.rmtree(model_dir)
    model_dir.mkdir(parents=True)
    report = TrainingReport(model_dir=model_dir, version="")
    trained: dict[str, int] = {}

    if sentiment_labels is not None:
        parsed = [parse_sentiment_label(label) for label in sentiment_labels]
        rows = [i for i, label in enumerate(parsed) if label is not None]
        report.sentiment_rows, report.sentiment_skipped = len(rows), len(parsed) - len(rows)
        if len(rows) < MIN_SENTIMENT_ROWS:
            raise ValueError(f"only {len(rows)} usable sentiment labels; need at least {MIN_SENTIMENT_ROWS}")
        sentiment_spec = train_sentiment(
            [normalized[i] for i in rows],
            [parsed[i] for i in rows],  # type: ignore[misc]
            model_dir,
            base_dir,
            say,
        )
        report.sentiment_weights = sentiment_spec["weights"]
        report.sentiment_fast_weights = sentiment_spec["fast_weights"]
        trained["sentiment"] = len(rows)
    else:
        sentiment_spec = _copy_base_sentiment(base_dir, model_dir)

    taxonomy = None
    if category_labels is not None:
        from closeloop.analysis.categories import CategoryDetector

        say("training categories")
        names = [parse_category_cell(cell) for cell in category_labels]
        detector = CategoryDetector.default(_base_taxonomy(base_dir)).fit(normalized, names)
        detector.save(model_dir / "categories")
        taxonomy = detector.taxonomy
        report.category_rows = trained["categories"] = sum(1 for row in names if row)
    elif (base_dir / "categories").is_dir():
        shutil.copytree(base_dir / "categories", model_dir / "categories")

    if aspect_labels is not None:
        from closeloop.analysis.aspects import AspectDetector

        say("training aspects")
        pairs = [parse_aspect_cell(cell) for cell in aspect_labels]
        if taxonomy is None:
            taxonomy = _base_taxonomy(base_dir).extend(category for row in pairs for category, _ in row)
        AspectDetector.default(taxonomy).fit(normalized, pairs).save(model_dir / "aspects")
        report.aspect_rows = trained["aspects"] = sum(1 for row in pairs if row)
    elif (base_dir / "aspects").is_dir():
        shutil.copytree(base_dir / "aspects", model_dir / "aspects")

    if taxonomy is not None:
        from closeloop.analysis.taxonomy import save_taxonomy

        save_taxonomy(taxonomy, model_dir / "taxonomy.yaml")
    elif (base_dir / "taxonomy.yaml").is_file():
        shutil.copy2(base_dir / "taxonomy.yaml", model_dir / "taxonomy.yaml")

    report.version = f"user-{_model_hash(model_dir, {'sentiment': sentiment_spec, 'trained': trained})}"
    manifest = {
        "format": 1,
        "kind": "user",
        "version": report.version,
        "base_version": read_manifest(base_dir)["version"],
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "trained": trained,
        "sentiment": sentiment_spec,
    }
    (model_dir / MANIFEST_NAME).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", "utf-8")
    report.seconds = time.perf_counter() - started
    return report


def _base_taxonomy(base_dir: Path) -> Any:
    from closeloop.analysis.taxonomy import load_taxonomy

    path = base_dir / "taxonomy.yaml"
    return load_taxonomy(path if path.is_file() else None)
