"""SLA clocks: when a case's first response and resolution are due, and which targets it has breached.

Decided here once:
- An ``Sla`` has two targets, both optional: ``first_response`` (e.g. ``"4h"``) and ``resolve`` (``"3d"``).
- Without business hours the clock runs 24×7. With ``BusinessHours`` (e.g. 09:00–18:00 Mon–Fri in
  Asia/Shanghai, public holidays off, make-up working days 调休 on) it runs only inside them: a case
  created on Friday 17:00 with a 4h first-response target is due Monday 12:00.
- Under business hours a target counts working time: each whole day of it is one working day (the
  calendar's length, 9 h for 09:00–18:00), the rest is working hours. So ``2d`` is due two working days
  later at the same time of day, ``4h`` after four working hours, and ``36h`` (= 1 day 12 h) after
  9 + 12 working hours: write targets as working days and hours.
- Time spent *waiting on the customer* does not count towards resolution; the first-response clock
  never pauses (the first reply is what usually puts a case into waiting). Two equivalent ways to apply
  it: pass the finished and open waiting periods to ``due_times(..., waiting=...)``, or keep the stored
  due time and call ``extend_for_pause(due, paused_at, resumed_at)`` when the case leaves waiting.
  A reopened case can be treated the same way (the resolved period as a pause).
- ``breaches(now, case)`` compares stored due times with ``first_responded_at`` / ``resolved_at``. A
  target met late stays a breach (``met_at`` set); while a case waits on the customer (``waiting_since``
  set) its resolution clock is stopped, so it cannot newly breach.
- Naive datetimes are taken as UTC; every datetime returned is timezone-aware UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from closeloop.ask.schedule import known_timezone, parse_duration

DEFAULT_TIMEZONE = "Asia/Shanghai"
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
BreachKind = Literal["first_response", "resolve"]  # the names cases.detect_breaches uses
Interval = tuple[datetime, datetime | None]

# A business calendar with no working day for this long is a mistake, not a reason to loop forever.
_MAX_DAYS_AHEAD = 3 * 366


def _duration(value: Any) -> Any:
    """``"4h"``, ``"1d12h"`` → timedelta; ISO 8601 (``"PT4H"``), numbers and timedeltas pass through."""
    if isinstance(value, str) and not value.strip().upper().startswith("P"):
        return parse_duration(value)
    return value


class Sla(BaseModel):
    """Response-time targets: first response and resolution, each optional (None: no target)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    first_response: timedelta | None = None
    resolve: timedelta | None = None

    @field_validator("first_response", "resolve", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        return _duration(value)

    @field_validator("first_response", "resolve")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("must be a positive duration, e.g. 4h or 3d")
        return value

    @model_validator(mode="after")
    def _resolve_after_first_response(self) -> Sla:
        if self.first_response and self.resolve and self.resolve < self.first_response:
            raise ValueError("resolve must not be shorter than first_response")
        return self


def _clock_time(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return time.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"not a time of day: {value!r} (use e.g. 09:00)") from None
    return value


def _weekday_set(value: Any) -> Any:
    """``"mon-fri"`` or ``["mon", "tue"]`` or ``[0, 1]`` → weekday numbers (Monday = 0)."""
    if isinstance(value, str):
        if "-" in value:
            first, last = (WEEKDAYS.index(part.strip().lower()[:3]) for part in value.split("-", 1))
            return list(range(first, last + 1))
        value = [value]
    if isinstance(value, list | tuple | set | frozenset):
        return [WEEKDAYS.index(day.strip().lower()[:3]) if isinstance(day, str) else day for day in value]
    return value


class BusinessHours(BaseModel):
    """Working hours in one time zone: the SLA clock runs only inside them.

    ``holidays`` are dates off even on a working weekday; ``workdays`` are extra working dates (the
    weekend make-up days, 调休, that Chinese public holidays bring).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: time = time(9, 0)
    end: time = time(18, 0)
    days: frozenset[int] = Field(default=frozenset(range(5)))
    timezone: str = DEFAULT_TIMEZONE
    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    @field_validator("start", "end", mode="before")
    @classmethod
    def _parse_time(cls, value: Any) -> Any:
        return _clock_time(value)

    @field_validator("days", mode="before")
    @classmethod
    def _parse_days(cls, value: Any) -> Any:
        try:
            return _weekday_set(value)
        except ValueError:
            raise ValueError(f"not weekdays: {value!r} (use e.g. mon-fri or [mon, sat])") from None

    @field_validator("days")
    @classmethod
    def _valid_days(cls, value: frozenset[int]) -> frozenset[int]:
        if any(day not in range(7) for day in value):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_timezone(value)

    @model_validator(mode="after")
    def _has_working_time(self) -> BusinessHours:
        if self.end <= self.start:
            raise ValueError("end must be after start (overnight shifts are not supported)")
        if not self.days and not self.workdays:
            raise ValueError("needs at least one working day")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_working_day(self, day: date) -> bool:
        """True when ``day`` (a local date) has working hours."""
        if day in self.workdays:
            return True
        return day.weekday() in self.days and day not in self.holidays


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _running_windows(
    start: datetime, hours: BusinessHours | None
) -> Iterator[tuple[datetime, datetime | None]]:
    """The spans (UTC) from ``start`` on during which the clock runs; an end of None is open-ended."""
    if hours is None:
        yield (start, None)
        return
    zone = hours.zone
    day = start.astimezone(zone).date()
    for _ in range(_MAX_DAYS_AHEAD):
        if hours.is_working_day(day):
            opens = datetime.combine(day, hours.start, tzinfo=zone).astimezone(UTC)
            closes = datetime.combine(day, hours.end, tzinfo=zone).astimezone(UTC)
            if closes > start:
                yield (max(opens, start), closes)
        day += timedelta(days=1)
    raise ValueError(f"no working hours within {_MAX_DAYS_AHEAD} days; check the business calendar")


def _without_pauses(
    windows: Iterable[tuple[datetime, datetime | None]], pauses: list[tuple[datetime, datetime | None]]
) -> Iterator[tuple[datetime, datetime | None]]:
    """``windows`` minus the (sorted, UTC) pause intervals; an open pause stops the clock for good."""
    for window_start, window_end in windows:
        current = window_start
        for pause_start, pause_end in pauses:
            if pause_end is not None and pause_end <= current:
                continue
            if window_end is not None and pause_start >= window_end:
                break
            if pause_start > current:
                yield (current, pause_start)
            if pause_end is None:
                return
            current = max(current, pause_end)
        if window_end is None or current < window_end:
            yield (current, window_end)


def _sorted_pauses(waiting: Iterable[Interval]) -> list[tuple[datetime, datetime | None]]:
    return sorted(((_utc(start), _utc(end) if end else None) for start, end in waiting), key=lambda p: p[0])


def add_working_time(
    start: datetime,
    duration: timedelta,
    *,
    business_hours: BusinessHours | None = None,
    waiting: Iterable[Interval] = (),
) -> datetime | None:
    """The moment ``duration`` of running clock has passed since ``start``, outside the ``waiting``
    periods; None when an open waiting period (end None) stops the clock before then."""
    remaining = duration
    windows = _without_pauses(_running_windows(_utc(start), business_hours), _sorted_pauses(waiting))
    for window_start, window_end in windows:
        if window_end is None or window_end - window_start >= remaining:
            return window_start + remaining
        remaining -= window_end - window_start
    return None


def working_time_between(
    start: datetime, end: datetime, *, business_hours: BusinessHours | None = None
) -> timedelta:
    """How much running clock lies between ``start`` and ``end`` (zero when ``end`` is not later)."""
    start, end = _utc(start), _utc(end)
    total = timedelta(0)
    if end <= start:
        return total
    for window_start, window_end in _running_windows(start, business_hours):
        if window_start >= end:
            break
        total += min(window_end or end, end) - window_start
    return total


def working_duration(target: timedelta, business_hours: BusinessHours | None) -> timedelta:
    """How much running clock an SLA ``target`` needs: itself 24×7; under business hours each whole
    day of it becomes one working day of the calendar's length (see the module docstring)."""
    if business_hours is None:
        return target
    workday = datetime.combine(date.min, business_hours.end) - datetime.combine(
        date.min, business_hours.start
    )
    days, rest = divmod(target, timedelta(days=1))
    return days * workday + rest


def due_times(
    created_at: datetime,
    sla: Sla,
    *,
    business_hours: BusinessHours | None = None,
    waiting: Iterable[Interval] = (),
) -> tuple[datetime | None, datetime | None]:
    """``(first_response_due, resolve_due)`` in UTC for a case created at ``created_at``.

    A target the SLA does not set is None. ``waiting`` lists the case's waiting-on-customer periods as
    ``(started, ended)`` (``ended`` None while it still waits); they delay only the resolution.
    """
    first_due = (
        add_working_time(
            created_at, working_duration(sla.first_response, business_hours), business_hours=business_hours
        )
        if sla.first_response
        else None
    )
    resolve_due = (
        add_working_time(
            created_at,
            working_duration(sla.resolve, business_hours),
            business_hours=business_hours,
            waiting=list(waiting),
        )
        if sla.resolve
        else None
    )
    return first_due, resolve_due


def extend_for_pause(
    due_at: datetime,
    paused_at: datetime,
    resumed_at: datetime,
    *,
    business_hours: BusinessHours | None = None,
) -> datetime:
    """The new due time after a pause from ``paused_at`` to ``resumed_at``: the running clock that was
    left at ``paused_at`` starts again at ``resumed_at``. A target already missed when the pause
    began keeps its due time."""
    due_at, paused_at, resumed_at = _utc(due_at), _utc(paused_at), _utc(resumed_at)
    if due_at <= paused_at or resumed_at <= paused_at:
        return due_at
    left = working_time_between(paused_at, due_at, business_hours=business_hours)
    resumed_due = add_working_time(resumed_at, left, business_hours=business_hours)
    assert resumed_due is not None  # no pause is passed, so the clock cannot stop
    return resumed_due


class CaseLike(Protocol):
    """What ``breaches`` reads from a case; ``waiting_since`` is optional (read with ``getattr``)."""

    first_response_due: datetime | None
    resolve_due: datetime | None
    first_responded_at: datetime | None
    resolved_at: datetime | None


@dataclass(frozen=True)
class Breach:
    """A missed SLA target: due at ``due_at``, late by ``overdue_by`` (so far, or until ``met_at``)."""

    kind: BreachKind
    due_at: datetime
    overdue_by: timedelta
    met_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        """True while the target is still not met (the case still needs that response/resolution)."""
        return self.met_at is None


def _breach(kind: BreachKind, due: datetime | None, met: datetime | None, now: datetime) -> Breach | None:
    if due is None:
        return None
    due = _utc(due)
    if met is not None:
        met = _utc(met)
        return Breach(kind, due, met - due, met) if met > due else None
    return Breach(kind, due, now - due) if now > due else None


def breaches(now: datetime, case: CaseLike) -> list[Breach]:
    """The SLA targets ``case`` has missed as of ``now``: first response, then resolution.

    A target met after its due time is a breach with ``met_at`` set. While the case waits on the
    customer (``waiting_since``), its resolution clock is stopped: it breaches only if it was already
    overdue when the waiting began, and then ``overdue_by`` is frozen at that moment.
    """
    now = _utc(now)
    found = [_breach("first_response", case.first_response_due, case.first_responded_at, now)]
    waiting_since = getattr(case, "waiting_since", None)
    resolution_now = now if waiting_since is None or case.resolved_at else min(now, _utc(waiting_since))
    found.append(_breach("resolve", case.resolve_due, case.resolved_at, resolution_now))
    return [breach for breach in found if breach is not None]
