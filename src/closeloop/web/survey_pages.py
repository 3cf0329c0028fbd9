"""The public answering side of surveys: the web form, one-click email links, unsubscribe, the widget frame.

Every page here is public and shows nothing but the survey: no navigation, no customer data, no ids other
than the link token. The form works without JavaScript: "下一步 Next" saves partial answers and shows the
questions that branching now makes visible; "提交 Submit" finishes. Links:

- ``/s/{survey_id}``                      start an anonymous response (``?lang=zh|en``, ``?embed=1``)
- ``/r/{token}``                          answer (resumes a partial response; invitation tokens work too)
- ``/r/{token}/click?q={question}&v={n}`` one-click first score from an e-mail, then the rest of the form
- ``/u/{token}``                          unsubscribe from surveys (GET asks, POST records the refusal)
- ``/static/widget.js``                   the in-app widget: ``<script src=… data-survey="<id>" async>``
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from closeloop.ask.answers import AnswerError, AnswerProblem, visible_questions
from closeloop.ask.definitions import (
    LANGUAGES,
    Localized,
    MultipleChoiceQuestion,
    Question,
    RatingQuestion,
    ScoredQuestion,
    SingleChoiceQuestion,
    Survey,
    TextQuestion,
    normalize_language,
)
from closeloop.ask.links import answer_path, unsubscribe_path
from closeloop.ask.service import (
    ResponseCompletedError,
    SurveyClosedError,
    SurveyNotFoundError,
    answer_one_click,
    load,
    response_for_token,
    save_answers,
    shown_survey,
    start_response,
)
from closeloop.collect.customers import consent_refused, record_consent
from closeloop.store.models import Customer, Invitation, SurveyResponse
from closeloop.web.i18n import TEXTS
from closeloop.web.pages import templates

router = APIRouter(include_in_schema=False)

STATIC_DIR = str(Path(__file__).resolve().parent / "static")  # widget.js, mounted at /static
FIELD_PREFIX = "q_"  # form fields are q_<question id>, so a question id can never clash with a control
UNSUBSCRIBE_SOURCE = "unsubscribe link"


# --- language and headers ----------------------------------------------------------------------------


def answer_language(request: Request, default: str) -> str:
    """``?lang=zh|en`` wins, then the browser's first Accept-Language, then the survey's default."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked
    first = request.headers.get("accept-language", "").split(",")[0].split(";")[0].strip()
    return normalize_language(first, default) if first else default


def _is_embed(value: str | None) -> bool:
    return value in ("1", "true", "yes")


def page_headers(embed: bool) -> dict[str, str]:
    """Token pages are private and never cached or indexed; only the widget's frame may be framed."""
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
    if not embed:
        headers["X-Frame-Options"] = "DENY"
        headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    return headers


def bilingual(key: str) -> str:
    """A UI text in Chinese then English: ``下一步 Next``."""
    chinese, english = TEXTS["zh"][key], TEXTS["en"][key]
    return chinese if chinese == english else f"{chinese} {english}"


# --- what the form template shows --------------------------------------------------------------------


@dataclass(slots=True)
class OptionView:
    """One radio button or checkbox."""

    value: str
    label: str
    checked: bool


@dataclass(slots=True)
class QuestionView:
    """One question as the form shows it, with the current answer and its problems."""

    id: str
    widget: str  # scale | stars | single | multiple | text
    text: str
    text_other: str  # the same question in the other language, when the survey has it
    required: bool
    options: list[OptionView] = field(default_factory=list)
    low_label: str = ""
    high_label: str = ""
    value: str = ""
    max_length: int | None = None
    problems: list[AnswerProblem] = field(default_factory=list)


def _texts(localized: Localized | None, lang: str) -> tuple[str, str]:
    """(text in ``lang``, text in the other language or "" when missing or identical)."""
    if localized is None:
        return "", ""
    other = "en" if lang == "zh" else "zh"
    primary = getattr(localized, lang) or getattr(localized, other) or ""
    secondary = getattr(localized, other) or ""
    return primary, "" if secondary == primary else secondary


def _widget(question: Question) -> str:
    if isinstance(question, RatingQuestion):
        return "stars"
    if isinstance(question, ScoredQuestion):
        return "scale"
    return question.type


def _as_strings(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    return [str(value)]


def question_views(
    survey: Survey, answers: Mapping[str, Any], lang: str, problems: list[AnswerProblem] | None = None
) -> list[QuestionView]:
    """The visible questions for ``answers`` (clean or as typed), ready for the form template."""
    by_question: dict[str, list[AnswerProblem]] = {}
    for problem in problems or []:
        by_question.setdefault(problem["question"], []).append(problem)
    views = []
    for question in visible_questions(survey, answers):
        text, text_other = _texts(question.text, lang)
        current = _as_strings(answers.get(question.id))
        view = QuestionView(
            id=question.id,
            widget=_widget(question),
            text=text,
            text_other=text_other,
            required=question.required,
            problems=by_question.get(question.id, []),
        )
        if isinstance(question, ScoredQuestion):
            low, high = question.scale
            view.options = [OptionView(str(n), str(n), str(n) in current) for n in range(low, high + 1)]
            view.low_label = _texts(question.low_label, lang)[0]
            view.high_label = _texts(question.high_label, lang)[0]
        elif isinstance(question, SingleChoiceQuestion | MultipleChoiceQuestion):
            view.options = [
                OptionView(choice.id, _texts(choice.label, lang)[0], choice.id in current)
                for choice in question.choices
            ]
        elif isinstance(question, TextQuestion):
            view.value = current[0] if current else ""
            view.max_length = question.max_length
        views.append(view)
    return views


def answers_from_form(survey: Survey, form: FormData) -> tuple[dict[str, Any], list[str]]:
    """``({question id: raw answer}, ids of the questions the form showed)`` from a submitted form.

    A question the form showed but sent nothing for (no box ticked, empty text) is answered with ""
    so a cleared answer is cleared; fields for questions the survey does not have are ignored.
    """
    known = {question.id: question for question in survey.questions}
    shown_field = form.get("shown")
    shown = [qid for qid in (shown_field.split(",") if isinstance(shown_field, str) else []) if qid in known]
    answers: dict[str, Any] = {}
    for question_id, question in known.items():
        values = [value for value in form.getlist(FIELD_PREFIX + question_id) if isinstance(value, str)]
        if not values and question_id not in shown:
            continue
        if isinstance(question, MultipleChoiceQuestion):
            answers[question_id] = values
        else:
            answers[question_id] = values[0] if values else ""
    return answers, shown


# --- sessions and pages --------------------------------------------------------------------------------


def writing_session(request: Request) -> Iterator[Session]:
    """A read-write session even for GET: opening a survey link starts a response, a click saves a score."""
    session = request.app.state.session_factory()
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


WritingSessionDep = Annotated[Session, Depends(writing_session)]


def _message_page(
    request: Request,
    *,
    lang: str,
    heading: str,
    body: str = "",
    status_code: int = 200,
    embed: bool = False,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "survey_message.html",
        {"lang": lang, "bi": bilingual, "heading": heading, "body": body, "embed": embed, "title": heading},
        status_code=status_code,
        headers=page_headers(embed),
    )


def _not_found(request: Request, embed: bool = False) -> HTMLResponse:
    lang = answer_language(request, "zh")
    return _message_page(
        request,
        lang=lang,
        heading=bilingual("survey_not_found"),
        body=bilingual("survey_not_found_hint"),
        status_code=404,
        embed=embed,
    )


def _closed(request: Request, lang: str, embed: bool) -> HTMLResponse:
    return _message_page(
        request,
        lang=lang,
        heading=bilingual("survey_closed"),
        body=bilingual("survey_closed_hint"),
        status_code=410,
        embed=embed,
    )


def _completed(request: Request, survey: Survey, lang: str, embed: bool, *, just_now: bool) -> HTMLResponse:
    thank_you = _texts(survey.thank_you, lang)[0] or bilingual("survey_thanks")
    if just_now:
        return _message_page(request, lang=lang, heading=thank_you, embed=embed)
    return _message_page(
        request, lang=lang, heading=bilingual("survey_already_answered"), body=thank_you, embed=embed
    )


def _form_page(
    request: Request,
    response: SurveyResponse,
    survey: Survey,
    answers: Mapping[str, Any],
    *,
    lang: str,
    embed: bool,
    problems: list[AnswerProblem] | None = None,
    notice: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    views = question_views(survey, answers, lang, problems)
    shown = {view.id for view in views}
    general = [problem for problem in problems or [] if problem["question"] not in shown]
    title, _ = _texts(survey.title, lang)
    intro, _ = _texts(survey.intro, lang)
    return templates.TemplateResponse(
        request,
        "survey_form.html",
        {
            "lang": lang,
            "bi": bilingual,
            "title": title,
            "intro": intro,
            "questions": views,
            "shown": ",".join(view.id for view in views),
            # "Next" is worth offering while some question could still appear through branching.
            "may_branch": any(question.id not in shown for question in survey.questions),
            "action": answer_path(response.token),
            "embed": embed,
            "general_problems": general,
            "notice": notice,
        },
        status_code=status_code,
        headers=page_headers(embed),
    )


def _open_response(session: Session, token: str) -> SurveyResponse | None:
    """The response behind ``token``, created on an invitation's first click (a concurrent first click
    that won the race is read back instead of failing)."""
    try:
        response = response_for_token(session, token)
        session.commit()
        return response
    except IntegrityError:
        session.rollback()
        return session.scalars(select(SurveyResponse).where(SurveyResponse.token == token)).first()


@router.get("/s/{survey_id}", response_class=HTMLResponse)
def start_survey(
    request: Request, session: WritingSessionDep, survey_id: str, embed: str | None = None
) -> Response:
    """Start an anonymous response and send the browser to its own link."""
    framed = _is_embed(embed)
    try:
        loaded = load(session, survey_id)
    except SurveyNotFoundError:
        return _not_found(request, framed)
    lang = answer_language(request, loaded.survey.default_language)
    try:
        response = start_response(session, loaded, source="widget" if framed else "web", language=lang)
    except SurveyClosedError:
        return _closed(request, lang, framed)
    session.commit()
    return RedirectResponse(
        answer_path(response.token, embed=framed), status_code=303, headers=page_headers(framed)
    )


@router.get("/r/{token}", response_class=HTMLResponse)
def answer_form(
    request: Request, session: WritingSessionDep, token: str, embed: str | None = None
) -> Response:
    """The form with the answers saved so far, or the page saying it is answered or closed."""
    framed = _is_embed(embed)
    try:
        response = _open_response(session, token)
    except SurveyClosedError:
        return _closed(request, answer_language(request, "zh"), framed)
    if response is None:
        return _not_found(request, framed)
    loaded = load(session, response.survey_id)
    survey = shown_survey(session, response)
    asked = request.query_params.get("lang")
    lang = asked if asked in LANGUAGES else response.language
    if response.status == "completed":
        return _completed(request, survey, lang, framed, just_now=False)
    if loaded.record.status != "active":
        return _closed(request, lang, framed)
    return _form_page(request, response, survey, response.answers or {}, lang=lang, embed=framed)


async def posted_form(request: Request) -> FormData:
    """The submitted form, read in the event loop so the handler itself can run in the thread pool."""
    return await request.form()


@router.post("/r/{token}", response_class=HTMLResponse)
def submit_answers(
    request: Request,
    session: WritingSessionDep,
    token: str,
    form: Annotated[FormData, Depends(posted_form)],
) -> Response:
    """Save the form: "next" keeps the response open and shows what branching reveals, "submit" finishes."""
    framed = _is_embed(_form_text(form, "embed"))
    try:
        response = _open_response(session, token)
    except SurveyClosedError:
        return _closed(request, answer_language(request, "zh"), framed)
    if response is None:
        return _not_found(request, framed)
    survey = shown_survey(session, response)
    chosen_lang = _form_text(form, "lang")
    lang = chosen_lang if chosen_lang in LANGUAGES else response.language
    if response.status == "completed":
        return _completed(request, survey, lang, framed, just_now=False)
    answers, shown = answers_from_form(survey, form)
    wants_to_finish = _form_text(form, "action") == "submit"
    typed = {**(response.answers or {}), **answers}
    newly_visible = [q.id for q in visible_questions(survey, typed) if q.id not in shown]
    # Answers that reveal questions the person has not seen yet are saved, and those questions shown first.
    finish = wants_to_finish and not (shown and newly_visible)
    try:
        save_answers(session, response, answers, finish=finish)
    except AnswerError as error:
        session.rollback()
        return _form_page(
            request,
            response,
            survey,
            typed,
            lang=lang,
            embed=framed,
            problems=error.problems,
            status_code=422,
        )
    except ResponseCompletedError:
        return _completed(request, survey, lang, framed, just_now=False)
    except SurveyClosedError:
        return _closed(request, lang, framed)
    if lang != response.language:
        response.language = lang
    session.commit()
    if finish:
        return _completed(request, survey, lang, framed, just_now=True)
    if wants_to_finish:
        notice = bilingual("survey_more_questions")
        return _form_page(request, response, survey, response.answers, lang=lang, embed=framed, notice=notice)
    target = answer_path(token, embed=framed, lang=chosen_lang if chosen_lang in LANGUAGES else None)
    if newly_visible:
        target += f"#q-{newly_visible[0]}"
    return RedirectResponse(target, status_code=303, headers=page_headers(framed))


def _form_text(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


@router.get("/r/{token}/click", response_class=HTMLResponse)
def one_click(
    request: Request, session: WritingSessionDep, token: str, q: str | None = None, v: str | None = None
) -> Response:
    """Save the score an e-mail link carries (the last click wins until the response is completed), then
    open the form for the rest. Saving on GET is what one click means; a mail scanner fetching the link
    saves the same score the person would, and a later click overrides it."""
    try:
        response = _open_response(session, token)
    except SurveyClosedError:
        return _closed(request, answer_language(request, "zh"), False)
    if response is None:
        return _not_found(request)
    survey = shown_survey(session, response)
    if response.status == "completed":
        return _completed(request, survey, response.language, False, just_now=False)
    try:
        answer_one_click(session, response, q or "", v if v is not None else "")
    except AnswerError as error:
        session.rollback()
        return _form_page(
            request,
            response,
            survey,
            response.answers or {},
            lang=response.language,
            embed=False,
            problems=error.problems,
            status_code=422,
        )
    except SurveyClosedError:
        return _closed(request, response.language, False)
    session.commit()
    return RedirectResponse(answer_path(token), status_code=303, headers=page_headers(False))


# --- unsubscribe ---------------------------------------------------------------------------------------


def _invitation(session: Session, token: str) -> Invitation | None:
    return session.scalars(select(Invitation).where(Invitation.token == token)).first()


def _unsubscribe_language(request: Request, session: Session, invitation: Invitation) -> str:
    response = session.scalars(select(SurveyResponse).where(SurveyResponse.token == invitation.token)).first()
    default = response.language if response else "zh"
    return answer_language(request, default)


@router.get("/u/{token}", response_class=HTMLResponse)
def unsubscribe_form(request: Request, session: WritingSessionDep, token: str) -> Response:
    """Ask to confirm; a GET alone changes nothing (mail scanners fetch links)."""
    invitation = _invitation(session, token)
    if invitation is None:
        return _not_found(request)
    lang = _unsubscribe_language(request, session, invitation)
    return templates.TemplateResponse(
        request,
        "survey_unsubscribe.html",
        {
            "lang": lang,
            "bi": bilingual,
            "title": bilingual("unsubscribe_title"),
            "embed": False,
            "action": unsubscribe_path(token),
        },
        headers=page_headers(False),
    )


@router.post("/u/{token}", response_class=HTMLResponse)
def unsubscribe(request: Request, session: WritingSessionDep, token: str) -> Response:
    """Record the customer's "no" to surveys (once: a repeated POST adds nothing) and confirm it."""
    invitation = _invitation(session, token)
    if invitation is None:
        return _not_found(request)
    customer = session.get(Customer, invitation.customer_id)
    if customer is not None and not consent_refused(customer, "survey"):
        record_consent(session, customer, purpose="survey", granted=False, source=UNSUBSCRIBE_SOURCE)
        session.commit()
    lang = _unsubscribe_language(request, session, invitation)
    return _message_page(
        request, lang=lang, heading=bilingual("unsubscribed"), body=bilingual("unsubscribed_hint")
    )
