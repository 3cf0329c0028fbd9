"""Adapting the fast mode to a user's own unlabelled feedback (``closeloop model adapt``).

The accurate mode of a model directory (the teacher) labels the user's texts with soft scores; a student on
character and word n-grams learns those scores, and fast mode adds the student's logits to the base's fast
logits with weights fitted on out-of-fold agreement with the teacher. No gold labels are used or needed.
The accurate mode of the written model is exactly the base's. Texts in, a model directory out; no database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import shutil
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from closeloop.analysis.engine import DEFAULT_MODEL_DIR, MANIFEST_NAME, read_manifest
from closeloop.analysis.language import detect_language
from closeloop.analysis.sentiment import (
    LinearHead,
    StudentSentiment,
    fit_idf,
    polarity_logits,
    softmax,
    student_ngram_counts,
    tfidf_rows,
)
from closeloop.analysis.sentiment_model import (
    ANY_LANGUAGE,
    STUDENT_SUBDIR,
    SentimentEnsemble,
    StackedSentiment,
    load_sentiment_model,
    prepare_batch,
)
from closeloop.analysis.text import has_letters, normalize_text

# At most this many distinct texts are labelled by the teacher (≈ 40–80 short texts/s on 2 cores).
MAX_TEXTS = 20_000
MIN_TEXTS = 20
TEACHER_CHUNK = 64
FOLDS = 3
STUDENT_C = 4.0
# A language gets fast weights of its own when the sample holds at least this many of its texts.
MIN_LANGUAGE_TEXTS = 200
SAMPLE_SEED = 20261125

# progress(stage, done, total): stages are "labelling", "training" and "writing".
AdaptProgress = Callable[[str, int, int], None]


@dataclass
class AdaptReport:
    """What ``adapt_model`` did: the sample it learned from and how far fast mode now follows accurate mode.

    ``agreement_before``/``agreement_after``: share of the sample on which fast mode picks the same class as
    accurate mode, before adaptation and (out-of-fold, i.e. on texts the student did not learn from) after.
    """

    model_dir: Path
    version: str
    base_version: str
    texts: int = 0
    skipped: int = 0
    sampled_out: int = 0
    languages: dict[str, int] = field(default_factory=dict)
    agreement_before: float = 0.0
    agreement_after: float = 0.0
    fast_weights: dict[str, dict[str, float]] = field(default_factory=dict)
    teacher_seconds: float = 0.0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "model_dir": str(self.model_dir),
            "version": self.version,
            "base_version": self.base_version,
            "texts": self.texts,
            "skipped": self.skipped,
            "sampled_out": self.sampled_out,
            "languages": self.languages,
            "agreement_before": round(self.agreement_before, 4),
            "agreement_after": round(self.agreement_after, 4),
            "fast_weights": self.fast_weights,
            "teacher_seconds": round(self.teacher_seconds, 1),
            "seconds": round(self.seconds, 1),
        }


def feedback_sample(
    texts: Sequence[object], max_texts: int = MAX_TEXTS, seed: int = SAMPLE_SEED
) -> tuple[list[str], int, int]:
    """Distinct normalised texts with letters, at most ``max_texts`` of them (fixed-seed sample).

    Returns (texts, skipped: empty/letterless/duplicate, sampled_out: left out by the cap).
    """
    seen: dict[str, None] = {}
    for text in texts:
        normalized = normalize_text(text)
        if has_letters(normalized):
            seen.setdefault(normalized, None)
    distinct = list(seen)
    skipped = len(texts) - len(distinct)
    if max_texts > 0 and len(distinct) > max_texts:
        kept = sorted(random.Random(seed).sample(range(len(distinct)), max_texts))
        return [distinct[i] for i in kept], skipped, len(distinct) - max_texts
    return distinct, skipped, 0


def teacher_probabilities(
    model: Any, texts: list[str], languages: list[str], progress: AdaptProgress
) -> np.ndarray:
    """Accurate-mode class probabilities of ``model`` for every text, in chunks (e5 is the slow part)."""
    out = np.zeros((len(texts), len(model.classes)))
    for start in range(0, len(texts), TEACHER_CHUNK):
        stop = start + TEACHER_CHUNK
        batch = prepare_batch(texts[start:stop], languages[start:stop], fast=False)
        out[start:stop] = softmax(model.logits(batch)[0])
        progress("labelling", min(stop, len(texts)), len(texts))
    return out


def soft_logistic_regression(features: Any, targets: np.ndarray, c: float) -> Any:
    """A logistic regression fitted to soft targets (n, k): each row enters once per class, weighted by
    its probability, which minimises cross-entropy against the teacher's distribution."""
    from scipy.sparse import issparse, vstack
    from sklearn.linear_model import LogisticRegression

    n, k = targets.shape
    stacked = vstack([features] * k, format="csr") if issparse(features) else np.vstack([features] * k)
    classes = np.repeat(np.arange(k), n)
    weights = targets.T.reshape(-1)
    return LogisticRegression(C=c, max_iter=2000).fit(stacked, classes, sample_weight=weights)


def head_from_fit(model: Any, classes: Sequence[str]) -> LinearHead:
    """A ``LinearHead`` over ``classes`` from a regression fitted on class indices 0…k−1."""
    model.classes_ = np.array(list(classes))
    return LinearHead.from_sklearn(model, classes)


def out_of_fold_student_logits(
    features: Any, targets: np.ndarray, classes: Sequence[str], folds: int, c: float
) -> np.ndarray:
    """Student logits for each row from a student that did not learn from that row."""
    n = targets.shape[0]
    assignment = np.arange(n) % folds
    np.random.default_rng(SAMPLE_SEED).shuffle(assignment)
    logits = np.zeros((n, len(classes)))
    for fold in range(folds):
        train_rows, held_out = np.flatnonzero(assignment != fold), np.flatnonzero(assignment == fold)
        if held_out.size == 0 or train_rows.size == 0:
            continue
        head = head_from_fit(soft_logistic_regression(features[train_rows], targets[train_rows], c), classes)
        logits[held_out] = head.logits(features[held_out])
    return logits


def fit_fast_weights(student: np.ndarray, base: np.ndarray, targets: np.ndarray) -> dict[str, float]:
    """Factors for student and base fast logits plus a polarity bias, fitted to the teacher's targets.

    Two classes: a soft logistic regression on the two polarity logits. More classes: the factor pair from
    a small grid that agrees most with the teacher (no bias).
    """
    if targets.shape[1] == 2:
        polarity = np.column_stack([student[:, 1] - student[:, 0], base[:, 1] - base[:, 0]])
        stacker = soft_logistic_regression(polarity, targets, c=1.0)
        return {
            "student": round(float(stacker.coef_[0][0]), 4),
            "base": round(float(stacker.coef_[0][1]), 4),
            "bias": round(float(stacker.intercept_[0]), 4),
        }
    teacher = targets.argmax(axis=1)
    grid = [(s, b) for s in (0.5, 1.0, 1.5) for b in (0.0, 0.5, 1.0)]
    s, b = max(
        grid, key=lambda pair: float(((pair[0] * student + pair[1] * base).argmax(1) == teacher).mean())
    )
    return {"student": s, "base": b, "bias": 0.0}


def combined_fast_logits(
    weights: dict[str, dict[str, float]],
    languages: Sequence[str],
    student: np.ndarray,
    base: np.ndarray,
    classes: Sequence[str],
) -> np.ndarray:
    """What the adapted fast mode computes from student and base logits (as ``AdaptedSentiment`` does)."""

    def per_row(name: str) -> np.ndarray:
        return np.array([weights.get(lang, weights[ANY_LANGUAGE])[name] for lang in languages])

    return (
        per_row("student")[:, None] * student
        + per_row("base")[:, None] * base
        + polarity_logits(per_row("bias"), classes)
    )


def agreement(logits: np.ndarray, targets: np.ndarray) -> float:
    """Share of rows where ``logits`` and the teacher pick the same class."""
    return float((logits.argmax(axis=1) == targets.argmax(axis=1)).mean())


def _base_parts(base_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(base manifest, sentiment spec to adapt): an adapted base is re-adapted from its own base."""
    manifest = read_manifest(base_dir)
    spec = manifest["sentiment"]
    return manifest, spec["base"] if spec.get("kind") == "adapted" else spec


def _check_target(model_dir: Path, base_dir: Path) -> None:
    if model_dir.resolve() == base_dir.resolve():
        raise ValueError("the model directory must differ from the base model directory")
    if model_dir.exists() and (
        not model_dir.is_dir() or (any(model_dir.iterdir()) and not (model_dir / MANIFEST_NAME).is_file())
    ):
        raise ValueError(f"{model_dir} exists and is not a closeloop model directory; choose another path")


def _fingerprint(directory: Path, settings: dict[str, Any]) -> str:
    """Hash of a model directory's files and of the settings that live in its manifest."""
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, ensure_ascii=False).encode())
    for path in sorted(p for p in directory.rglob("*") if p.is_file() and p.name != MANIFEST_NAME):
        digest.update(str(path.relative_to(directory)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def adapt_model(
    texts: Sequence[object],
    model_dir: Path,
    *,
    base_model_dir: Path | None = None,
    max_texts: int = MAX_TEXTS,
    progress: AdaptProgress | None = None,
) -> AdaptReport:
    """Adapt the fast mode of a model to unlabelled feedback and write a complete model directory.

    ``texts`` are the user's feedback (no labels). The base model (default: the shipped one) labels up to
    ``max_texts`` distinct texts in accurate mode; a student learns those scores. ``model_dir`` is replaced
    if it already holds a model. Raises ``ValueError`` when there is too little text to learn from.
    """
    started = time.perf_counter()
    say = progress or (lambda _stage, _done, _total: None)
    base_dir = Path(base_model_dir) if base_model_dir is not None else DEFAULT_MODEL_DIR
    model_dir = Path(model_dir)
    _check_target(model_dir, base_dir)
    base_manifest, base_spec = _base_parts(base_dir)
    base = load_sentiment_model(base_dir, base_spec)
    if not isinstance(base, SentimentEnsemble | StackedSentiment):  # pragma: no cover - spec resolved above
        raise ValueError(f"{base_dir}: cannot adapt this kind of sentiment model")
    sample, skipped, sampled_out = feedback_sample(texts, max_texts)
    if len(sample) < MIN_TEXTS:
        raise ValueError(
            f"only {len(sample)} distinct feedback texts with letters; need at least {MIN_TEXTS} / "
            f"只有 {len(sample)} 条有效反馈文本，至少需要 {MIN_TEXTS} 条"
        )
    languages = [detect_language(t) for t in sample]
    report = AdaptReport(
        model_dir=model_dir,
        version="",
        base_version=str(base_manifest["version"]),
        texts=len(sample),
        skipped=skipped,
        sampled_out=sampled_out,
        languages=dict(Counter(languages).most_common()),
    )

    teacher_started = time.perf_counter()
    targets = teacher_probabilities(base, sample, languages, say)
    report.teacher_seconds = time.perf_counter() - teacher_started

    say("training", 0, FOLDS + 2)
    counts = student_ngram_counts(sample)
    idf = fit_idf(counts)
    features = tfidf_rows(counts, idf)
    classes = base.classes
    student_oof = out_of_fold_student_logits(features, targets, classes, FOLDS, STUDENT_C)
    say("training", FOLDS, FOLDS + 2)
    base_fast = base.logits(prepare_batch(sample, languages, fast=True))[0]
    fast_weights = {ANY_LANGUAGE: fit_fast_weights(student_oof, base_fast, targets)}
    language_array = np.asarray(languages)
    for language, count in report.languages.items():
        rows = np.flatnonzero(language_array == language)
        if count >= MIN_LANGUAGE_TEXTS and language != ANY_LANGUAGE:
            fast_weights[language] = fit_fast_weights(student_oof[rows], base_fast[rows], targets[rows])
    report.fast_weights = fast_weights
    report.agreement_before = agreement(base_fast, targets)
    report.agreement_after = agreement(
        combined_fast_logits(fast_weights, languages, student_oof, base_fast, classes), targets
    )
    student = StudentSentiment(
        idf, head_from_fit(soft_logistic_regression(features, targets, STUDENT_C), classes)
    )
    say("training", FOLDS + 2, FOLDS + 2)

    say("writing", 0, 1)
    spec = {"kind": "adapted", "classes": list(classes), "base": base_spec, "fast_weights": fast_weights}
    report.version = _write_model_dir(model_dir, base_dir, base_manifest, spec, student, report)
    say("writing", 1, 1)
    report.seconds = time.perf_counter() - started
    return report


def _write_model_dir(
    model_dir: Path,
    base_dir: Path,
    base_manifest: dict[str, Any],
    spec: dict[str, Any],
    student: StudentSentiment,
    report: AdaptReport,
) -> str:
    """Build the model next to ``model_dir`` and swap it in (a failed run leaves the old one intact)."""
    building = model_dir.with_name(model_dir.name + ".adapting")
    if building.exists():
        shutil.rmtree(building)
    shutil.copytree(base_dir, building, ignore=shutil.ignore_patterns(MANIFEST_NAME, STUDENT_SUBDIR))
    student.save(building / STUDENT_SUBDIR)
    version = f"adapted-{_fingerprint(building, spec)}"
    manifest = {
        "format": 1,
        "kind": "adapted",
        "version": version,
        "base_version": base_manifest["version"],
        "base_kind": base_manifest.get("kind"),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "adapted": {
            "texts": report.texts,
            "languages": report.languages,
            "agreement_before": round(report.agreement_before, 4),
            "agreement_after": round(report.agreement_after, 4),
        },
        "sentiment": spec,
    }
    if "trained" in base_manifest:
        manifest["trained"] = base_manifest["trained"]
    (building / MANIFEST_NAME).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", "utf-8")
    if model_dir.exists():
        shutil.rmtree(model_dir)
    building.rename(model_dir)
    return version
