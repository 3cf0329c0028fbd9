"""Survey definitions: typed models loaded from YAML or JSON, with errors that name the path.

A survey is a list of questions, each with Chinese and/or English text, shown in order. A question may
carry ``show_if`` conditions on the answers to EARLIER questions (all must hold), so branching can never
loop: "ask what went wrong only when nps <= 6" is ``show_if: {question: nps, op: "<=", value: 6}``.
A free-text question may ``explains`` an earlier scored question (the "why" after an NPS score); the two
then become one feedback item with a rating and a text.

A/B variants are views of the same question bank: each variant picks an order and a subset of the
survey's questions and may reword them, so answers to the same question id stay comparable across
variants. A different question form (stars instead of NPS) is two questions in the bank, one per variant.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

LANGUAGES: tuple[str, ...] = ("zh", "en")
OPERATORS: tuple[str, ...] = ("==", "!=", "<", "<=", ">", ">=", "in")
ORDERING_OPERATORS = frozenset({"<", "<=", ">", ">="})
QUESTION_TYPES: tuple[str, ...] = ("nps", "csat", "ces", "rating", "single", "multiple", "text")
SCORED_TYPES = frozenset({"nps", "csat", "ces", "rating"})
EXAMPLES_DIR = Path(__file__).resolve().parent / "examples"

_ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"
_SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,79}$"

Language = Literal["zh", "en"]
Scalar = int | float | str


class SurveyDefinitionError(ValueError):
    """A survey definition that cannot be accepted; ``problems`` are ``"path: message"`` strings."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid survey definition / 问卷定义有误:\n  " + "\n  ".join(problems))
        self.problems = problems


class _Problems(ValueError):
    """Several problems found by one validator, each as (path relative to the validated object, message)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{path}: {message}" if path else message for path, message in problems))
        self.problems = problems


def _raise_if(problems: list[tuple[str, str]]) -> None:
    if problems:
        raise _Problems(problems)


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" or "\u3400" <= char <= "\u4dbf" for char in text)


class Localized(BaseModel):
    """A text in Chinese and/or English (at least one). A plain string is taken as the language it is in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    zh: str | None = None
    en: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_plain_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"zh": value} if _has_cjk(value) else {"en": value}
        return value

    @field_validator("zh", "en")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return value.strip() or None

    @model_validator(mode="after")
    def _at_least_one(self) -> Localized:
        if self.zh is None and self.en is None:
            raise ValueError("needs a Chinese (zh) or English (en) text")
        return self


def normalize_language(lang: str | None, default: str = "zh") -> str:
    """``"zh-CN"``, ``"zh_Hans"`` → ``"zh"``; ``"en-US"`` → ``"en"``; anything else → ``default``."""
    code = (lang or "").strip().lower()
    for known in LANGUAGES:
        if code == known or code.startswith(known + "-") or code.startswith(known + "_"):
            return known
    return default


def text_for(localized: Localized | None, lang: str | None, *, default: str = "zh") -> str:
    """The text in ``lang`` (``zh-CN`` counts as ``zh``), else in the other language; ``""`` for None."""
    if localized is None:
        return ""
    wanted = normalize_language(lang, default)
    first = localized.zh if wanted == "zh" else localized.en
    return first or localized.zh or localized.en or ""


class Condition(BaseModel):
    """``answer(question) op value``; a missing answer makes every condition false (even ``!=``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    question: str
    op: Literal["==", "!=", "<", "<=", ">", ">=", "in"] = "=="
    value: Scalar | list[Scalar]

    @model_validator(mode="after")
    def _value_shape(self) -> Condition:
        if self.op == "in" and not isinstance(self.value, list):
            raise ValueError("op 'in' needs a list value, e.g. [1, 2, 3]")
        if self.op != "in" and isinstance(self.value, list):
            raise ValueError(f"op {self.op!r} needs a single value; use 'in' for a list")
        if self.op in ORDERING_OPERATORS and not isinstance(self.value, int | float):
            raise ValueError(f"op {self.op!r} needs a number")
        return self


def _conditions(value: Any) -> Any:
    """``show_if`` may be one condition or a list of them (all must hold)."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [value]
    return value


class _QuestionBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_ID_PATTERN)
    text: Localized
    required: bool = False
    show_if: list[Condition] = Field(default_factory=list)

    @field_validator("show_if", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return _conditions(value)


class ScoredQuestion(_QuestionBase):
    """A question answered with a whole number on a fixed scale."""

    low_label: Localized | None = None
    high_label: Localized | None = None

    @property
    def scale(self) -> tuple[int, int]:
        raise NotImplementedError


class NpsQuestion(ScoredQuestion):
    """Net Promoter Score: "how likely are you to recommend us", 0–10."""

    type: Literal["nps"]

    @property
    def scale(self) -> tuple[int, int]:
        return (0, 10)


class CsatQuestion(ScoredQuestion):
    """Customer satisfaction, 1 (very unsatisfied) to 5 (very satisfied)."""

    type: Literal["csat"]

    @property
    def scale(self) -> tuple[int, int]:
        return (1, 5)


class CesQuestion(ScoredQuestion):
    """Customer effort, 1 (very difficult) to 7 (very easy): higher is better."""

    type: Literal["ces"]

    @property
    def scale(self) -> tuple[int, int]:
        return (1, 7)


class RatingQuestion(ScoredQuestion):
    """Stars, 1 to ``stars``."""

    type: Literal["rating"]
    stars: int = Field(5, ge=2, le=10)

    @property
    def scale(self) -> tuple[int, int]:
        return (1, self.stars)


class Choice(BaseModel):
    """One option of a choice question; the id is what is stored and compared in conditions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_ID_PATTERN)
    label: Localized


class _ChoiceQuestion(_QuestionBase):
    choices: list[Choice] = Field(min_length=2)

    @model_validator(mode="after")
    def _unique_choices(self) -> _ChoiceQuestion:
        seen: set[str] = set()
        problems = []
        for index, choice in enumerate(self.choices):
            if choice.id in seen:
                problems.append((f"choices[{index}].id", f"duplicate choice id {choice.id!r}"))
            seen.add(choice.id)
        _raise_if(problems)
        return self

    @property
    def choice_ids(self) -> tuple[str, ...]:
        return tuple(choice.id for choice in self.choices)

    def choice(self, choice_id: str) -> Choice:
        for choice in self.choices:
            if choice.id == choice_id:
                return choice
        raise KeyError(choice_id)


class SingleChoiceQuestion(_ChoiceQuestion):
    """Pick one of the choices."""

    type: Literal["single"]


class MultipleChoiceQuestion(_ChoiceQuestion):
    """Pick any number of the choices, between ``min_selections`` and ``max_selections`` when set."""

    type: Literal["multiple"]
    min_selections: int | None = Field(None, ge=0)
    max_selections: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _selection_bounds(self) -> MultipleChoiceQuestion:
        count = len(self.choices)
        problems = []
        if self.max_selections is not None and self.max_selections > count:
            problems.append(("max_selections", f"{self.max_selections} is more than the {count} choices"))
        if self.min_selections is not None and self.min_selections > count:
            problems.append(("min_selections", f"{self.min_selections} is more than the {count} choices"))
        if (
            self.min_selections is not None
            and self.max_selections is not None
            and self.min_selections > self.max_selections
        ):
            problems.append(("min_selections", "is larger than max_selections"))
        _raise_if(problems)
        return self


class TextQuestion(_QuestionBase):
    """Free text up to ``max_length`` characters; ``explains`` names the earlier score it is the "why" of."""

    type: Literal["text"]
    max_length: int = Field(2000, ge=1, le=20000)
    explains: str | None = None


Question = Annotated[
    NpsQuestion
    | CsatQuestion
    | CesQuestion
    | RatingQuestion
    | SingleChoiceQuestion
    | MultipleChoiceQuestion
    | TextQuestion,
    Field(discriminator="type"),
]
ChoiceQuestion = SingleChoiceQuestion | MultipleChoiceQuestion


class Variant(BaseModel):
    """An A/B variant: an order and subset of the survey's question ids, optional rewording, a weight."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_ID_PATTERN)
    weight: float = Field(1.0, ge=0)
    questions: list[str] | None = None
    texts: dict[str, Localized] = Field(default_factory=dict)
    title: Localized | None = None
    intro: Localized | None = None


class Survey(BaseModel):
    """A survey: texts in Chinese and/or English, questions in order, optional A/B variants."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=_SLUG_PATTERN)
    title: Localized
    intro: Localized | None = None
    thank_you: Localized | None = None
    default_language: Language = "zh"
    questions: list[Question] = Field(min_length=1)
    variants: list[Variant] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_references(self) -> Survey:
        problems = _question_problems(self.questions)
        if not problems:
            problems = _variant_problems(self)
        _raise_if(problems)
        return self

    def question(self, question_id: str) -> Question:
        """The question with this id; raises ``KeyError``."""
        for question in self.questions:
            if question.id == question_id:
                return question
        raise KeyError(question_id)

    def variant(self, variant_id: str) -> Variant:
        """The variant with this id; raises ``KeyError``."""
        for variant in self.variants:
            if variant.id == variant_id:
                return variant
        raise KeyError(variant_id)

    @property
    def variant_weights(self) -> dict[str, float]:
        """``{variant id: weight}`` in definition order, ready for ``abtest.assign_variant``."""
        return {variant.id: variant.weight for variant in self.variants}

    def with_variant(self, variant_id: str | None) -> Survey:
        """The survey as a customer in ``variant_id`` sees it (no variants left); None → unchanged base."""
        if variant_id is None:
            return self
        variant = self.variant(variant_id)
        ids = variant.questions if variant.questions is not None else [q.id for q in self.questions]
        questions = []
        for question_id in ids:
            question = self.question(question_id)
            if question_id in variant.texts:
                question = question.model_copy(update={"text": variant.texts[question_id]})
            questions.append(question)
        return self.model_copy(
            update={
                "questions": questions,
                "variants": [],
                "title": variant.title or self.title,
                "intro": variant.intro or self.intro,
                "metadata": {**self.metadata, "variant": variant.id},
            }
        )


def _question_problems(questions: list[Question]) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    position: dict[str, int] = {}
    for index, question in enumerate(questions):
        if question.id in position:
            problems.append((f"questions[{index}].id", f"duplicate question id {question.id!r}"))
        else:
            position[question.id] = index
    by_id = {question.id: question for question in questions}
    explained: dict[str, str] = {}
    for index, question in enumerate(questions):
        path = f"questions[{index}]"
        for condition in question.show_if:
            message = _condition_problem(condition, index, position, by_id)
            if message:
                problems.append((f"{path}.show_if", message))
        if isinstance(question, TextQuestion) and question.explains is not None:
            target = question.explains
            if target not in position:
                problems.append((f"{path}.explains", f"unknown question {target!r}"))
            elif position[target] >= index:
                problems.append((f"{path}.explains", f"question {target!r} must come before this one"))
            elif not isinstance(by_id[target], ScoredQuestion):
                problems.append((f"{path}.explains", f"question {target!r} is not a scored question"))
            elif target in explained:
                problems.append(
                    (f"{path}.explains", f"question {target!r} is already explained by {explained[target]!r}")
                )
            else:
                explained[target] = question.id
    return problems


def _condition_problem(
    condition: Condition, index: int, position: dict[str, int], by_id: dict[str, Question]
) -> str | None:
    """Why ``condition`` on question number ``index`` is wrong, or None when it is fine."""
    target = condition.question
    if target not in position:
        return f"unknown question {target!r}"
    if position[target] >= index:
        return f"question {target!r} does not come before this one; conditions may only use earlier answers"
    referenced = by_id[target]
    values = condition.value if isinstance(condition.value, list) else [condition.value]
    if isinstance(referenced, TextQuestion):
        return f"conditions cannot use the free-text question {target!r}"
    if isinstance(referenced, ScoredQuestion):
        low, high = referenced.scale
        for value in values:
            if isinstance(value, str | bool):
                return f"question {target!r} is scored {low}–{high}; compare it with numbers, not {value!r}"
        return None
    if condition.op in ORDERING_OPERATORS:
        return f"op {condition.op!r} needs a scored question; {target!r} is a choice question"
    known = referenced.choice_ids
    for value in values:
        if value not in known:
            return f"{value!r} is not a choice of {target!r} (choices: {', '.join(known)})"
    return None


def _variant_problems(survey: Survey) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    known = {question.id for question in survey.questions}
    seen: set[str] = set()
    for index, variant in enumerate(survey.variants):
        path = f"variants[{index}]"
        if variant.id in seen:
            problems.append((f"{path}.id", f"duplicate variant id {variant.id!r}"))
        seen.add(variant.id)
        for question_id in variant.texts:
            if question_id not in known:
                problems.append((f"{path}.texts", f"unknown question {question_id!r}"))
        if variant.questions is None:
            continue
        if not variant.questions:
            problems.append((f"{path}.questions", "needs at least one question"))
        order: dict[str, int] = {}
        for position, question_id in enumerate(variant.questions):
            if question_id not in known:
                problems.append((f"{path}.questions[{position}]", f"unknown question {question_id!r}"))
            elif question_id in order:
                problems.append((f"{path}.questions[{position}]", f"{question_id!r} is listed twice"))
            order.setdefault(question_id, position)
        for question_id, position in order.items():
            if question_id not in known:
                continue
            question = survey.question(question_id)
            needed = [condition.question for condition in question.show_if]
            if isinstance(question, TextQuestion) and question.explains:
                needed.append(question.explains)
            for earlier in needed:
                if order.get(earlier, len(variant.questions)) >= position:
                    problems.append(
                        (
                            f"{path}.questions",
                            f"{question_id!r} depends on {earlier!r}, which must be listed "
                            "before it in this variant",
                        )
                    )
    if survey.variants and not any(variant.weight > 0 for variant in survey.variants):
        problems.append(("variants", "at least one variant needs a weight above 0"))
    return problems


def _format_location(location: tuple[int | str, ...]) -> str:
    """``("questions", 2, "nps", "show_if", 0)`` → ``questions[2].show_if[0]`` (union tags dropped)."""
    path = ""
    previous: int | str | None = None
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(previous, int) and part in QUESTION_TYPES:
            pass  # the discriminator tag pydantic inserts after a list index
        else:
            path += f".{part}" if path else str(part)
        previous = part
    return path


def _join(prefix: str, relative: str) -> str:
    if not relative:
        return prefix
    if not prefix:
        return relative
    return prefix + relative if relative.startswith("[") else f"{prefix}.{relative}"


def _problems_from(error: ValidationError) -> list[str]:
    problems = []
    for detail in error.errors():
        prefix = _format_location(detail["loc"])
        cause = (detail.get("ctx") or {}).get("error")
        if isinstance(cause, _Problems):
            problems.extend(f"{_join(prefix, path)}: {message}" for path, message in cause.problems)
            continue
        message = detail["msg"].removeprefix("Value error, ")
        problems.append(f"{prefix}: {message}" if prefix else message)
    return problems


def load_survey(source: str | bytes | Mapping[str, Any]) -> Survey:
    """A survey from YAML or JSON text or a parsed mapping; raises ``SurveyDefinitionError``."""
    if isinstance(source, bytes):
        source = source.decode("utf-8")
    if isinstance(source, str):
        try:
            source = yaml.safe_load(source)
        except yaml.YAMLError as exc:
            raise SurveyDefinitionError([f"not valid YAML or JSON: {exc}"]) from None
    if not isinstance(source, Mapping):
        raise SurveyDefinitionError(["a survey definition must be a mapping (id, title, questions …)"])
    try:
        return Survey.model_validate(dict(source))
    except ValidationError as exc:
        raise SurveyDefinitionError(_problems_from(exc)) from None


def example_surveys() -> dict[str, Survey]:
    """The bundled example surveys (``ask/examples/*.yaml``) by file stem."""
    return {
        path.stem: load_survey(path.read_text(encoding="utf-8"))
        for path in sorted(EXAMPLES_DIR.glob("*.yaml"))
    }
