"""``/api/v1/action-plans``: improvement initiatives linked to a feedback theme, and their measured effect."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from closeloop.accounts import audit
from closeloop.act.plans import PLAN_STATES, PlanError, PlanStateError, create_plan, effect, update_plan
from closeloop.api.deps import RowId, SessionDep, client_ip
from closeloop.api.policy import PrincipalDep
from closeloop.store.models import ActionPlan, User, utcnow

router = APIRouter(tags=["action plans"])

PlanState = Literal["planned", "in_progress", "shipped", "dropped"]
assert set(PlanState.__args__) == set(PLAN_STATES)


class ThemeIn(BaseModel):
    """Which feedback the plan is about: a category, a topic's key phrases or a text query (all given must
    match), optionally narrowed to a channel or a product."""

    model_config = ConfigDict(extra="forbid")

    category: str | None = Field(default=None, max_length=200, examples=["packaging"])
    topic: str | list[str] | None = Field(default=None, examples=[["包装破损", "盒子压坏"]])
    query: str | None = Field(default=None, max_length=200, examples=["漏水"])
    channel: str | None = Field(default=None, max_length=64)
    product: str | None = Field(default=None, max_length=256)


class PlanOut(BaseModel):
    id: int
    title: str
    description: str
    theme: dict[str, Any]
    owner: str | None
    team: str | None
    status: str
    starts_on: datetime | None
    due_on: datetime | None
    shipped_at: datetime | None
    created_at: datetime
    updated_at: datetime


def _out(session: Session, plan: ActionPlan) -> PlanOut:
    owner = session.get(User, plan.owner_id) if plan.owner_id else None
    return PlanOut(
        id=plan.id,
        title=plan.title,
        description=plan.description,
        theme=plan.theme,
        owner=owner.email if owner else None,
        team=plan.team,
        status=plan.status,
        starts_on=plan.starts_on,
        due_on=plan.due_on,
        shipped_at=plan.shipped_at,
        created_at=plan.created_at,
        updated_at=plan.updated_at,
    )


def _plan(session: Session, plan_id: int) -> ActionPlan:
    plan = session.get(ActionPlan, plan_id)
    if plan is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no action plan {plan_id}")
    return plan


def _owner(session: Session, email: str | None) -> User | None:
    if not email:
        return None
    user = session.scalars(select(User).where(User.email == email)).first()
    if user is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"no user {email} / 没有用户 {email}")
    return user


@router.get("/api/v1/action-plans", response_model=list[PlanOut], summary="Action plans, newest first")
def list_plans(
    session: SessionDep,
    state: Annotated[PlanState | None, Query(alias="status")] = None,
    team: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[PlanOut]:
    stmt = select(ActionPlan)
    if state:
        stmt = stmt.where(ActionPlan.status == state)
    if team:
        stmt = stmt.where(ActionPlan.team == team)
    stmt = stmt.order_by(ActionPlan.created_at.desc(), ActionPlan.id.desc()).limit(limit)
    return [_out(session, plan) for plan in session.scalars(stmt)]


class PlanIn(BaseModel):
    title: str = Field(min_length=1, max_length=256, examples=["换包装供应商 / new packaging supplier"])
    description: str = Field(default="", max_length=20_000)
    theme: ThemeIn
    owner: str | None = Field(default=None, max_length=320, description="the owner's e-mail")
    team: str | None = Field(default=None, max_length=64)
    starts_on: datetime | None = None
    due_on: datetime | None = None
    status: Literal["planned", "in_progress", "shipped"] = Field(
        default="planned", description="shipped: recording a change made earlier (give shipped_at)"
    )
    shipped_at: datetime | None = None


@router.post(
    "/api/v1/action-plans",
    response_model=PlanOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create an action plan for a theme",
)
def create_action_plan(
    body: PlanIn, request: Request, session: SessionDep, principal: PrincipalDep
) -> PlanOut:
    try:
        plan = create_plan(
            session,
            title=body.title,
            theme=body.theme.model_dump(exclude_none=True),
            description=body.description,
            owner=_owner(session, body.owner),
            team=body.team,
            starts_on=body.starts_on,
            due_on=body.due_on,
            status=body.status,
            shipped_at=body.shipped_at,
        )
    except PlanError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    audit.record(
        session,
        "action_plan.created",
        actor=principal.user.email,
        target=f"action_plan:{plan.id}",
        ip=client_ip(request),
        detail={"title": plan.title, "theme": plan.theme, "status": plan.status},
    )
    session.commit()
    return _out(session, plan)


@router.get("/api/v1/action-plans/{plan_id}", response_model=PlanOut, summary="An action plan")
def read_action_plan(plan_id: RowId, session: SessionDep) -> PlanOut:
    return _out(session, _plan(session, plan_id))


class PlanPatch(BaseModel):
    """Only the fields sent are changed; null clears owner, team and dates."""

    title: str | None = Field(default=None, min_length=1, max_length=256)
    description: str | None = Field(default=None, max_length=20_000)
    theme: ThemeIn | None = None
    owner: str | None = Field(default=None, max_length=320, description="an e-mail; empty or null: no owner")
    team: str | None = Field(default=None, max_length=64)
    starts_on: datetime | None = None
    due_on: datetime | None = None
    status: PlanState | None = None
    shipped_at: datetime | None = Field(default=None, description="with status shipped, or to correct it")


@router.patch(
    "/api/v1/action-plans/{plan_id}",
    response_model=PlanOut,
    summary="Change an action plan: planned → in_progress → shipped (sets shipped_at) / dropped",
)
def update_action_plan(
    plan_id: RowId, body: PlanPatch, request: Request, session: SessionDep, principal: PrincipalDep
) -> PlanOut:
    plan = _plan(session, plan_id)
    sent = body.model_fields_set
    changes: dict[str, Any] = {}
    for name in ("title", "description", "status", "shipped_at"):
        if name in sent and getattr(body, name) is not None:
            changes[name] = getattr(body, name)
    for name in ("team", "starts_on", "due_on"):
        if name in sent:
            changes[name] = getattr(body, name)
    if "theme" in sent and body.theme is not None:
        changes["theme"] = body.theme.model_dump(exclude_none=True)
    if "owner" in sent:
        changes["owner"] = _owner(session, body.owner)
    try:
        diff = update_plan(session, plan, changes, now=utcnow())
    except PlanError as exc:
        session.rollback()
        code = (
            status.HTTP_409_CONFLICT
            if isinstance(exc, PlanStateError)
            else status.HTTP_422_UNPROCESSABLE_CONTENT
        )
        raise HTTPException(code, str(exc)) from None
    if diff:
        audit.record(
            session,
            "action_plan.updated",
            actor=principal.user.email,
            target=f"action_plan:{plan.id}",
            ip=client_ip(request),
            detail=diff,
        )
    session.commit()
    return _out(session, plan)


@router.get(
    "/api/v1/action-plans/{plan_id}/effect",
    summary="Did it work? The theme's volume, share and sentiment before and after the plan shipped",
)
def action_plan_effect(
    plan_id: RowId,
    session: SessionDep,
    window_days: Annotated[int, Query(ge=1, le=365, description="length of each window, in days")] = 28,
) -> dict[str, Any]:
    plan = _plan(session, plan_id)
    try:
        return effect(session, plan, window_days=window_days, now=utcnow())
    except PlanStateError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
