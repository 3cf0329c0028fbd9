"""``/api/v1/insight``: the dashboard's figures (overview, aspects, segments) and the verbatims behind them.

Every endpoint takes the same filters: ``since``/``until`` (ISO dates or date-times, Asia/Shanghai when
no offset is given; default the last 90 days), ``channel`` and ``category`` (repeatable), ``product``,
``sentiment``, ``tier``, ``region``, ``language``; and ``format=csv|xlsx`` (column names in ``lang=zh|en``)
to download the view as a spreadsheet (verbatims: with the ``feedback:export`` permission, audited).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import BaseModel
from sqlalchemy.orm import Session

from closeloop.accounts import audit
from closeloop.api.deps import SessionDep, client_ip
from closeloop.api.policy import PrincipalDep
from closeloop.api.schemas import FeedbackOut
from closeloop.insight import aggregates, export
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
FormatDep = Annotated[
    Literal["json", "csv", "xlsx"], Query(alias="format", description="json, or a csv/xlsx download")
]
LangDep = Annotated[Literal["zh", "en"], Query(description="language of a download's column names")]
MAX_EXPORTED_VERBATIMS = 100_000


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


@router.get(
    "/overview",
    response_model=None,
    summary="Volume, sentiment, complaints, NPS/CSAT and top categories per period",
)
def read_overview(
    session: SessionDep,
    flt: FilterDep,
    granularity: Granularity = "week",
    export_format: FormatDep = "json",
    lang: LangDep = "zh",
) -> dict[str, Any] | Response:
    figures = aggregates.overview(session, flt, granularity)
    if export_format == "json":
        return figures
    return export.download_response(export.overview_sheets(figures, lang), export_format, name="overview")


@router.get(
    "/verbatims",
    response_model=VerbatimPageOut,
    summary="The feedback behind a chart point (a period and the filters), newest first",
)
def read_verbatims(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    flt: FilterDep,
    period: Annotated[str | None, Query(description="a period start date, YYYY-MM-DD")] = None,
    granularity: Granularity = "week",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
    export_format: FormatDep = "json",
    lang: LangDep = "zh",
) -> Any:
    if export_format != "json":
        if not principal.can("feedback:export"):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "downloading verbatims needs feedback:export")
        try:
            rows = list(_all_verbatim_rows(session, flt, period=period, granularity=granularity))
        except ValueError as exc:
            raise _unprocessable(exc) from None
        audit.record(
            session,
            "insight.exported",
            actor=principal.user.email,
            target="verbatims",
            ip=client_ip(request),
            detail={"filter": flt.echo(), "period": period, "format": export_format, "rows": len(rows)},
        )
        session.commit()
        return export.download_response(export.verbatims_sheets(rows, lang), export_format, name="verbatims")
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


def _all_verbatim_rows(
    session: Session, flt: InsightFilter, *, period: str | None, granularity: Granularity
) -> Iterator[list[Any]]:
    """Every verbatim behind the chart point (up to ``MAX_EXPORTED_VERBATIMS``) as export rows."""
    cursor, sent = None, 0
    while sent < MAX_EXPORTED_VERBATIMS:
        page = aggregates.verbatims(
            session, flt, period=period, granularity=granularity, limit=500, cursor=cursor
        )
        for item in page.items:
            yield export.verbatim_row(item, page.effective[item.id])
        sent += len(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return


@router.get(
    "/aspects",
    response_model=None,
    summary="Aspect sentiment heat map: category × period or category × product",
)
def read_aspects(
    session: SessionDep,
    flt: FilterDep,
    by: AspectsBy = "period",
    granularity: Granularity = "week",
    export_format: FormatDep = "json",
    lang: LangDep = "zh",
) -> dict[str, Any] | Response:
    heat_map = aggregates.aspects(session, flt, by, granularity)
    if export_format == "json":
        return heat_map
    return export.download_response(export.aspects_sheets(heat_map, lang), export_format, name="aspects")


@router.get(
    "/segments",
    response_model=None,
    summary="Volume, negative share, complaint rate, NPS per tier, region or channel",
)
def read_segments(
    session: SessionDep,
    flt: FilterDep,
    by: SegmentBy = "tier",
    export_format: FormatDep = "json",
    lang: LangDep = "zh",
) -> list[dict[str, Any]] | Response:
    rows = aggregates.segments(session, flt, by)
    if export_format == "json":
        return rows
    return export.download_response(export.segments_sheets(rows, by, lang), export_format, name="segments")
