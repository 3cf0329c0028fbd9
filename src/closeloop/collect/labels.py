"""People's corrections of the analysis, stored as labels that the next model version learns from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from closeloop.insight.rollups import mark_items_changed
from closeloop.store.models import Analysis, FeedbackItem, Label

SENTIMENTS = ("positive", "neutral", "negative")
LABEL_FIELDS = ("sentiment", "complaint", "categories", "aspects")


class LabelError(ValueError):
    """A correction that cannot be stored, naming the field."""


def _clean_categories(values: Sequence[str]) -> str:
    names = [v.strip() for v in values if v and v.strip()]
    for name in names:
        if ";" in name or ":" in name:
            raise LabelError(f"categories: {name!r} may not contain ';' or ':'")
    return ";".join(dict.fromkeys(names))


def _clean_aspects(values: Sequence[str]) -> str:
    pairs = []
    for value in values:
        category, sep, polarity = value.rpartition(":")
        if not sep or not category.strip() or polarity.strip() not in SENTIMENTS:
            raise LabelError(f"aspects: {value!r} must look like category:positive|neutral|negative")
        pairs.append(f"{category.strip()}:{polarity.strip()}")
    return ";".join(dict.fromkeys(pairs))


def add_labels(
    session: Session,
    item: FeedbackItem,
    *,
    sentiment: str | None = None,
    complaint: bool | None = None,
    categories: Sequence[str] | None = None,
    aspects: Sequence[str] | None = None,
    author: str | None = None,
) -> list[Label]:
    """Store the given corrections of ``item`` (each field optional); the newest label per field wins."""
    values: dict[str, str] = {}
    if sentiment is not None:
        if sentiment not in SENTIMENTS:
            raise LabelError(f"sentiment: {sentiment!r} is not one of {', '.join(SENTIMENTS)}")
        values["sentiment"] = sentiment
    if complaint is not None:
        values["complaint"] = "true" if complaint else "false"
    if categories is not None:
        values["categories"] = _clean_categories(categories)
    if aspects is not None:
        values["aspects"] = _clean_aspects(aspects)
    if not values:
        raise LabelError("give at least one of: " + ", ".join(LABEL_FIELDS))
    labels = [
        Label(feedback_id=item.id, field=field, value=value, author=author) for field, value in values.items()
    ]
    session.add_all(labels)
    session.flush()
    mark_items_changed(session, [item.id])
    return labels


def current_labels(session: Session, item_id: int) -> dict[str, str]:
    """The newest label of each field for one item."""
    newest: dict[str, str] = {}
    for label in session.scalars(select(Label).where(Label.feedback_id == item_id).order_by(Label.id)):
        newest[label.field] = label.value
    return newest


@dataclass(slots=True)
class LabelledExample:
    """One labelled item for training: its text and the newest label (or None) per field."""

    feedback_id: int
    text: str
    sentiment: str | None
    categories: str | None
    aspects: str | None


def labelled_examples(session: Session) -> list[LabelledExample]:
    """Every item with at least one label, with its newest label per field, in item order."""
    newest: dict[int, dict[str, str]] = {}
    for label in session.scalars(select(Label).order_by(Label.id)):
        newest.setdefault(label.feedback_id, {})[label.field] = label.value
    if not newest:
        return []
    texts = dict(
        session.execute(select(FeedbackItem.id, FeedbackItem.text).where(FeedbackItem.id.in_(newest))).all()
    )
    return [
        LabelledExample(
            item_id, texts[item_id], fields.get("sentiment"), fields.get("categories"), fields.get("aspects")
        )
        for item_id, fields in sorted(newest.items())
        if item_id in texts
    ]


def latest_analysis(session: Session, item_id: int) -> Analysis | None:
    return session.scalars(
        select(Analysis).where(Analysis.feedback_id == item_id).order_by(Analysis.id.desc())
    ).first()
