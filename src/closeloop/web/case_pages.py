"""Server-rendered case pages: the queue (``/cases``) and one case (``/cases/{id}``) with forms to take it,
change its state or priority, comment and reply. Forms post the CSRF token and redirect back (303); a
change the case refuses is shown on the page. Access follows the API: an agent sees and works only its
team's cases, another team's case is a 404. The rules live in ``closeloop.act.cases``; this module only
calls them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import Select, and_, or_, select
from sqlalchemy import case as case_when
from sqlalchemy.orm import Session

from closeloop.act.cases import (
    OPEN_STATES,
    PRIORITIES,
    STATES,
    TRANSITIONS,
    CaseError,
    add_comment,
    assign,
    change_priority,
    change_status,
    may_work,
    scoped,
)
from closeloop.api.deps import RowId, SessionDep
from closeloop.api.policy import Principal, PrincipalDep
from closeloop.store.models import Case, CaseEvent, CaseItem, Customer, FeedbackItem, Team, User, utcnow
from closeloop.web.i18n import TEXTS, pick_language
from closeloop.web.pages import templates

router = APIRouter(include_in_schema=False)

QUEUE_VIEWS = ("mine", "team", "open", "breached")
PAGE_SIZE = 50
# States a worker moves a case into with a button; "new" and "assigned" follow from taking it.
BUTTON_STATES = ("in_progress", "waiting_on_customer", "resolved", "closed")
# After a successful form post the page says what was done (a fixed key, never text from the URL).
DONE_KEYS = frozenset({"taken", "status", "comment", "reply", "priority"})


def default_view(user: User) -> str:
    """An agent starts on its team's open cases, everyone else on all open cases."""
    return "team" if user.role == "agent" else "open"


def overdue_condition(now: datetime) -> Any:
    """SQL: an SLA was recorded as breached, or a due time has passed without the response/resolution."""
    return or_(
        Case.first_response_breached_at.is_not(None),
        Case.resolve_breached_at.is_not(None),
        and_(Case.first_response_due < now, Case.first_responded_at.is_(None)),
        and_(Case.resolve_due < now, Case.resolved_at.is_(None)),
    )


def queue_statement(user: User, view: str, now: datetime) -> Select:
    """The open cases of a queue ``view`` that ``user`` may see, urgent first, then oldest."""
    stmt = scoped(select(Case), user).where(Case.status.in_(OPEN_STATES))
    if view == "mine":
        stmt = stmt.where(Case.assignee_id == user.id)
    elif view == "team" and user.team:
        stmt = stmt.where(Case.team == user.team)
    elif view == "breached":
        stmt = stmt.where(overdue_condition(now))
    rank = case_when({p: i for i, p in enumerate(PRIORITIES)}, value=Case.priority, else_=len(PRIORITIES))
    return stmt.order_by(rank, Case.created_at, Case.id)


def duration(delta: timedelta, lang: str) -> str:
    """A short human length of time ("3 小时" / "3 h"), whatever the sign of ``delta``."""
    seconds = abs(delta.total_seconds())
    t = TEXTS[lang]
    if seconds < 60:
        return t["time_now"]
    if seconds < 3600:
        return t["time_min"].format(n=int(seconds // 60))
    if seconds < 2 * 86400:
        return t["time_h"].format(n=int(seconds // 3600))
    return t["time_d"].format(n=int(seconds // 86400))


def relative_time(delta: timedelta, lang: str) -> str:
    """``delta`` from now in words: "2 小时后" / "in 2 h" ahead, "3 天前" / "3 d ago" behind."""
    if abs(delta.total_seconds()) < 60:
        return TEXTS[lang]["time_now"]
    key = "time_in" if delta.total_seconds() > 0 else "time_ago"
    return TEXTS[lang][key].format(span=duration(delta, lang))


@dataclass(frozen=True, slots=True)
class SlaView:
    """What a case's SLA looks like right now: which due time matters, when, and whether it is late."""

    label: str  # "first_response" | "resolve" | ""
    due: datetime | None
    late: bool


def sla_view(case: Case, now: datetime) -> SlaView:
    """The due time still running (first response before resolution); late when breached or overdue."""
    breached = case.first_response_breached_at is not None or case.resolve_breached_at is not None
    if case.first_responded_at is None and case.first_response_due is not None:
        return SlaView("first_response", case.first_response_due, breached or case.first_response_due < now)
    if case.resolved_at is None and case.resolve_due is not None:
        return SlaView("resolve", case.resolve_due, breached or case.resolve_due < now)
    return SlaView("", None, breached)


def status_buttons(case: Case) -> list[str]:
    """The states a worker may move ``case`` to with a button, in the workflow's order."""
    return [state for state in BUTTON_STATES if state in TRANSITIONS[case.status]]


def team_labels(session: Session, lang: str) -> dict[str, str]:
    """Each team's display name in ``lang`` (its key when it has no label)."""
    return {
        team.name: (team.label_zh if lang == "zh" else team.label_en)
        or team.label_en
        or team.label_zh
        or team.name
        for team in session.scalars(select(Team))
    }


def _visible(session: Session, case_id: int, user: User) -> Case | None:
    return session.scalars(scoped(select(Case).where(Case.id == case_id), user)).first()


def _page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    lang = pick_language(request)
    return templates.TemplateResponse(
        request,
        name,
        {"t": TEXTS[lang], "lang": lang, "relative_time": relative_time, "duration": duration, **context},
        status_code=status_code,
    )


def _missing(request: Request, case_id: int) -> Response:
    return _page(request, "cases_missing.html", {"case_id": case_id}, status.HTTP_404_NOT_FOUND)


@router.get("/cases", response_class=HTMLResponse)
def case_queue(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    view: Annotated[str | None, Query(max_length=16)] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    user = principal.user
    chosen = view if view in QUEUE_VIEWS else default_view(user)
    now = utcnow()
    stmt = queue_statement(user, chosen, now).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)
    cases = list(session.scalars(stmt))
    return _page(
        request,
        "cases.html",
        {
            "cases": cases[:PAGE_SIZE],
            "has_next": len(cases) > PAGE_SIZE,
            "page": page,
            "view": chosen,
            "views": QUEUE_VIEWS,
            "now": now,
            "sla": {c.id: sla_view(c, now) for c in cases},
            "team_labels": team_labels(session, pick_language(request)),
        },
    )


def _case_context(session: Session, case: Case, user: User, can_work: bool, lang: str) -> dict[str, Any]:
    items = list(
        session.scalars(
            select(FeedbackItem)
            .join(CaseItem, CaseItem.feedback_id == FeedbackItem.id)
            .where(CaseItem.case_id == case.id)
            .order_by(FeedbackItem.created_at, FeedbackItem.id)
        )
    )
    events = list(
        session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))
    )
    customer = session.get(Customer, case.customer_id) if case.customer_id else None
    now = utcnow()
    return {
        "case": case,
        "items": items,
        "events": events,
        # Segment only: contact fields stay out of the page.
        "segment": {"tier": customer.tier, "region": customer.region} if customer else None,
        "now": now,
        "sla": sla_view(case, now),
        "may_work": can_work and may_work(user, case),
        "may_take": can_work and may_work(user, case) and case.assignee_id != user.id,
        "buttons": status_buttons(case),
        "priorities": PRIORITIES,
        "states": STATES,
        "team_labels": team_labels(session, lang),
    }


def _render_case(
    request: Request,
    session: Session,
    case: Case,
    principal: Principal,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    context = _case_context(
        session, case, principal.user, principal.can("cases:work"), pick_language(request)
    )
    done = request.query_params.get("done")
    context["done"] = done if done in DONE_KEYS else None
    context["error"] = error
    return _page(request, "cases_detail.html", context, status_code)


@router.get("/cases/{case_id}", response_class=HTMLResponse)
def case_page(case_id: RowId, request: Request, session: SessionDep, principal: PrincipalDep) -> Response:
    case = _visible(session, case_id, principal.user)
    if case is None:  # another team's case is as invisible as a missing one
        return _missing(request, case_id)
    return _render_case(request, session, case, principal)


def _back(case_id: int, lang: str, done: str) -> RedirectResponse:
    return RedirectResponse(
        f"/cases/{case_id}?lang={lang}&done={done}", status_code=status.HTTP_303_SEE_OTHER
    )


def _refused(
    request: Request, session: Session, case_id: int, principal: Principal, exc: CaseError
) -> Response:
    """Undo the half-made change and show the case again with the reason (zh / en)."""
    session.rollback()
    case = _visible(session, case_id, principal.user)
    if case is None:
        return _missing(request, case_id)
    return _render_case(
        request, session, case, principal, error=str(exc), status_code=status.HTTP_409_CONFLICT
    )


def _workable(session: Session, case_id: int, user: User) -> Case | None:
    case = _visible(session, case_id, user)
    return case if case is not None and may_work(user, case) else None


@router.post("/cases/{case_id}/take")
def take_case(case_id: RowId, request: Request, session: SessionDep, principal: PrincipalDep) -> Response:
    case = _workable(session, case_id, principal.user)
    if case is None:
        return _missing(request, case_id)
    try:
        assign(session, case, principal.user, actor=principal.user.email)
    except CaseError as exc:
        return _refused(request, session, case_id, principal, exc)
    session.commit()
    return _back(case_id, pick_language(request), "taken")


@router.post("/cases/{case_id}/status")
def set_status(
    case_id: RowId,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    to: Annotated[str, Form(max_length=32)],
    note: Annotated[str | None, Form(max_length=20_000)] = None,
) -> Response:
    case = _workable(session, case_id, principal.user)
    if case is None:
        return _missing(request, case_id)
    try:
        change_status(session, case, to, actor=principal.user.email, note=(note or "").strip() or None)
    except CaseError as exc:
        return _refused(request, session, case_id, principal, exc)
    session.commit()
    return _back(case_id, pick_language(request), "status")


@router.post("/cases/{case_id}/comments")
def comment_case(
    case_id: RowId,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    body: Annotated[str, Form(max_length=20_000)],
    to_customer: Annotated[bool, Form()] = False,
) -> Response:
    case = _workable(session, case_id, principal.user)
    if case is None:
        return _missing(request, case_id)
    try:
        add_comment(session, case, actor=principal.user.email, body=body, internal=not to_customer)
    except CaseError as exc:
        return _refused(request, session, case_id, principal, exc)
    session.commit()
    return _back(case_id, pick_language(request), "reply" if to_customer else "comment")


@router.post("/cases/{case_id}/priority")
def set_priority(
    case_id: RowId,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    priority: Annotated[str, Form(max_length=16)],
) -> Response:
    case = _workable(session, case_id, principal.user)
    if case is None:
        return _missing(request, case_id)
    try:
        change_priority(session, case, priority, actor=principal.user.email)
    except CaseError as error:
        return _refused(request, session, case_id, principal, error)
    session.commit()
    return _back(case_id, pick_language(request), "priority")
