"""``/api/v1/insight/behaviour`` and ``/api/v1/insight/at-risk``: behaviour beside feedback, and the
customers at risk of leaving silently (:mod:`closeloop.insight.behaviour`).

Both take the dashboard's filters (``since``, ``until``, ``channel``, ``product``, ``category``,
``sentiment``, ``tier``, ``region``, ``language``) and ``days`` (the length of the spend windows around a
complaint, or of the risk periods compared). ``format=csv|xlsx`` downloads the view through the dashboard's
spreadsheet-safe writers (column names in ``lang=zh|en``): the behaviour view as one sheet per breakdown
(CSV: the three in one table, tagged by ``breakdown``); the at-risk list whole (not one page), audited.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, status

from closeloop.accounts import audit
from closeloop.api.deps import SessionDep, client_ip
from closeloop.api.insight import FilterDep, FormatDep, LangDep
from closeloop.api.policy import PrincipalDep
from closeloop.insight import behaviour, export

router = APIRouter(prefix="/api/v1/insight", tags=["insight"])

Days = Annotated[int, Query(ge=1, le=365, description="days in each spend window / risk period")]

FEATURE_COLUMNS = (
    "feature",
    "customers",
    "feedback",
    "analysed",
    "complaints",
    "negative",
    "complaint_rate",
    "negative_share",
)
FREQUENCY_COLUMNS = (
    "bucket",
    "customers",
    "nps_responses",
    "promoters",
    "detractors",
    "nps",
    "complaint_rate",
)
SPEND_COLUMNS = (
    "currency",
    "customers",
    "total_before",
    "total_after",
    "avg_before",
    "avg_after",
    "change",
    "days",
)
BEHAVIOUR_COLUMNS = tuple(dict.fromkeys(("breakdown", *FEATURE_COLUMNS, *FREQUENCY_COLUMNS, *SPEND_COLUMNS)))

# Column and sheet names of these views that the dashboard's exports do not name (or name otherwise).
NAMES: dict[str, tuple[str, str]] = {
    "breakdown": ("分析维度", "Breakdown"),
    "feature": ("功能", "Feature"),
    "customers": ("客户数", "Customers"),
    "feedback": ("反馈数", "Feedback"),
    "bucket": ("期间订单数", "Orders in the window"),
    "nps_responses": ("NPS 回答数", "NPS answers"),
    "promoters": ("推荐者", "Promoters"),
    "detractors": ("贬损者", "Detractors"),
    "currency": ("币种", "Currency"),
    "total_before": ("投诉前总消费", "Total spend before"),
    "total_after": ("投诉后总消费", "Total spend after"),
    "avg_before": ("投诉前人均消费", "Average spend before"),
    "avg_after": ("投诉后人均消费", "Average spend after"),
    "days": ("天数", "Days"),
    "external_id": ("客户编号", "Customer id"),
    "score": ("风险分", "Risk score"),
    "reasons_zh": ("原因", "Reasons (Chinese)"),
    "reasons_en": ("原因（英文）", "Reasons"),
    "previous_rating": ("上次评分", "Previous score"),
    "latest_rating": ("最近评分", "Latest score"),
    "activity_previous": ("之前活跃次数", "Activity before"),
    "activity_recent": ("最近活跃次数", "Activity recently"),
    "spend": ("消费", "Spend"),
    "sheet_features": ("按使用功能", "By feature"),
    "sheet_frequency": ("按购买频次", "By purchase frequency"),
    "sheet_spend": ("投诉前后消费", "Spend around a complaint"),
    "sheet_at_risk": ("流失风险客户", "Customers at risk"),
}


def column_name(key: str, lang: str) -> str:
    """The column or sheet name of ``key`` in ``lang``: this view's own names first, then the dashboard's."""
    if key in NAMES:
        return NAMES[key][1] if lang == "en" else NAMES[key][0]
    return export.header(key, lang)


def sheet(keys: Sequence[str], rows: Sequence[Mapping[str, Any]], lang: str) -> export.Sheet:
    """Rows of dicts as an export sheet: localised column names, values in ``keys`` order."""
    return [column_name(key, lang) for key in keys], [[row.get(key) for key in keys] for row in rows]


def behaviour_sheets(figures: Mapping[str, Any], lang: str) -> dict[str, export.Sheet]:
    """The behaviour view as one sheet per breakdown."""
    spend = [{**row, "days": figures["spend"]["days"]} for row in figures["spend"]["currencies"]]
    return {
        column_name("sheet_features", lang): sheet(FEATURE_COLUMNS, figures["features"], lang),
        column_name("sheet_frequency", lang): sheet(FREQUENCY_COLUMNS, figures["frequency"], lang),
        column_name("sheet_spend", lang): sheet(SPEND_COLUMNS, spend, lang),
    }


def behaviour_table(figures: Mapping[str, Any], lang: str) -> dict[str, export.Sheet]:
    """The three breakdowns in one table (for CSV), each row tagged with its ``breakdown``."""
    spend = [{**row, "days": figures["spend"]["days"]} for row in figures["spend"]["currencies"]]
    rows = [
        {"breakdown": name, **row}
        for name, part in (
            ("features", figures["features"]),
            ("frequency", figures["frequency"]),
            ("spend", spend),
        )
        for row in part
    ]
    return {"behaviour": sheet(BEHAVIOUR_COLUMNS, rows, lang)}


def _unprocessable(exc: ValueError) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))


@router.get(
    "/behaviour",
    summary="Complaint rate by feature used, NPS by purchase frequency, spend before/after a complaint",
    response_model=None,
)
def read_behaviour(
    session: SessionDep,
    flt: FilterDep,
    days: Days = behaviour.DEFAULT_RISK_DAYS,
    export_format: FormatDep = "json",
    lang: LangDep = "zh",
) -> dict[str, Any] | Response:
    try:
        figures = behaviour.behaviour(session, flt, days=days)
    except ValueError as exc:
        raise _unprocessable(exc) from None
    if export_format == "json":
        return figures
    sheets = behaviour_sheets(figures, lang) if export_format == "xlsx" else behaviour_table(figures, lang)
    return export.download_response(sheets, export_format, name="behaviour")


@router.get(
    "/at-risk",
    summary="Customers at risk of leaving silently, with a score and reasons (zh/en), paged",
    response_model=None,
)
def read_at_risk(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    flt: FilterDep,
    days: Days = behaviour.DEFAULT_RISK_DAYS,
    sort: behaviour.RiskSort = "score",
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
    export_format: FormatDep = "json",
    lang: LangDep = "zh",
) -> dict[str, Any] | Response:
    try:
        found = behaviour.at_risk(session, flt, days=days, sort=sort)
    except ValueError as exc:
        raise _unprocessable(exc) from None
    if export_format == "json":
        page = found["customers"][offset : offset + limit]
        return {**found, "limit": limit, "offset": offset, "customers": page}
    audit.record(
        session,
        "insight.at_risk_exported",
        actor=principal.user.email,
        target="customers:at-risk",
        ip=client_ip(request),
        detail={"format": export_format, "rows": found["total"], "days": days, "filter": flt.echo()},
    )
    session.commit()
    rows = behaviour.risk_rows(found["customers"])
    sheets = {column_name("sheet_at_risk", lang): sheet(behaviour.RISK_COLUMNS, rows, lang)}
    return export.download_response(sheets, export_format, name="at-risk")
