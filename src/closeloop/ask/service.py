"""Surveys in the store: save definitions, start and resume responses, save answers, and turn a completed
response into feedback items (through the one ingest path, linked to the customer).

Functions take a session and work in the caller's transaction; the HTTP handlers and jobs commit.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from closeloop.ask.abtest import assign_variant
from closeloop.ask.answers import CleanAnswers, parse_one_click, to_feedback, validate_answers
from closeloop.ask.definitions import Survey, load_survey, normalize_language, text_for
from closeloop.collect.ingest import ChannelCache, write_batch
from closeloop.collect.records import CustomerRef, FeedbackRecord
from closeloop.store.models import Customer, Invitation, SurveyRecord, SurveyResponse, utcnow


class SurveyNotFoundError(LookupError):
    def __init__(self, survey_id: str) -> None:
        super().__init__(f"no survey {survey_id!r}")
        self.survey_id = survey_id


class SurveyClosedError(ValueError):
    def __init__(self, survey_id: str) -> None:
        super().__init__(f"survey {survey_id!r} is closed and takes no answers / 该问卷已关闭")


class ResponseCompletedError(ValueError):
    def __init__(self) -> None:
        super().__init__("this response is already complete / 该答卷已提交")


@dataclass(frozen=True, slots=True)
class Loaded:
    """A stored survey and its parsed definition."""

    record: SurveyRecord
    survey: Survey


def new_token() -> str:
    """An unguessable link token (192 bits)."""
    return secrets.token_urlsafe(24)


def save_survey(session: Session, source: str | bytes | dict[str, Any]) -> Loaded:
    """Create or update a survey from YAML/JSON text or a mapping (raises ``SurveyDefinitionError``)."""
    survey = load_survey(source)
    definition = survey.model_dump(mode="json", exclude_none=True)
    record = session.get(SurveyRecord, survey.id)
    title = text_for(survey.title, survey.default_language)
    if record is None:
        record = SurveyRecord(id=survey.id, title=title, definition=definition, revision=1, status="active")
        session.add(record)
    elif record.definition != definition:
        record.definition = definition
        record.title = title
        record.revision += 1
        record.updated_at = utcnow()
    session.flush()
    return Loaded(record, survey)


def load(session: Session, survey_id: str) -> Loaded:
    record = session.get(SurveyRecord, survey_id)
    if record is None:
        raise SurveyNotFoundError(survey_id)
    return Loaded(record, load_survey(record.definition))


def list_surveys(session: Session) -> list[SurveyRecord]:
    return list(session.scalars(select(SurveyRecord).order_by(SurveyRecord.id)))


def choose_variant(survey: Survey, customer_key: str | None) -> str | None:
    """A customer's A/B variant (sticky); a random one for anonymous answerers; None without variants."""
    if not survey.variants:
        return None
    return assign_variant(f"survey:{survey.id}", customer_key or new_token(), survey.variant_weights)


def start_response(
    session: Session,
    loaded: Loaded,
    *,
    source: str = "web",
    language: str | None = None,
    customer: Customer | None = None,
    invitation: Invitation | None = None,
) -> SurveyResponse:
    """A new, empty response (its token resumes it). An invited response takes the invitation's token."""
    if loaded.record.status != "active":
        raise SurveyClosedError(loaded.record.id)
    variant = (
        invitation.variant
        if invitation
        else choose_variant(loaded.survey, customer.external_id if customer else None)
    )
    response = SurveyResponse(
        token=invitation.token if invitation else new_token(),
        survey_id=loaded.record.id,
        invitation_id=invitation.id if invitation else None,
        customer_id=customer.id if customer else (invitation.customer_id if invitation else None),
        variant=variant,
        language=normalize_language(language, loaded.survey.default_language),
        source=source,
        answers={},
        status="started",
    )
    session.add(response)
    session.flush()
    return response


def response_for_token(session: Session, token: str) -> SurveyResponse | None:
    """The response a link token points at; an invitation's first click creates it."""
    response = session.scalars(select(SurveyResponse).where(SurveyResponse.token == token)).first()
    if response is not None:
        return response
    invitation = session.scalars(select(Invitation).where(Invitation.token == token)).first()
    if invitation is None:
        return None
    return start_response(session, load(session, invitation.survey_id), source="email", invitation=invitation)


def as_variant(survey: Survey, variant: str | None) -> Survey:
    """The survey as ``variant`` shows it; the base survey when the variant is not one of the survey's
    (a send-time arm, or a variant since removed from the definition)."""
    return survey.with_variant(variant if variant in {v.id for v in survey.variants} else None)


def shown_survey(session: Session, response: SurveyResponse) -> Survey:
    """The survey as this response sees it (its A/B variant applied)."""
    return as_variant(load(session, response.survey_id).survey, response.variant)


def save_answers(
    session: Session,
    response: SurveyResponse,
    answers: dict[str, Any],
    *,
    finish: bool,
    now: datetime | None = None,
) -> CleanAnswers:
    """Merge ``answers`` into the response and validate. With ``finish``, every visible required question
    must be answered (raises ``AnswerError``) and the response becomes feedback items."""
    if response.status == "completed":
        raise ResponseCompletedError()
    loaded = load(session, response.survey_id)
    if loaded.record.status != "active":
        raise SurveyClosedError(loaded.record.id)
    survey = as_variant(loaded.survey, response.variant)
    merged = {**(response.answers or {}), **answers}
    clean = validate_answers(survey, merged, partial=not finish)
    response.answers = dict(clean.values)
    response.updated_at = now or utcnow()
    if finish:
        _complete(session, survey, response, clean, response.updated_at)
    session.flush()
    return clean


def answer_one_click(
    session: Session, response: SurveyResponse, question_id: str, raw_score: Any
) -> CleanAnswers:
    """The score carried by an email link, saved as the first answer (the form asks the rest)."""
    survey = shown_survey(session, response)
    clicked = parse_one_click(survey, question_id, raw_score)
    return save_answers(session, response, dict(clicked.values), finish=False)


def _complete(
    session: Session, survey: Survey, response: SurveyResponse, clean: CleanAnswers, now: datetime
) -> None:
    customer = session.get(Customer, response.customer_id) if response.customer_id else None
    ref = CustomerRef(external_id=customer.external_id) if customer else None
    items = to_feedback(
        survey,
        clean,
        response.language,
        response_id=str(response.id),
        variant=response.variant,
        answered_at=now,
    )
    records = [FeedbackRecord(**item, customer=ref) for item in items]
    result = write_batch(session, records, channels=ChannelCache(session)) if records else None
    response.feedback_ids = list(result.item_ids) if result else []
    response.status = "completed"
    response.completed_at = now
    if response.invitation_id:
        invitation = session.get(Invitation, response.invitation_id)
        if invitation is not None and invitation.answered_at is None:
            invitation.answered_at = now
