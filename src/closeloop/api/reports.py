"""``/api/v1/reports``: scheduled team reports (weekly or monthly e-mail of the dashboard's figures for a
saved filter): create, list, change, delete, preview the HTML, send now. 定时团队报告。"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from closeloop.accounts import audit
from closeloop.api.deps import RowId, SessionDep, SettingsDep, client_ip
from closeloop.api.policy import PrincipalDep
from closeloop.insight import reports
from closeloop.notify.mailer import mailer_from_settings
from closeloop.store.models import ReportSubscription

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])

Recipients = Annotated[list[Annotated[str, Field(max_length=320)]], Field(max_length=50)]


class ReportIn(BaseModel):
    team: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    filter_query: str = Field(default="", max_length=4000, description="the dashboard URL's query string")
    period: Literal["weekly", "monthly"] = "weekly"
    language: Literal["zh", "en"] = "zh"
    recipients: Recipients = Field(default_factory=list, description="empty: the team's e-mail address")
    active: bool = True


class ReportPatch(BaseModel):
    team: str | None = Field(default=None, min_length=1, max_length=64)
    name: str | None = Field(default=None, min_length=1, max_length=200)
    filter_query: str | None = Field(default=None, max_length=4000)
    period: Literal["weekly", "monthly"] | None = None
    language: Literal["zh", "en"] | None = None
    recipients: Recipients | None = None
    active: bool | None = None


class ReportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    team: str
    name: str
    filter_query: str
    period: str
    language: str
    recipients: list[str]
    active: bool
    last_period_sent: str | None
    last_sent_at: datetime | None
    created_by: str | None
    created_at: datetime


class SendOut(BaseModel):
    id: int
    status: str


def _found(session: Session, report_id: int) -> ReportSubscription:
    subscription = session.get(ReportSubscription, report_id)
    if subscription is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no report {report_id}")
    return subscription


def _unprocessable(exc: ValueError) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))


@router.get("", response_model=list[ReportOut], summary="Scheduled reports / 定时报告")
def list_reports(session: SessionDep, team: str | None = None) -> list[ReportSubscription]:
    query = select(ReportSubscription).order_by(ReportSubscription.team, ReportSubscription.id)
    if team is not None:
        query = query.where(ReportSubscription.team == team)
    return list(session.scalars(query))


@router.post(
    "", response_model=ReportOut, status_code=status.HTTP_201_CREATED, summary="Schedule a report / 新建报告"
)
def create_report(
    body: ReportIn, session: SessionDep, principal: PrincipalDep, request: Request
) -> ReportSubscription:
    try:
        subscription = reports.create_subscription(
            session, created_by=principal.user.email, ip=client_ip(request), **body.model_dump()
        )
    except reports.SubscriptionError as exc:
        raise _unprocessable(exc) from None
    session.commit()
    return subscription


@router.get("/{report_id}", response_model=ReportOut, summary="One scheduled report")
def read_report(report_id: RowId, session: SessionDep) -> ReportSubscription:
    return _found(session, report_id)


@router.patch("/{report_id}", response_model=ReportOut, summary="Change a scheduled report")
def change_report(
    report_id: RowId, body: ReportPatch, session: SessionDep, principal: PrincipalDep, request: Request
) -> ReportSubscription:
    subscription = _found(session, report_id)
    changes = body.model_dump(exclude_unset=True)
    try:
        reports.update_subscription(session, subscription, **changes)
    except reports.SubscriptionError as exc:
        raise _unprocessable(exc) from None
    audit.record(
        session,
        "report.changed",
        actor=principal.user.email,
        target=f"report:{report_id}",
        ip=client_ip(request),
        detail={"fields": sorted(changes)},
    )
    session.commit()
    return subscription


@router.delete("/{report_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a scheduled report")
def delete_report(
    report_id: RowId, session: SessionDep, principal: PrincipalDep, request: Request
) -> Response:
    session.delete(_found(session, report_id))
    audit.record(
        session,
        "report.deleted",
        actor=principal.user.email,
        target=f"report:{report_id}",
        ip=client_ip(request),
    )
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{report_id}/preview",
    response_class=HTMLResponse,
    summary="The report's HTML for its last full period (or the period holding ``period``)",
)
def preview_report(
    report_id: RowId,
    session: SessionDep,
    settings: SettingsDep,
    period: Annotated[date | None, Query(description="a day of the period to show, YYYY-MM-DD")] = None,
) -> HTMLResponse:
    subscription = _found(session, report_id)
    report = reports.build_report(session, subscription, start=period)
    return HTMLResponse(
        reports.render_html(report, dashboard_url=reports.dashboard_link(report, settings.public_url))
    )


@router.post("/{report_id}/send", response_model=SendOut, summary="Send the report now / 立即发送")
def send_report(
    report_id: RowId, request: Request, session: SessionDep, settings: SettingsDep, principal: PrincipalDep
) -> SendOut:
    _found(session, report_id)
    session.rollback()  # sending opens sessions of its own
    mailer = mailer_from_settings(settings)
    if mailer is None:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "no SMTP server configured (CLOSELOOP_SMTP_HOST) / 未配置邮件服务器",
        )
    outcome = reports.send_reports(
        request.app.state.session_factory,
        mailer,
        public_url=settings.public_url,
        ids=[report_id],
        force=True,
        actor=principal.user.email,
    ).get(report_id, "not found")
    if outcome == "no recipients":
        raise HTTPException(
            status.HTTP_409_CONFLICT, "no recipients: the team has no e-mail address / 没有收件人"
        )
    if outcome != "sent":
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, outcome)
    return SendOut(id=report_id, status=outcome)
