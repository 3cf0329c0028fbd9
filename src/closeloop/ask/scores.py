"""Survey scores: NPS, CSAT, CES and response rate, overall and per group (survey, period, channel, segment).

Conventions (all shares are percentages, 0–100; ``value`` is None when there are no responses):

- NPS, 0–10 scale: promoters score 9–10, passives 7–8, detractors 0–6.
  NPS = % promoters − % detractors, from −100 to 100.
- CSAT, 1–5 scale: "satisfied" is 4 or 5. CSAT = % satisfied; the mean score is reported too.
- CES, 1–7 scale, 1 = very difficult … 7 = very easy (the "the company made it easy for me" agreement
  form, so higher is better). CES = mean score; "easy" is 5–7 and its share is reported too.
- Response rate = responses / invitations sent, as a percentage.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

Metric = Literal["nps", "csat", "ces"]
SCALES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


@dataclass(frozen=True, slots=True)
class NpsScore:
    """Net Promoter Score with the counts behind it."""

    value: float | None
    responses: int
    promoters: int
    passives: int
    detractors: int


@dataclass(frozen=True, slots=True)
class CsatScore:
    """CSAT: % of responses scoring 4–5, and the mean score."""

    value: float | None
    mean: float | None
    responses: int
    satisfied: int


@dataclass(frozen=True, slots=True)
class CesScore:
    """CES: mean score on 1–7 (higher is easier), and the % of "easy" responses (5–7)."""

    value: float | None
    easy_share: float | None
    responses: int
    easy: int


@dataclass(frozen=True, slots=True)
class ResponseRate:
    """Responses as a % of the invitations sent."""

    value: float | None
    responses: int
    invitations: int


Score = NpsScore | CsatScore | CesScore


def _checked(scores: Iterable[float | int | None], metric: str) -> list[float]:
    """The given scores as floats (None skipped); ``ValueError`` for anything off the metric's scale."""
    low, high = SCALES[metric]
    values = []
    for score in scores:
        if score is None:
            continue
        if isinstance(score, bool) or not isinstance(score, int | float) or math.isnan(score):
            raise ValueError(f"{metric}: not a score: {score!r}")
        if not low <= score <= high:
            raise ValueError(f"{metric}: {score!r} is off the {low}–{high} scale")
        values.append(float(score))
    return values


def _percent(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


def nps(scores: Iterable[float | int | None]) -> NpsScore:
    """NPS of 0–10 scores: % promoters (9–10) − % detractors (0–6)."""
    values = _checked(scores, "nps")
    promoters = sum(1 for value in values if value >= 9)
    detractors = sum(1 for value in values if value <= 6)
    passives = len(values) - promoters - detractors
    value = None if not values else 100.0 * (promoters - detractors) / len(values)
    return NpsScore(value, len(values), promoters, passives, detractors)


def csat(scores: Iterable[float | int | None]) -> CsatScore:
    """CSAT of 1–5 scores: % scoring 4 or 5, plus the mean."""
    values = _checked(scores, "csat")
    satisfied = sum(1 for value in values if value >= 4)
    mean = sum(values) / len(values) if values else None
    return CsatScore(_percent(satisfied, len(values)), mean, len(values), satisfied)


def ces(scores: Iterable[float | int | None]) -> CesScore:
    """CES of 1–7 scores (7 = very easy): the mean, plus the % scoring 5–7."""
    values = _checked(scores, "ces")
    easy = sum(1 for value in values if value >= 5)
    mean = sum(values) / len(values) if values else None
    return CesScore(mean, _percent(easy, len(values)), len(values), easy)


SCORERS: dict[str, Callable[[Iterable[float | int | None]], Score]] = {"nps": nps, "csat": csat, "ces": ces}


def response_rate(responses: int, invitations: int) -> ResponseRate:
    """Responses / invitations sent as a %, None when nothing was sent."""
    if responses < 0 or invitations < 0 or responses > invitations:
        raise ValueError(f"cannot have {responses} responses to {invitations} invitations")
    return ResponseRate(_percent(responses, invitations), responses, invitations)


GroupKey = str | Callable[[Mapping[str, Any]], Hashable]


def _key_function(key: GroupKey) -> Callable[[Mapping[str, Any]], Hashable]:
    if callable(key):
        return key
    return lambda row: row.get(key)


def _sorted_groups(groups: dict[Hashable, Any]) -> dict[Hashable, Any]:
    return dict(sorted(groups.items(), key=lambda item: (item[0] is None, str(item[0]))))


def scores_by(
    rows: Iterable[Mapping[str, Any]], key: GroupKey, metric: Metric, *, rating: str = "rating"
) -> dict[Hashable, Score]:
    """``{group: score}`` for answer rows (mappings with a ``rating``), grouped by a field name or a function.

    Pass only the rows of one metric (e.g. the items whose ``question_type`` is ``"nps"``). Groups are
    sorted by their text, None last. ``key=period_key("created_at", "month")`` groups by month.
    """
    group_of = _key_function(key)
    grouped: dict[Hashable, list[Any]] = {}
    for row in rows:
        grouped.setdefault(group_of(row), []).append(row.get(rating))
    scorer = SCORERS[metric]
    return _sorted_groups({group: scorer(values) for group, values in grouped.items()})


def response_rates_by(
    invitations: Iterable[Mapping[str, Any]],
    key: GroupKey,
    *,
    sent: str = "sent_at",
    answered: str = "answered_at",
) -> dict[Hashable, ResponseRate]:
    """``{group: response rate}`` for invitation rows; ``key="rule_id"`` gives the rate per invitation rule.

    Only rows with a ``sent_at`` count as invitations; those with an ``answered_at`` count as responses.
    """
    group_of = _key_function(key)
    counts: dict[Hashable, list[int]] = {}
    for row in invitations:
        if row.get(sent) is None:
            continue
        tally = counts.setdefault(group_of(row), [0, 0])
        tally[1] += 1
        tally[0] += row.get(answered) is not None
    return _sorted_groups({group: response_rate(*tally) for group, tally in counts.items()})


def period_key(
    field: str = "created_at",
    period: Literal["day", "week", "month", "quarter", "year"] = "month",
    timezone: str = "Asia/Shanghai",
) -> Callable[[Mapping[str, Any]], str | None]:
    """A ``key`` for ``scores_by`` naming the local calendar period of ``row[field]`` (naive times are UTC).

    ``"2024-03-05"``, ``"2024-W10"`` (ISO week), ``"2024-03"``, ``"2024-Q1"``, ``"2024"``.
    """
    zone = ZoneInfo(timezone)

    def key(row: Mapping[str, Any]) -> str | None:
        moment = row.get(field)
        if not isinstance(moment, datetime):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        local = moment.astimezone(zone)
        if period == "day":
            return local.strftime("%Y-%m-%d")
        if period == "week":
            year, week, _ = local.isocalendar()
            return f"{year}-W{week:02d}"
        if period == "month":
            return local.strftime("%Y-%m")
        if period == "quarter":
            return f"{local.year}-Q{(local.month - 1) // 3 + 1}"
        return str(local.year)

    return key
