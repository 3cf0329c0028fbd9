"""``/api/v1/capture``: frontline staff log what a customer said; a retry with the same client id is safe."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel, Field

from closeloop.api.deps import SessionDep, SettingsDep
from closeloop.api.policy import PrincipalDep
from closeloop.collect.capture import (
    Capture,
    CaptureRejectedError,
    parse_locations,
    recent_captures,
    save_capture,
)
from closeloop.store.models import FeedbackItem

router = APIRouter(prefix="/api/v1/capture", tags=["capture"])


class CaptureIn(BaseModel):
    """One quick capture. ``client_id`` is generated once per form (or by the app) and reused on retry."""

    client_id: str = Field(description="8–64 of A-Z a-z 0-9 - _; a retry with it returns the same item")
    location: str = Field(description="store or site code (one of CLOSELOOP_CAPTURE_LOCATIONS when set)")
    topic: str = Field(description="complaint | suggestion | praise | question | other")
    sentiment: str = Field(description="how the customer seemed: positive | neutral | negative")
    text: str = Field(description="what the customer said, or a voice note's transcript")
    contact: str | None = Field(default=None, description="customer phone or e-mail; needs consent")
    consent: bool = Field(default=False, description="the customer agreed to be contacted about this")
    voice_note: bool = False
    captured_at: datetime | None = Field(default=None, description="when it was said (default: now)")

    def to_capture(self) -> Capture:
        return Capture(**self.model_dump())


class CaptureOut(BaseModel):
    id: int
    created: bool = Field(description="false when this was a retry of an earlier capture")


class CapturedItem(BaseModel):
    id: int
    kind: str
    text: str
    location: str | None
    location_name: str | None
    topic: str | None
    sentiment: str | None
    captured_at: str | None
    customer_linked: bool

    @classmethod
    def from_item(cls, item: FeedbackItem) -> CapturedItem:
        meta: dict[str, Any] = item.meta or {}
        return cls(
            id=item.id,
            kind=item.kind,
            text=item.text,
            location=meta.get("location"),
            location_name=meta.get("location_name"),
            topic=meta.get("topic"),
            sentiment=meta.get("staff_sentiment"),
            captured_at=meta.get("captured_at"),
            customer_linked=item.customer_id is not None,
        )


def rejected_capture_to_http(exc: CaptureRejectedError) -> HTTPException:
    """422 in FastAPI's error shape, one entry per refused field of the body."""
    detail = [{"loc": ["body", e.field], "msg": e.message, "type": "value_error"} for e in exc.errors]
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)


@router.post(
    "",
    response_model=CaptureOut,
    status_code=status.HTTP_201_CREATED,
    summary="Log what a customer said (201 new; 200 when the client id was already captured)",
)
def create_capture(
    body: CaptureIn, session: SessionDep, settings: SettingsDep, principal: PrincipalDep, response: Response
) -> CaptureOut:
    try:
        result = save_capture(
            session,
            body.to_capture(),
            captured_by=principal.user.id,
            locations=parse_locations(settings.capture_locations),
            max_text_chars=settings.max_text_chars,
        )
    except CaptureRejectedError as exc:
        raise rejected_capture_to_http(exc) from None
    session.commit()
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return CaptureOut(id=result.item_id, created=result.created)


@router.get("/recent", response_model=list[CapturedItem], summary="The caller's newest captures")
def list_recent_captures(
    session: SessionDep, principal: PrincipalDep, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[CapturedItem]:
    items = recent_captures(session, captured_by=principal.user.id, limit=limit)
    return [CapturedItem.from_item(item) for item in items]
