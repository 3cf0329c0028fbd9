"""``/api/v1/cases`` and ``/api/v1/teams``: the work queue. Agents see and work only their team's cases."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from closeloop.accounts.permissions import allowed
from closeloop.act.cases import (
    PRIORITIES,
    STATES,
    CaseError,
    add_comment,
    assign,
    change_priority,
    change_status,
    may_work,
    open_case,
    scoped,
)
from closeloop.act.follow_up import loop_metrics
from closeloop.api.deps import MAX_ID, RowId, SessionDep
from closeloop.api.policy import Principal, PrincipalDep
from closeloop.store.models import Case, CaseEvent, CaseItem, FeedbackItem, Team, User, utcnow

router = APIRouter(tags=["cases"])

CaseState = Literal["new", "assigned", "in_progress", "waiting_on_customer", "resolved", "closed"]
Priority = Literal["urgent", "high", "normal", "low"]
assert set(CaseState.__args__) == set(STATES) and set(Priority.__args__) == set(PRIORITIES)


class CaseEventOut(BaseModel):
    at: datetime
    actor: str | None
    kind: str
    body: str | None
    detail: dict[str, Any]


class CaseItemOut(BaseModel):
    id: int
    channel: str
    text: str
    rating: float | None
    created_at: datetime


class CaseOut(BaseModel):
    id: int
    title: str
    team: str
    status: str
    priority: str
    tags: list[str]
    assignee: str | None
    routing_rule_id: str | None
    customer_id: int | None
    first_response_due: datetime | None
    resolve_due: datetime | None
    first_responded_at: datetime | None
    resolved_at: datetime | None
    first_response_breached: bool
    resolve_breached: bool
    reopened: int
    created_at: datetime
    updated_at: datetime
    items: list[CaseItemOut] | None = None
    events: list[CaseEventOut] | None = None


def _out(session: Session, case: Case, *, full: bool = False) -> CaseOut:
    out = CaseOut(
        id=case.id,
        title=case.title,
        team=case.team,
        status=case.status,
        priority=case.priority,
        tags=list(case.tags or []),
        assignee=case.assignee.email if case.assignee else None,
        routing_rule_id=case.routing_rule_id,
        customer_id=case.customer_id,
        first_response_due=case.first_response_due,
        resolve_due=case.resolve_due,
        first_responded_at=case.first_responded_at,
        resolved_at=case.resolved_at,
        first_response_breached=case.first_response_breached_at is not None,
        resolve_breached=case.resolve_breached_at is not None,
        reopened=case.reopened,
        created_at=case.created_at,
        updated_at=case.updated_at,
    )
    if full:
        items = session.scalars(
            select(FeedbackItem)
            .join(CaseItem, CaseItem.feedback_id == FeedbackItem.id)
            .where(CaseItem.case_id == case.id)
            .order_by(FeedbackItem.created_at)
        )
        out.items = [
            CaseItemOut(id=i.id, channel=i.channel, text=i.text, rating=i.rating, created_at=i.created_at)
            for i in items
        ]
        events = session.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id))
        out.events = [
            CaseEventOut(at=e.at, actor=e.actor, kind=e.kind, body=e.body, detail=e.detail or {})
            for e in events
        ]
    return out


def _visible_case(session: Session, case_id: int, principal: Principal) -> Case:
    case = session.scalars(scoped(select(Case).where(Case.id == case_id), principal.user)).first()
    if case is None:  # another team's case is as invisible as a missing one
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no case {case_id}")
    return case


def _workable_case(session: Session, case_id: int, principal: Principal) -> Case:
    case = _visible_case(session, case_id, principal)
    if not may_work(principal.user, case):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"case {case_id} belongs to team {case.team}")
    return case


@router.get("/api/v1/cases", response_model=list[CaseOut], summary="Cases (an agent sees only its team's)")
def list_cases(
    session: SessionDep,
    principal: PrincipalDep,
    state: Annotated[CaseState | None, Query(alias="status")] = None,
    open_only: Annotated[bool, Query(alias="open")] = False,
    team: str | None = None,
    assignee: Annotated[str | None, Query(description="an e-mail, or 'me'")] = None,
    priority: Priority | None = None,
    breached: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[CaseOut]:
    stmt = scoped(select(Case), principal.user)
    if state:
        stmt = stmt.where(Case.status == state)
    if open_only:
        stmt = stmt.where(Case.status.in_(("new", "assigned", "in_progress", "waiting_on_customer")))
    if team:
        stmt = stmt.where(Case.team == team)
    if assignee == "me":
        stmt = stmt.where(Case.assignee_id == principal.user.id)
    elif assignee:
        stmt = stmt.join(User, User.id == Case.assignee_id).where(User.email == assignee)
    if priority:
        stmt = stmt.where(Case.priority == priority)
    if breached is not None:
        either = Case.first_response_breached_at.is_not(None) | Case.resolve_breached_at.is_not(None)
        stmt = stmt.where(either if breached else ~either)
    order = [Case.priority == "urgent", Case.priority == "high", Case.created_at]
    stmt = stmt.order_by(order[0].desc(), order[1].desc(), Case.created_at.desc()).limit(limit)
    return [_out(session, case) for case in session.scalars(stmt)]


class CaseIn(BaseModel):
    feedback_ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] = Field(min_length=1, max_length=500)
    team: str = Field(min_length=1, max_length=64)
    title: str | None = Field(default=None, max_length=512)
    priority: Priority = "normal"
    first_response_hours: float | None = Field(default=None, gt=0, le=24 * 365)
    resolve_hours: float | None = Field(default=None, gt=0, le=24 * 365)


@router.post(
    "/api/v1/cases", response_model=CaseOut, status_code=status.HTTP_201_CREATED, summary="Open a case"
)
def create_case(body: CaseIn, session: SessionDep, principal: PrincipalDep) -> CaseOut:
    items = list(session.scalars(select(FeedbackItem).where(FeedbackItem.id.in_(body.feedback_ids))))
    missing = sorted(set(body.feedback_ids) - {i.id for i in items})
    if missing:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"no feedback items {missing}")
    try:
        case = open_case(
            session,
            items,
            team=body.team,
            title=body.title or items[0].text[:80],
            priority=body.priority,
            first_response_within=timedelta(hours=body.first_response_hours)
            if body.first_response_hours
            else None,
            resolve_within=timedelta(hours=body.resolve_hours) if body.resolve_hours else None,
            actor=principal.user.email,
        )
    except CaseError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    session.commit()
    return _out(session, case, full=True)


@router.get("/api/v1/cases/{case_id}", response_model=CaseOut, summary="A case with its feedback and history")
def read_case(case_id: RowId, session: SessionDep, principal: PrincipalDep) -> CaseOut:
    return _out(session, _visible_case(session, case_id, principal), full=True)


class CasePatch(BaseModel):
    status: CaseState | None = None
    assignee: str | None = Field(default=None, description="an e-mail; empty string to unassign")
    priority: Priority | None = None
    team: str | None = Field(default=None, min_length=1, max_length=64)
    note: str | None = Field(default=None, max_length=20_000)


@router.patch(
    "/api/v1/cases/{case_id}", response_model=CaseOut, summary="Change state, assignee, priority, team"
)
def update_case(case_id: RowId, body: CasePatch, session: SessionDep, principal: PrincipalDep) -> CaseOut:
    case = _workable_case(session, case_id, principal)
    actor = principal.user.email
    now = utcnow()
    try:
        if body.team is not None and body.team != case.team:
            if not allowed(principal.role, "cases:manage", principal.scopes):
                raise HTTPException(
                    status.HTTP_403_FORBIDDEN, "moving a case to another team needs cases:manage"
                )
            before, case.team = case.team, body.team
            session.add(
                CaseEvent(
                    case_id=case.id,
                    at=now,
                    actor=actor,
                    kind="team",
                    detail={"before": before, "after": body.team},
                )
            )
            assign(session, case, None, actor=actor, now=now)
        if body.assignee is not None:
            user = None
            if body.assignee:
                user = session.scalars(select(User).where(User.email == body.assignee)).first()
                if user is None:
                    raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"no user {body.assignee}")
            assign(session, case, user, actor=actor, now=now)
        if body.priority is not None:
            change_priority(session, case, body.priority, actor=actor, now=now)
        if body.status is not None:
            change_status(session, case, body.status, actor=actor, now=now, note=body.note)
    except CaseError as exc:
        session.rollback()
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    session.commit()
    return _out(session, case, full=True)


@router.post("/api/v1/cases/{case_id}/take", response_model=CaseOut, summary="Assign the case to yourself")
def take_case(case_id: RowId, session: SessionDep, principal: PrincipalDep) -> CaseOut:
    case = _workable_case(session, case_id, principal)
    try:
        assign(session, case, principal.user, actor=principal.user.email)
    except CaseError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    session.commit()
    return _out(session, case, full=True)


class CommentIn(BaseModel):
    body: str = Field(min_length=1, max_length=20_000)
    internal: bool = Field(default=True, description="false: a reply to the customer (counts as a response)")


@router.post(
    "/api/v1/cases/{case_id}/comments",
    response_model=CaseOut,
    status_code=status.HTTP_201_CREATED,
    summary="An internal comment or a reply to the customer",
)
def comment_case(case_id: RowId, body: CommentIn, session: SessionDep, principal: PrincipalDep) -> CaseOut:
    case = _workable_case(session, case_id, principal)
    try:
        add_comment(session, case, actor=principal.user.email, body=body.body, internal=body.internal)
    except CaseError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    session.commit()
    return _out(session, case, full=True)


@router.get(
    "/api/v1/closed-loop",
    summary="Per team: resolved, followed up, confirmed solved; closed-loop rate; hours to close",
)
def closed_loop(
    session: SessionDep, since: datetime | None = None, until: datetime | None = None
) -> dict[str, Any]:
    return loop_metrics(session, since=since, until=until)


class TeamIn(BaseModel):
    label_zh: str = Field(default="", max_length=128)
    label_en: str = Field(default="", max_length=128)
    email: str | None = Field(default=None, max_length=320)
    webhook_url: str | None = Field(default=None, max_length=2000)
    webhook_kind: Literal["generic", "feishu", "dingtalk", "wecom", "slack"] | None = None
    webhook_secret: str | None = Field(default=None, max_length=256)
    assignment: Literal["least_loaded", "round_robin", "manual"] = "least_loaded"


class TeamOut(BaseModel):
    name: str
    label_zh: str
    label_en: str
    email: str | None
    webhook_kind: str | None
    has_webhook: bool
    assignment: str
    members: list[str]


def _team_out(session: Session, team: Team) -> TeamOut:
    members = session.scalars(select(User.email).where(User.team == team.name).order_by(User.email))
    return TeamOut(
        name=team.name,
        label_zh=team.label_zh,
        label_en=team.label_en,
        email=team.email,
        webhook_kind=team.webhook_kind,
        has_webhook=bool(team.webhook_url),
        assignment=team.assignment,
        members=list(members),
    )


@router.get("/api/v1/teams", response_model=list[TeamOut], summary="Teams, their members and notification")
def list_teams(session: SessionDep) -> list[TeamOut]:
    return [_team_out(session, t) for t in session.scalars(select(Team).order_by(Team.name))]


@router.put("/api/v1/teams/{name}", response_model=TeamOut, summary="Create or update a team")
def put_team(
    name: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$")], body: TeamIn, session: SessionDep
) -> TeamOut:
    team = session.get(Team, name)
    if team is None:
        team = Team(name=name)
        session.add(team)
    for field, value in body.model_dump().items():
        setattr(team, field, value)
    session.commit()
    return _team_out(session, team)
