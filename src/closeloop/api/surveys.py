"""``/api/v1/surveys``, ``/api/v1/invitation-rules``, ``/api/v1/events``, ``/api/v1/invitations``:
define surveys (JSON or YAML), the rules that invite customers after events, the events, and results."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from closeloop.accounts import audit
from closeloop.api.deps import SessionDep, client_ip, definition_body
from closeloop.api.policy import PrincipalDep
from closeloop.api.schemas import CustomerIn
from closeloop.ask.definitions import SurveyDefinitionError
from closeloop.ask.invitations import EventIn, RuleError, record_events, save_rule
from closeloop.ask.results import experiment, rule_response_rates, survey_results
from closeloop.ask.service import SurveyNotFoundError, list_surveys, load, save_survey
from closeloop.collect.records import CustomerRef
from closeloop.store.models import Invitation, SurveyResponse, TriggerRuleRecord

router = APIRouter(tags=["surveys"])


class SurveySummary(BaseModel):
    id: str
    title: str
    status: str
    revision: int
    responses: int
    completed: int


class SurveyOut(BaseModel):
    id: str
    status: str
    revision: int
    definition: dict[str, Any]


class SurveyPatch(BaseModel):
    status: Literal["active", "closed"]


def _not_found(survey_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no survey {survey_id!r}")


@router.get("/api/v1/surveys", response_model=list[SurveySummary], summary="Surveys with response counts")
def surveys(session: SessionDep) -> list[SurveySummary]:
    counts = {
        (survey_id, state): n
        for survey_id, state, n in session.execute(
            select(SurveyResponse.survey_id, SurveyResponse.status, func.count()).group_by(
                SurveyResponse.survey_id, SurveyResponse.status
            )
        )
    }
    return [
        SurveySummary(
            id=r.id,
            title=r.title,
            status=r.status,
            revision=r.revision,
            responses=counts.get((r.id, "started"), 0) + counts.get((r.id, "completed"), 0),
            completed=counts.get((r.id, "completed"), 0),
        )
        for r in list_surveys(session)
    ]


@router.post(
    "/api/v1/surveys",
    response_model=SurveyOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create or update a survey from its definition (JSON body, or YAML with a YAML content type)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/yaml": {"schema": {"type": "string"}},
            },
        }
    },
)
async def create_survey(request: Request) -> SurveyOut:
    source = await definition_body(request)
    if not isinstance(source, str | dict):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, ["(body): a survey definition must be a JSON object"]
        )
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_save, request, source)


def _save(request: Request, source: Any) -> SurveyOut:
    factory = request.app.state.session_factory
    principal = request.state.principal
    with factory() as session:
        try:
            loaded = save_survey(session, source)
        except SurveyDefinitionError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, exc.problems) from None
        audit.record(
            session,
            "survey.saved",
            actor=principal.user.email,
            target=f"survey:{loaded.record.id}",
            ip=client_ip(request),
            detail={"revision": loaded.record.revision},
        )
        session.commit()
        record = loaded.record
        return SurveyOut(
            id=record.id, status=record.status, revision=record.revision, definition=record.definition
        )


@router.get("/api/v1/surveys/{survey_id}", response_model=SurveyOut, summary="A survey's definition")
def read_survey(survey_id: str, session: SessionDep) -> SurveyOut:
    try:
        record = load(session, survey_id).record
    except SurveyNotFoundError:
        raise _not_found(survey_id) from None
    return SurveyOut(
        id=record.id, status=record.status, revision=record.revision, definition=record.definition
    )


@router.patch("/api/v1/surveys/{survey_id}", response_model=SurveyOut, summary="Open or close a survey")
def patch_survey(
    survey_id: str, body: SurveyPatch, request: Request, session: SessionDep, principal: PrincipalDep
) -> SurveyOut:
    try:
        record = load(session, survey_id).record
    except SurveyNotFoundError:
        raise _not_found(survey_id) from None
    record.status = body.status
    audit.record(
        session,
        "survey.status_changed",
        actor=principal.user.email,
        target=f"survey:{survey_id}",
        ip=client_ip(request),
        detail={"status": body.status},
    )
    session.commit()
    return SurveyOut(
        id=record.id, status=record.status, revision=record.revision, definition=record.definition
    )


@router.get("/api/v1/surveys/{survey_id}/results", summary="Scores (NPS, CSAT, CES, stars) with counts")
def results(
    survey_id: str,
    session: SessionDep,
    since: datetime | None = None,
    until: datetime | None = None,
    group_by: Annotated[
        Literal["period", "source", "tier", "region", "variant"] | None,
        Query(description="period (see `period`), answer source, customer tier or region, A/B variant"),
    ] = None,
    period: Literal["day", "week", "month", "quarter", "year"] = "month",
) -> dict[str, Any]:
    try:
        survey = load(session, survey_id).survey
    except SurveyNotFoundError:
        raise _not_found(survey_id) from None
    found = survey_results(session, survey, since=since, until=until, group_by=group_by, period=period)
    found["invitation_rules"] = rule_response_rates(session, survey_id)
    return found


@router.get(
    "/api/v1/surveys/{survey_id}/experiment",
    summary="A/B test of the survey's variants: response and completion rates, confidence intervals, winner",
)
def ab_test(
    survey_id: str,
    session: SessionDep,
    alpha: Annotated[float, Query(gt=0, lt=0.5)] = 0.05,
    min_trials: Annotated[int, Query(ge=1, le=1_000_000)] = 100,
) -> dict[str, Any]:
    try:
        survey = load(session, survey_id).survey
    except SurveyNotFoundError:
        raise _not_found(survey_id) from None
    return experiment(session, survey, alpha=alpha, min_trials=min_trials)


class RuleOut(BaseModel):
    id: str
    survey_id: str
    event_type: str
    active: bool
    definition: dict[str, Any]


@router.post(
    "/api/v1/invitation-rules",
    response_model=RuleOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create or replace a rule: send a survey a set time after an event (delay, reminder …)",
)
def put_rule(body: dict[str, Any], request: Request, session: SessionDep, principal: PrincipalDep) -> RuleOut:
    try:
        record = save_rule(session, body)
    except RuleError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    audit.record(
        session,
        "rule.saved",
        actor=principal.user.email,
        target=f"invitation_rule:{record.id}",
        ip=client_ip(request),
        detail=body,
    )
    session.commit()
    return RuleOut(
        id=record.id,
        survey_id=record.survey_id,
        event_type=record.event_type,
        active=record.active,
        definition=record.definition,
    )


@router.get("/api/v1/invitation-rules", response_model=list[RuleOut], summary="Invitation rules")
def rules(session: SessionDep) -> list[RuleOut]:
    return [
        RuleOut(
            id=r.id, survey_id=r.survey_id, event_type=r.event_type, active=r.active, definition=r.definition
        )
        for r in session.scalars(select(TriggerRuleRecord).order_by(TriggerRuleRecord.id))
    ]


class EventBody(BaseModel):
    external_id: str = Field(min_length=1, max_length=256, examples=["order-20261125-0001"])
    type: str = Field(min_length=1, max_length=64, examples=["order_completed"])
    customer: CustomerIn
    occurred_at: datetime
    payload: dict[str, Any] = Field(default_factory=dict)


class EventsIn(BaseModel):
    events: list[EventBody] = Field(min_length=1, max_length=1000)


@router.post(
    "/api/v1/events",
    status_code=status.HTTP_201_CREATED,
    summary="Record customer events (order_completed, ticket_closed …) that may trigger invitations",
)
def post_events(body: EventsIn, session: SessionDep) -> dict[str, int]:
    stored, duplicates = record_events(
        session,
        [
            EventIn(
                external_id=e.external_id,
                type=e.type,
                customer=CustomerRef(**e.customer.model_dump()),
                occurred_at=e.occurred_at,
                payload=e.payload,
            )
            for e in body.events
        ],
    )
    session.commit()
    return {"stored": stored, "duplicates": duplicates}


class InvitationOut(BaseModel):
    id: int
    rule_id: str
    survey_id: str
    customer_id: int
    variant: str | None
    status: str
    due_at: datetime
    sent_at: datetime | None
    skipped_reason: str | None
    reminder_sent_at: datetime | None
    answered_at: datetime | None
    last_error: str | None


@router.get("/api/v1/invitations", response_model=list[InvitationOut], summary="Invitations, newest first")
def invitations(
    session: SessionDep,
    survey_id: str | None = None,
    state: Annotated[Literal["sending", "sent", "skipped"] | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[InvitationOut]:
    stmt = select(Invitation).order_by(Invitation.id.desc()).limit(limit)
    if survey_id:
        stmt = stmt.where(Invitation.survey_id == survey_id)
    if state:
        stmt = stmt.where(Invitation.status == state)
    return [
        InvitationOut(
            id=i.id,
            rule_id=i.rule_id,
            survey_id=i.survey_id,
            customer_id=i.customer_id,
            variant=i.variant,
            status=i.status,
            due_at=i.due_at,
            sent_at=i.sent_at,
            skipped_reason=i.skipped_reason,
            reminder_sent_at=i.reminder_sent_at,
            answered_at=i.answered_at,
            last_error=i.last_error,
        )
        for i in session.scalars(stmt)
    ]
