"""Answers to a survey: branching, validation, completeness, and the feedback items they become.

Answers come in as a mapping ``{question id: raw value}`` from a web form (strings), a JSON body
(numbers, lists) or an email link (the first score). One pass over the questions in order applies the
branching: a question is visible when all its ``show_if`` conditions hold on the clean answers given so
far; answers to hidden questions are dropped, and only visible questions can be required.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from closeloop.ask.definitions import (
    Condition,
    MultipleChoiceQuestion,
    Question,
    ScoredQuestion,
    SingleChoiceQuestion,
    Survey,
    TextQuestion,
    normalize_language,
    text_for,
)

AnswerValue = int | str | list[str]
FEEDBACK_CHANNEL = "survey"
FEEDBACK_KIND = "survey_answer"


class AnswerProblem(TypedDict):
    """What is wrong with the answer to one question, in English and Chinese."""

    question: str
    code: str
    message: str
    message_zh: str


class AnswerError(ValueError):
    """Answers that cannot be accepted; ``problems`` name each question and what is wrong with it."""

    def __init__(self, problems: list[AnswerProblem]) -> None:
        super().__init__("; ".join(f"{p['question']}: {p['message']}" for p in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class CleanAnswers:
    """Validated answers: only visible, answered questions, in survey order, with clean values.

    Scores are ``int``, single choices a choice id, multiple choices a list of choice ids, texts ``str``.
    """

    values: dict[str, AnswerValue]
    visible: tuple[str, ...]
    missing_required: tuple[str, ...]

    @property
    def complete(self) -> bool:
        """Every visible required question has an answer."""
        return not self.missing_required


# code → (English, Chinese); ``{…}`` fields are filled from the question.
_MESSAGES: dict[str, tuple[str, str]] = {
    "required": ("an answer is required", "此题必答"),
    "unknown_question": ("no such question in this survey", "问卷中没有这道题"),
    "not_a_number": ("must be a whole number from {low} to {high}", "请填写 {low} 到 {high} 之间的整数"),
    "out_of_range": ("must be from {low} to {high}", "分数应在 {low} 到 {high} 之间"),
    "unknown_choice": ("{value!r} is not one of the choices", "{value!r} 不是可选项"),
    "too_few": ("choose at least {count}", "请至少选择 {count} 项"),
    "too_many": ("choose at most {count}", "最多选择 {count} 项"),
    "not_text": ("must be text", "请填写文字"),
    "too_long": ("is {length} characters, at most {count} allowed", "共 {length} 字，最多 {count} 字"),
    "not_scored": ("this question does not take a score", "这道题不是评分题"),
    "not_first": (
        "only a question shown before any answer can be answered from a link",
        "只有无需前置答案即显示的题目可以通过链接直接作答",
    ),
}


class _Invalid(Exception):
    def __init__(self, code: str, **fields: Any) -> None:
        super().__init__(code)
        self.code = code
        self.fields = fields


def _problem(question_id: str, code: str, **fields: Any) -> AnswerProblem:
    english, chinese = _MESSAGES[code]
    return AnswerProblem(
        question=question_id, code=code, message=english.format(**fields), message_zh=chinese.format(**fields)
    )


def _is_empty(raw: Any) -> bool:
    if raw is None:
        return True
    if isinstance(raw, str):
        return not raw.strip()
    if isinstance(raw, list | tuple):
        return not any(not _is_empty(item) for item in raw)
    return False


def _clean_score(question: ScoredQuestion, raw: Any) -> int:
    low, high = question.scale
    if isinstance(raw, bool):
        raise _Invalid("not_a_number", low=low, high=high)
    if isinstance(raw, str):
        text = raw.strip()
        if not text.lstrip("-").isdigit() or not text.isascii():
            raise _Invalid("not_a_number", low=low, high=high)
        raw = int(text)
    if isinstance(raw, float):
        if not raw.is_integer():
            raise _Invalid("not_a_number", low=low, high=high)
        raw = int(raw)
    if not isinstance(raw, int):
        raise _Invalid("not_a_number", low=low, high=high)
    if not low <= raw <= high:
        raise _Invalid("out_of_range", low=low, high=high)
    return raw


def _clean_single(question: SingleChoiceQuestion | MultipleChoiceQuestion, raw: Any) -> str:
    value = str(raw).strip() if isinstance(raw, str | int) and not isinstance(raw, bool) else None
    if value is None or value not in question.choice_ids:
        raise _Invalid("unknown_choice", value=raw)
    return value


def _clean_multiple(question: MultipleChoiceQuestion, raw: Any) -> list[str]:
    items = [raw] if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple):
        raise _Invalid("unknown_choice", value=raw)
    chosen: list[str] = []
    for item in items:
        if _is_empty(item):
            continue
        value = _clean_single(question, item)
        if value not in chosen:
            chosen.append(value)
    if question.min_selections is not None and len(chosen) < question.min_selections:
        raise _Invalid("too_few", count=question.min_selections)
    if question.max_selections is not None and len(chosen) > question.max_selections:
        raise _Invalid("too_many", count=question.max_selections)
    return [choice for choice in question.choice_ids if choice in chosen]  # definition order


def _clean_text(question: TextQuestion, raw: Any) -> str:
    if not isinstance(raw, str) or "\x00" in raw:
        raise _Invalid("not_text")
    text = raw.strip()
    if len(text) > question.max_length:
        raise _Invalid("too_long", length=len(text), count=question.max_length)
    return text


def _clean_value(question: Question, raw: Any) -> AnswerValue:
    if isinstance(question, ScoredQuestion):
        return _clean_score(question, raw)
    if isinstance(question, SingleChoiceQuestion):
        return _clean_single(question, raw)
    if isinstance(question, MultipleChoiceQuestion):
        return _clean_multiple(question, raw)
    return _clean_text(question, raw)


def condition_holds(condition: Condition, answer: AnswerValue | None) -> bool:
    """Whether ``condition`` holds for a clean answer; a missing answer never satisfies a condition.

    For a multiple-choice answer ``== x`` means "x was chosen", ``!= x`` "x was not chosen" and
    ``in [x, y]`` "x or y was chosen".
    """
    if answer is None:
        return False
    expected = condition.value
    if isinstance(answer, list):
        if condition.op == "==":
            return expected in answer
        if condition.op == "!=":
            return expected not in answer
        if condition.op == "in":
            return any(choice in expected for choice in answer)  # type: ignore[operator]
        return False
    if condition.op == "==":
        return answer == expected
    if condition.op == "!=":
        return answer != expected
    if condition.op == "in":
        return answer in expected  # type: ignore[operator]
    if not isinstance(answer, int) or not isinstance(expected, int | float):
        return False
    if condition.op == "<":
        return answer < expected
    if condition.op == "<=":
        return answer <= expected
    if condition.op == ">":
        return answer > expected
    return answer >= expected


def _walk(survey: Survey, answers: Mapping[str, Any]) -> tuple[CleanAnswers, list[AnswerProblem]]:
    """One pass in question order: visibility, clean values, missing required answers, problems."""
    known = {question.id for question in survey.questions}
    problems = [_problem(str(key), "unknown_question") for key in answers if key not in known]
    values: dict[str, AnswerValue] = {}
    visible: list[str] = []
    missing: list[str] = []
    for question in survey.questions:
        if not all(condition_holds(c, values.get(c.question)) for c in question.show_if):
            continue
        visible.append(question.id)
        raw = answers.get(question.id)
        if _is_empty(raw):
            if question.required:
                missing.append(question.id)
            continue
        try:
            values[question.id] = _clean_value(question, raw)
        except _Invalid as invalid:
            problems.append(_problem(question.id, invalid.code, **invalid.fields))
    return CleanAnswers(values=values, visible=tuple(visible), missing_required=tuple(missing)), problems


def visible_questions(survey: Survey, answers: Mapping[str, Any]) -> list[Question]:
    """The questions to show given the answers so far (invalid answers count as not given)."""
    clean, _ = _walk(survey, answers)
    shown = set(clean.visible)
    return [question for question in survey.questions if question.id in shown]


def validate_answers(survey: Survey, answers: Mapping[str, Any], *, partial: bool = False) -> CleanAnswers:
    """Clean answers, or ``AnswerError`` listing every problem.

    ``partial=True`` accepts unanswered required questions (a resumable, half-filled form); check
    ``CleanAnswers.complete`` to know whether the response is finished. Answers to questions hidden by
    branching are dropped; answers to unknown questions are an error.
    """
    clean, problems = _walk(survey, answers)
    if not partial:
        problems += [_problem(question_id, "required") for question_id in clean.missing_required]
    if problems:
        raise AnswerError(problems)
    return clean


def is_complete(survey: Survey, answers: Mapping[str, Any]) -> bool:
    """True when the answers are valid and every visible required question is answered."""
    clean, problems = _walk(survey, answers)
    return not problems and clean.complete


def parse_one_click(survey: Survey, question_id: str, raw_score: Any) -> CleanAnswers:
    """The partial answers an email link carrying a first score stands for (``?q=nps&score=9``).

    The question must be a scored question that is shown before anything is answered; raises
    ``AnswerError`` otherwise or when the score is off the scale.
    """
    try:
        question = survey.question(question_id)
    except KeyError:
        raise AnswerError([_problem(question_id, "unknown_question")]) from None
    if not isinstance(question, ScoredQuestion):
        raise AnswerError([_problem(question_id, "not_scored")])
    if question.show_if:
        raise AnswerError([_problem(question_id, "not_first")])
    return validate_answers(survey, {question_id: raw_score}, partial=True)


def _choice_summary(survey: Survey, clean: CleanAnswers, lang: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``({question id: choice id(s)}, {question id: label(s)})`` for the choice answers given."""
    ids: dict[str, Any] = {}
    labels: dict[str, Any] = {}
    for question in survey.questions:
        value = clean.values.get(question.id)
        if value is None or not isinstance(question, SingleChoiceQuestion | MultipleChoiceQuestion):
            continue
        ids[question.id] = value
        chosen = value if isinstance(value, list) else [value]
        names = [text_for(question.choice(choice).label, lang) for choice in chosen]
        labels[question.id] = names if isinstance(value, list) else names[0]
    return ids, labels


def to_feedback(
    survey: Survey,
    answers: CleanAnswers | Mapping[str, Any],
    lang: str,
    *,
    response_id: str | None = None,
    variant: str | None = None,
    answered_at: datetime | None = None,
) -> list[dict[str, Any]]:
    """The feedback items a response becomes, as keyword arguments for ``collect.records.FeedbackRecord``.

    One item per answered scored question (rating and its scale; text = the answer to the free-text
    question that ``explains`` it, else the question's own wording with ``metadata.text_is_question``
    true), and one item per other answered free-text question. Choice answers ride along in every
    item's metadata (``choices`` by id, ``choice_labels`` in ``lang``). The caller adds ``customer``
    (and ``product``/``order_id`` when the invitation knows them): ``FeedbackRecord(**item, customer=…)``.
    With a ``response_id`` each item gets the stable ``external_id`` ``survey:<survey>:<response>:<question>``
    so a re-submitted response updates rather than duplicates.
    """
    clean = answers if isinstance(answers, CleanAnswers) else validate_answers(survey, answers, partial=True)
    language = normalize_language(lang, survey.default_language)
    choices, choice_labels = _choice_summary(survey, clean, language)
    why_for = {
        question.explains: question.id
        for question in survey.questions
        if isinstance(question, TextQuestion) and question.explains and question.id in clean.values
    }
    used_as_why: set[str] = set()
    items: list[dict[str, Any]] = []
    for question in survey.questions:
        value = clean.values.get(question.id)
        if value is None:
            continue
        metadata: dict[str, Any] = {
            "survey_id": survey.id,
            "response_id": response_id,
            "variant": variant or survey.metadata.get("variant"),
            "question_id": question.id,
            "question_type": question.type,
            "question_text": text_for(question.text, language),
            "choices": dict(choices),
            "choice_labels": dict(choice_labels),
        }
        if isinstance(question, ScoredQuestion):
            why_id = why_for.get(question.id)
            if why_id is not None:
                used_as_why.add(why_id)
            low, high = question.scale
            metadata.update(why_question_id=why_id, text_is_question=why_id is None)
            text = str(clean.values[why_id]) if why_id else metadata["question_text"]
            items.append(
                _item(
                    survey,
                    question.id,
                    text,
                    language,
                    response_id,
                    answered_at,
                    metadata,
                    rating=float(value),
                    rating_scale=(float(low), float(high)),
                )
            )
        elif isinstance(question, TextQuestion):
            items.append(_item(survey, question.id, str(value), language, response_id, answered_at, metadata))
    return [item for item in items if item["metadata"]["question_id"] not in used_as_why]


def _item(
    survey: Survey,
    question_id: str,
    text: str,
    language: str,
    response_id: str | None,
    answered_at: datetime | None,
    metadata: dict[str, Any],
    *,
    rating: float | None = None,
    rating_scale: tuple[float, float] | None = None,
) -> dict[str, Any]:
    return {
        "text": text,
        "channel": FEEDBACK_CHANNEL,
        "kind": FEEDBACK_KIND,
        "direction": "direct",
        "external_id": f"survey:{survey.id}:{response_id}:{question_id}" if response_id else None,
        "rating": rating,
        "rating_scale": rating_scale,
        "language": language,
        "created_at": answered_at,
        "metadata": metadata,
    }
