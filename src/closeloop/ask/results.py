"""A survey's results from the store: scores per question (NPS, CSAT, CES, stars) by period, answer source
and customer segment, response rates per invitation rule, and the A/B comparison of its variants."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime
from statistics import fmean
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from closeloop.ask.abtest import compare_variants
from closeloop.ask.definitions import ScoredQuestion, Survey
from closeloop.ask.scores import ces, csat, nps, period_key, response_rate, scores_by
from closeloop.store.models import Customer, Invitation, SurveyResponse

GroupBy = Literal["period", "source", "tier", "region", "variant"]
METRICS: dict[str, Callable[[list[float]], Any]] = {"nps": nps, "csat": csat, "ces": ces}


def _json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _json(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    return value


def _rating_summary(values: list[float]) -> dict[str, Any]:
    return {"value": round(fmean(values), 3) if values else None, "responses": len(values)}


def _rows(
    session: Session, survey_id: str, since: datetime | None, until: datetime | None
) -> list[dict[str, Any]]:
    stmt = (
        select(SurveyResponse, Customer.tier, Customer.region)
        .outerjoin(Customer, Customer.id == SurveyResponse.customer_id)
        .where(SurveyResponse.survey_id == survey_id)
    )
    if since:
        stmt = stmt.where(SurveyResponse.started_at >= since)
    if until:
        stmt = stmt.where(SurveyResponse.started_at < until)
    return [
        {
            "answers": response.answers or {},
            "status": response.status,
            "created_at": response.completed_at or response.started_at,
            "source": response.source,
            "variant": response.variant,
            "tier": tier,
            "region": region,
        }
        for response, tier, region in session.execute(stmt)
    ]


def survey_results(
    session: Session,
    survey: Survey,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    group_by: GroupBy | None = None,
    period: Literal["day", "week", "month", "quarter", "year"] = "month",
    timezone: str = "Asia/Shanghai",
) -> dict[str, Any]:
    """Scores of every scored question over completed responses (overall and grouped), with counts."""
    rows = _rows(session, survey.id, since, until)
    completed = [row for row in rows if row["status"] == "completed"]
    key: Any = period_key(period=period, timezone=timezone) if group_by == "period" else group_by
    questions: dict[str, Any] = {}
    for question in survey.questions:
        if not isinstance(question, ScoredQuestion):
            continue
        scored = [
            {**row, "rating": row["answers"][question.id]}
            for row in completed
            if isinstance(row["answers"].get(question.id), int | float)
        ]
        values = [float(row["rating"]) for row in scored]
        entry: dict[str, Any] = {"type": question.type}
        if question.type in METRICS:
            entry["overall"] = _json(METRICS[question.type](values))
            if key:
                entry["groups"] = _json(scores_by(scored, key, question.type))  # type: ignore[arg-type]
        else:
            entry["overall"] = _rating_summary(values)
            if key:
                groups: dict[str, list[float]] = {}
                for row in scored:
                    name = key(row) if callable(key) else row.get(key)
                    groups.setdefault(str(name), []).append(float(row["rating"]))
                entry["groups"] = {name: _rating_summary(v) for name, v in sorted(groups.items())}
        questions[question.id] = entry
    return {
        "survey_id": survey.id,
        "responses": {"started": len(rows), "completed": len(completed)},
        "completion_rate": _json(response_rate(len(completed), len(rows))),
        "questions": questions,
        "group_by": group_by,
    }


def rule_response_rates(session: Session, survey_id: str) -> dict[str, Any]:
    """Per invitation rule: sent, answered, response rate, and skips by reason."""
    found: dict[str, dict[str, Any]] = {}
    for invitation in session.scalars(select(Invitation).where(Invitation.survey_id == survey_id)):
        entry = found.setdefault(invitation.rule_id, {"sent": 0, "answered": 0, "skipped": {}, "failing": 0})
        if invitation.sent_at is not None:
            entry["sent"] += 1
            entry["answered"] += invitation.answered_at is not None
        elif invitation.status == "skipped":
            reason = invitation.skipped_reason or "?"
            entry["skipped"][reason] = entry["skipped"].get(reason, 0) + 1
        elif invitation.last_error:
            entry["failing"] += 1
    for entry in found.values():
        entry["response_rate"] = _json(response_rate(entry["answered"], entry["sent"]))
    return found


def experiment(
    session: Session, survey: Survey, *, alpha: float = 0.05, min_trials: int = 100
) -> dict[str, Any]:
    """The A/B test of the survey's variants: response rate (answered / invited) and completion rate
    (completed / started) per variant with 95% intervals, and whether a winner is clear yet."""
    # The survey's own variants, and any send-time arms its invitation rules assigned.
    variants = [v.id for v in survey.variants]
    for (name,) in session.execute(
        select(Invitation.variant)
        .where(Invitation.survey_id == survey.id, Invitation.variant.is_not(None))
        .distinct()
    ):
        if name not in variants:
            variants.append(name)
    if not variants:
        return {"variants": [], "response_rate": None, "completion_rate": None}
    invited: Mapping[str, list[int]] = {v: [0, 0] for v in variants}
    for _sent_at, answered_at, variant in session.execute(
        select(Invitation.sent_at, Invitation.answered_at, Invitation.variant).where(
            Invitation.survey_id == survey.id, Invitation.sent_at.is_not(None)
        )
    ):
        if variant in invited:
            invited[variant][1] += 1
            invited[variant][0] += answered_at is not None
    started: Mapping[str, list[int]] = {v: [0, 0] for v in variants}
    for status, variant in session.execute(
        select(SurveyResponse.status, SurveyResponse.variant).where(SurveyResponse.survey_id == survey.id)
    ):
        if variant in started:
            started[variant][1] += 1
            started[variant][0] += status == "completed"

    def decide(counts: Mapping[str, list[int]]) -> dict[str, Any] | None:
        if not any(trials for _, trials in counts.values()):
            return None
        comparison = compare_variants(
            {v: (s, t) for v, (s, t) in counts.items()}, alpha=alpha, min_trials=min_trials
        )
        return _json(comparison)

    return {
        "variants": variants,
        "response_rate": decide(invited),
        "completion_rate": decide(started),
    }
