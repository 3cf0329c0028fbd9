"""``/api/v1/feedback``: create one item or a batch, list with filters, get one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from closeloop.accounts import audit
from closeloop.api.deps import RowId, SessionDep, SettingsDep, client_ip
from closeloop.api.errors import rejected_to_http
from closeloop.api.policy import PrincipalDep
from closeloop.api.schemas import FeedbackBatchIn, FeedbackIn, FeedbackOut, FeedbackPage, WriteResult
from closeloop.collect.submit import RecordsRejectedError, submit_records
from closeloop.insight.export import csv_lines, feedback_row
from closeloop.store.queries import FeedbackFilter, get_feedback, list_feedback

router = APIRouter(prefix="/api/v1/feedback", tags=["feedback"])


@router.post(
    "",
    response_model=WriteResult,
    status_code=status.HTTP_201_CREATED,
    summary="Create one feedback item (idempotent on channel + external id or content)",
)
def create_feedback(
    body: FeedbackIn, session: SessionDep, settings: SettingsDep, response: Response
) -> WriteResult:
    try:
        result = submit_records(session, [body.to_record()], max_text_chars=settings.max_text_chars)
    except RecordsRejectedError as exc:
        raise rejected_to_http(exc, prefix=("body",)) from None
    session.commit()
    if not result.item_ids:
        response.status_code = status.HTTP_200_OK
    return WriteResult(imported=result.imported, duplicates=result.duplicates, ids=result.item_ids)


@router.post(
    "/batch",
    response_model=WriteResult,
    status_code=status.HTTP_201_CREATED,
    summary="Create a batch of feedback items: all are written or none",
)
def create_feedback_batch(body: FeedbackBatchIn, session: SessionDep, settings: SettingsDep) -> WriteResult:
    if len(body.items) > settings.max_batch_items:
        raise HTTPException(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            f"a batch holds at most {settings.max_batch_items} items, got {len(body.items)}",
        )
    try:
        result = submit_records(
            session, [item.to_record() for item in body.items], max_text_chars=settings.max_text_chars
        )
    except RecordsRejectedError as exc:
        raise rejected_to_http(exc, prefix=("body", "items")) from None
    session.commit()
    return WriteResult(imported=result.imported, duplicates=result.duplicates, ids=result.item_ids)


def feedback_filter(
    channel: str | None = None,
    kind: str | None = None,
    since: Annotated[datetime | None, Query(description="created at or after (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="created before (ISO 8601)")] = None,
    product: str | None = None,
    customer: Annotated[str | None, Query(description="customer external id")] = None,
    rating_min: float | None = None,
    rating_max: float | None = None,
    language: str | None = None,
    q: Annotated[str | None, Query(max_length=200, description="text contains")] = None,
) -> FeedbackFilter:
    """The list filters, from the query string."""
    return FeedbackFilter(
        channel=channel,
        kind=kind,
        since=since,
        until=until,
        product=product,
        customer=customer,
        rating_min=rating_min,
        rating_max=rating_max,
        language=language,
        q=q,
    )


@router.get("", response_model=FeedbackPage, summary="List feedback, newest first, with filters")
def list_feedback_items(
    session: SessionDep,
    flt: Annotated[FeedbackFilter, Depends(feedback_filter)],
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
    with_analysis: bool = False,
) -> FeedbackPage:
    try:
        items, next_cursor = list_feedback(
            session, flt, limit=limit, cursor=cursor, with_analysis=with_analysis
        )
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return FeedbackPage(
        items=[FeedbackOut.from_item(item, with_analysis=with_analysis) for item in items],
        next_cursor=next_cursor,
    )


@router.get(
    "/export",
    summary="Export feedback as CSV (filters as the list; cells safe to open in a spreadsheet; audited)",
    response_class=StreamingResponse,
)
def export_feedback(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    flt: Annotated[FeedbackFilter, Depends(feedback_filter)],
    limit: Annotated[int, Query(ge=1, le=1_000_000, description="most rows exported")] = 100_000,
) -> StreamingResponse:
    audit.record(
        session,
        "feedback.exported",
        actor=principal.user.email,
        target="feedback",
        ip=client_ip(request),
        detail={"filter": {k: str(v) for k, v in asdict(flt).items() if v is not None}, "limit": limit},
    )
    session.commit()

    def rows() -> Iterator[dict]:
        cursor, sent = None, 0
        while sent < limit:
            items, cursor = list_feedback(
                session, flt, limit=min(500, limit - sent), cursor=cursor, with_analysis=True
            )
            for item in items:
                yield feedback_row(item)
            sent += len(items)
            if cursor is None or not items:
                return

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(
        csv_lines(rows()),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="closeloop-feedback-{stamp}.csv"'},
    )


@router.get("/{item_id}", response_model=FeedbackOut, summary="One feedback item with its latest analysis")
def get_feedback_item(item_id: RowId, session: SessionDep) -> FeedbackOut:
    item = get_feedback(session, item_id)
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no feedback item {item_id}")
    return FeedbackOut.from_item(item, with_analysis=True)
