"""The scheduled reports page: list a team's reports, create one (the filter copied from the dashboard's
URL), preview it, send it now, delete it. Signed-in page; forms carry the CSRF token.

- ``/reports``                       the list and the form (``?filter=`` prefills the dashboard's query)
- ``/reports/{id}/send``             send now (POST)
- ``/reports/{id}/delete``           delete (POST)
The preview is the API's ``/api/v1/reports/{id}/preview`` (HTML), opened in a new tab.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from closeloop.accounts import audit
from closeloop.api.deps import RowId, SessionDep, SettingsDep, client_ip
from closeloop.api.policy import PrincipalDep
from closeloop.insight import reports
from closeloop.notify.mailer import mailer_from_settings
from closeloop.store.models import ReportSubscription, Team
from closeloop.web.i18n import TEXTS, pick_language
from closeloop.web.pages import templates

router = APIRouter(include_in_schema=False)


def _page(request: Request, session: SessionDep, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = pick_language(request)
    subscriptions = list(
        session.scalars(select(ReportSubscription).order_by(ReportSubscription.team, ReportSubscription.id))
    )
    teams = list(session.scalars(select(Team).order_by(Team.name)))
    return templates.TemplateResponse(
        request,
        "reports.html",
        {
            "t": TEXTS[lang],
            "lang": lang,
            "subscriptions": subscriptions,
            "teams": teams,
            "periods": reports.PERIODS,
            "languages": reports.LANGUAGES,
            "filter_query": reports.clean_filter_query(request.query_params.get("filter", "")),
            "problem": None,
            "notice": request.query_params.get("notice"),
            **context,
        },
        status_code=status_code,
    )


@router.get("/reports", response_class=HTMLResponse)
def reports_page(request: Request, session: SessionDep) -> HTMLResponse:
    return _page(request, session)


@router.post("/reports", response_class=HTMLResponse)
def create_report_form(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    team: Annotated[str, Form(max_length=64)],
    name: Annotated[str, Form(min_length=1, max_length=200)],
    period: Annotated[str, Form(max_length=16)] = "weekly",
    language: Annotated[str, Form(max_length=8)] = "zh",
    filter_query: Annotated[str, Form(max_length=4000)] = "",
    recipients: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    try:
        reports.create_subscription(
            session,
            created_by=principal.user.email,
            ip=client_ip(request),
            team=team,
            name=name.strip(),
            period=period,
            language=language,
            filter_query=filter_query,
            recipients=[address for address in recipients.replace(";", ",").split(",")],
        )
    except reports.SubscriptionError as exc:
        session.rollback()
        return _page(request, session, status_code=422, problem=str(exc), filter_query=filter_query)
    session.commit()
    return RedirectResponse(f"/reports?lang={pick_language(request)}", status_code=303)


@router.post("/reports/{report_id}/send", response_class=HTMLResponse)
def send_report_form(
    request: Request, report_id: RowId, session: SessionDep, settings: SettingsDep, principal: PrincipalDep
) -> Response:
    lang = pick_language(request)
    mailer = mailer_from_settings(settings)
    if mailer is None:
        return _page(
            request, session, status_code=503, problem="no SMTP server configured / 未配置邮件服务器"
        )
    session.rollback()
    outcome = reports.send_reports(
        request.app.state.session_factory,
        mailer,
        public_url=settings.public_url,
        ids=[report_id],
        force=True,
        actor=principal.user.email,
    ).get(report_id, "not found")
    if outcome != "sent":
        return _page(request, session, status_code=502 if "SMTP" in outcome else 409, problem=outcome)
    return RedirectResponse(
        f"/reports?lang={lang}&notice={quote(TEXTS[lang]['reports_sent'])}", status_code=303
    )


@router.post("/reports/{report_id}/delete", response_class=HTMLResponse)
def delete_report_form(
    request: Request, report_id: RowId, session: SessionDep, principal: PrincipalDep
) -> Response:
    subscription = session.get(ReportSubscription, report_id)
    if subscription is not None:
        session.delete(subscription)
        audit.record(
            session,
            "report.deleted",
            actor=principal.user.email,
            target=f"report:{report_id}",
            ip=client_ip(request),
        )
        session.commit()
    return RedirectResponse(f"/reports?lang={pick_language(request)}", status_code=303)
