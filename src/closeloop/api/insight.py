"""``/api/v1/insight``: the dashboard's figures (overview, aspects, segments) and the verbatims behind them.

Every endpoint takes the same filters: ``since``/``until`` (ISO dates or date-times, Asia/Shanghai when
no offset is given; default the last 90 days), ``channel`` and ``category`` (repeatable), ``product``,
``sentiment``, ``tier``, ``region``, ``language``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel

from closeloop.api.deps import SessionDep
from closeloop.api.schemas import FeedbackOut
from closeloop.insight import aggregates
from closeloop.insight.aggregates import AspectsBy, Granularity, InsightFilter, SegmentBy

router = APIRouter(prefix="/api/v1/insight", tags=["insight"])

Sentiment = Literal["positive", "neutral", "negative"]


def _unprocessable(exc: ValueError) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))


def insight_filter(
    since: Annotated[
        str | None, Query(description="from (ISO date or date-time; default: 90 days ago)")
    ] = None,
    until: Annotated[str | None, Query(description="before (ISO; a bare date includes that day)")] = None,
    channel: Annotated[list[str] | None, Query(description="repeatable")] = None,
    product: str | None = None,
    category: Annotated[list[str] | None, Query(description="category id, repeatable")] = None,
    sentiment: Sentiment | None = None,
    tier: str | None = None,
    region: str | None = None,
    language: str | None = None,
) -> InsightFilter:
    """The dashboard filters, from the query string (422 for a date that is not ISO or an empty window)."""
    try:
        flt = InsightFilter(
            since=aggregates.parse_moment(since) if since else None,
            until=aggregates.parse_moment(until, end=True) if until else None,
            channels=tuple(dict.fromkeys(channel or ())),
            product=product,
            categories=tuple(dict.fromkeys(category or ())),
            sentiment=sentiment,
            tier=tier,
            region=region,
            language=language,
        )
        flt.window()
    except ValueError as exc:
        raise _unprocessable(exc) from None
    return flt


FilterDep = Annotated[InsightFilter, Depends(insight_filter)]


class EffectiveAnalysis(BaseModel):
    """The analysis as the dashboard counts it: the newest analysis with people's corrections applied."""

    sentiment: str | None
    complaint: bool | None
    categories: list[str]
    aspects: list[dict[str, str]]
    corrected: list[str]


class VerbatimOut(FeedbackOut):
    effective: EffectiveAnalysis


class VerbatimPageOut(BaseModel):
    items: list[VerbatimOut]
    next_cursor: str | None
    total: int


@router.get("/overview", summary="Volume, sentiment, complaints, NPS/CSAT and top categories per period")
def read_overview(session: SessionDep, flt: FilterDep, granularity: Granularity = "week") -> dict[str, Any]:
    return aggregates.overview(session, flt, granularity)


@router.get(
    "/verbatims",
    response_model=VerbatimPageOut,
    summary="The feedback behind a chart point (a period and the filters), newest first",
)
def read_verbatims(
    session: SessionDep,
    flt: FilterDep,
    period: Annotated[str | None, Query(description="a period start date, YYYY-MM-DD")] = None,
    granularity: Granularity = "week",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> VerbatimPageOut:
    try:
        page = aggregates.verbatims(
            session, flt, period=period, granularity=granularity, limit=limit, cursor=cursor
        )
    except ValueError as exc:
        raise _unprocessable(exc) from None
    items = [
        VerbatimOut(
            **FeedbackOut.from_item(item, with_analysis=True).model_dump(),
            effective=EffectiveAnalysis(**page.effective[item.id]),
        )
        for item in page.items
    ]
    return VerbatimPageOut(items=items, next_cursor=page.next_cursor, total=page.total)


@router.get("/aspects", summary="Aspect sentiment heat map: category × period or category × product")
def read_aspects(
    session: SessionDep, flt: FilterDep, by: AspectsBy = "period", granularity: Granularity = "week"
) -> dict[str, Any]:
    return aggregates.aspects(session, flt, by, granularity)


@router.get("/segments", summary="Volume, negative share, complaint rate, NPS per tier, region or channel")
def read_segments(session: SessionDep, flt: FilterDep, by: SegmentBy = "tier") -> list[dict[str, Any]]:
    return aggregates.segments(session, flt, by)
