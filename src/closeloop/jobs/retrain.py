"""Building a new model version from people's corrections (labels) and making it the active one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.orm import Session

from closeloop.analysis.train import train_model
from closeloop.collect.labels import labelled_examples, latest_analysis
from closeloop.store.models import ModelVersion


@dataclass(slots=True)
class RetrainResult:
    version: str
    model_dir: Path
    examples: int
    fields: list[str]


def _aspect_cell(analysis_aspects: list[dict[str, str]]) -> str:
    return ";".join(f"{a['category']}:{a['polarity']}" for a in analysis_aspects)


def retrain_from_labels(session: Session, model_dir: Path, *, base_model_dir: Path | None) -> RetrainResult:
    """Train ``model_dir`` from every labelled item, on top of ``base_model_dir`` (None = default).

    A field is learned when at least one item has a label for it; items labelled only for other fields
    keep, for that field, the analysis the analyst saw and left uncorrected.
    """
    examples = labelled_examples(session)
    if not examples:
        raise ValueError("there are no corrections to learn from yet (POST /api/v1/feedback/{id}/labels)")
    fields = [
        f for f in ("sentiment", "categories", "aspects") if any(getattr(e, f) is not None for e in examples)
    ]
    columns: dict[str, list[str | None]] = {f: [] for f in fields}
    for example in examples:
        shown = latest_analysis(session, example.feedback_id)
        for field in fields:
            value = getattr(example, field)
            if value is None and shown is not None:
                value = {
                    "sentiment": shown.sentiment,
                    "categories": ";".join(shown.categories or []),
                    "aspects": _aspect_cell(shown.aspects or []),
                }[field]
            columns[field].append(value)
    report = train_model(
        [e.text for e in examples],
        model_dir,
        sentiment_labels=columns.get("sentiment"),
        category_labels=columns.get("categories"),
        aspect_labels=columns.get("aspects"),
        base_model_dir=base_model_dir,
    )
    return RetrainResult(version=report.version, model_dir=model_dir, examples=len(examples), fields=fields)


def register_version(
    session: Session, *, version: str, model_dir: Path, description: str, activate: bool
) -> None:
    """Record a model version (and make it the one that analyses new feedback when ``activate``)."""
    row = session.get(ModelVersion, version)
    if row is None:
        row = ModelVersion(version=version, description=description, path=str(model_dir.resolve()))
        session.add(row)
    if activate:
        session.execute(update(ModelVersion).values(is_active=False))
        row.is_active = True
    session.flush()
