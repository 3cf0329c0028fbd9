"""``/api/v1/feedback/{id}/labels``: corrections of the analysis by people, learned by the next model."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from closeloop.api.deps import RowId, SessionDep
from closeloop.collect.labels import LabelError, add_labels, current_labels
from closeloop.store.models import FeedbackItem, Label

router = APIRouter(prefix="/api/v1/feedback", tags=["labels"])


class LabelIn(BaseModel):
    """Any subset of the analysis fields, as the analyst says they should be."""

    model_config = ConfigDict(extra="forbid")

    sentiment: str | None = Field(default=None, examples=["negative"])
    complaint: bool | None = None
    categories: list[str] | None = Field(default=None, examples=[["logistics", "packaging"]])
    aspects: list[str] | None = Field(default=None, examples=[["logistics:negative"]])
    author: str | None = Field(default=None, max_length=128)


class LabelOut(BaseModel):
    field: str
    value: str
    author: str | None
    created_at: datetime


class LabelsOut(BaseModel):
    feedback_id: int
    current: dict[str, str]
    history: list[LabelOut]


def _labels(session: SessionDep, item_id: int) -> LabelsOut:
    history = session.scalars(select(Label).where(Label.feedback_id == item_id).order_by(Label.id)).all()
    return LabelsOut(
        feedback_id=item_id,
        current=current_labels(session, item_id),
        history=[
            LabelOut(field=h.field, value=h.value, author=h.author, created_at=h.created_at) for h in history
        ],
    )


@router.post(
    "/{item_id}/labels",
    response_model=LabelsOut,
    status_code=status.HTTP_201_CREATED,
    summary="Correct the analysis of an item (stored as labels for retraining)",
)
def correct_analysis(item_id: RowId, body: LabelIn, session: SessionDep) -> LabelsOut:
    item = session.get(FeedbackItem, item_id)
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no feedback item {item_id}")
    try:
        add_labels(
            session,
            item,
            sentiment=body.sentiment,
            complaint=body.complaint,
            categories=body.categories,
            aspects=body.aspects,
            author=body.author,
        )
    except LabelError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    session.commit()
    return _labels(session, item_id)


@router.get("/{item_id}/labels", response_model=LabelsOut, summary="The corrections of an item")
def read_labels(item_id: RowId, session: SessionDep) -> LabelsOut:
    if session.get(FeedbackItem, item_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no feedback item {item_id}")
    return _labels(session, item_id)
