"""``POST /api/v1/surveys/{survey_id}/responses``: answer a survey from an app or a chatbot (an API token).

One call can answer everything and finish, or answer part of it (``"finish": false``) and continue later
with the returned ``token``: the reply lists the questions now visible and the required ones still missing,
so a chatbot can ask the next question the survey's branching calls for.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from closeloop.api.deps import SessionDep
from closeloop.api.schemas import CustomerIn
from closeloop.ask.answers import AnswerError
from closeloop.ask.definitions import normalize_language
from closeloop.ask.service import (
    ResponseCompletedError,
    SurveyClosedError,
    SurveyNotFoundError,
    load,
    response_for_token,
    save_answers,
    start_response,
)
from closeloop.collect.customers import upsert_customer
from closeloop.collect.records import CustomerRef
from closeloop.store.models import SurveyResponse

router = APIRouter(prefix="/api/v1/surveys", tags=["surveys"])


class ResponseIn(BaseModel):
    """Answers by question id: scores as numbers, single choices as a choice id, multiple as a list."""

    answers: dict[str, Any] = Field(default_factory=dict, examples=[{"nps": 3, "why": "物流太慢"}])
    language: str | None = Field(default=None, max_length=16, examples=["zh"])
    customer: CustomerIn | None = None
    finish: bool = True
    token: str | None = Field(
        default=None, max_length=64, description="continue the response with this token"
    )


class ResponseOut(BaseModel):
    token: str
    status: str
    visible_questions: list[str]
    missing_required: list[str]
    feedback_ids: list[int]


def _continued(session: SessionDep, survey_id: str, token: str) -> SurveyResponse:
    response = response_for_token(session, token)
    if response is None or response.survey_id != survey_id:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no response with this token for survey {survey_id!r}"
        )
    return response


@router.post("/{survey_id}/responses", status_code=status.HTTP_201_CREATED, response_model=ResponseOut)
def answer_survey(survey_id: str, body: ResponseIn, session: SessionDep) -> Any:
    """Start (or continue, with ``token``) a response, save the answers and, with ``finish``, complete it
    into feedback items. 422 lists each question's problem (English and Chinese); 409 when the response
    was already completed; 410 when the survey is closed."""
    try:
        loaded = load(session, survey_id)
        if body.token:
            response = _continued(session, survey_id, body.token)
        else:
            customer = (
                upsert_customer(session, CustomerRef(**body.customer.model_dump())) if body.customer else None
            )
            language = normalize_language(body.language, loaded.survey.default_language)
            response = start_response(session, loaded, source="api", language=language, customer=customer)
        clean = save_answers(session, response, body.answers, finish=body.finish)
    except SurveyNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    except SurveyClosedError as exc:
        raise HTTPException(status.HTTP_410_GONE, str(exc)) from None
    except ResponseCompletedError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except AnswerError as exc:
        session.rollback()
        return JSONResponse(
            {"detail": "some answers cannot be accepted / 部分答案无效", "problems": exc.problems},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    session.commit()
    return ResponseOut(
        token=response.token,
        status=response.status,
        visible_questions=list(clean.visible),
        missing_required=list(clean.missing_required),
        feedback_ids=list(response.feedback_ids or []),
    )
