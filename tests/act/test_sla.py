"""SLA clocks: due times 24×7 and in business hours (weekends, midnight, holidays), pauses, breaches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from closeloop.act.sla import (
    Breach,
    BusinessHours,
    Sla,
    breaches,
    due_times,
    extend_for_pause,
    working_duration,
    working_time_between,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICE = BusinessHours(start="09:00", end="18:00", days="mon-fri", timezone="Asia/Shanghai")
FOUR_HOURS_TWO_DAYS = Sla(first_response="4h", resolve="2d")


def cst(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """A wall-clock time in Shanghai."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI)


def test_sla_targets_parse_durations_and_refuse_nonsense():
    assert FOUR_HOURS_TWO_DAYS.first_response == timedelta(hours=4)
    assert FOUR_HOURS_TWO_DAYS.resolve == timedelta(days=2)
    assert Sla(first_response="PT90M").first_response == timedelta(minutes=90)  # ISO 8601 too
    assert Sla().first_response is None and Sla().resolve is None
    with pytest.raises(ValidationError, match="positive duration"):
        Sla(first_response=timedelta(0))
    with pytest.raises(ValidationError, match="not a duration"):
        Sla(resolve="soon")
    with pytest.raises(ValidationError, match="resolve must not be shorter"):
        Sla(first_response="1d", resolve="4h")


def test_around_the_clock_due_times_cross_midnight_and_the_weekend():
    created = cst(2025, 1, 3, 22, 30)  # Friday night
    first, resolve = due_times(created, FOUR_HOURS_TWO_DAYS)
    assert first == cst(2025, 1, 4, 2, 30) and first.tzinfo is UTC
    assert resolve == cst(2025, 1, 5, 22, 30)  # Sunday: the 24×7 clock does not stop
    assert due_times(created, Sla(resolve="3d")) == (None, cst(2025, 1, 6, 22, 30))
    assert due_times(created, Sla()) == (None, None)


def test_naive_datetimes_are_taken_as_utc():
    first, _ = due_times(datetime(2025, 1, 3, 14, 30), FOUR_HOURS_TWO_DAYS)
    assert first == datetime(2025, 1, 3, 18, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("created", "first_due", "resolve_due"),
    [
        # Tuesday morning, inside working hours
        (cst(2025, 1, 7, 10, 0), cst(2025, 1, 7, 14, 0), cst(2025, 1, 9, 10, 0)),
        # Friday 17:00: one hour on Friday, three on Monday; two working days → Tuesday 17:00
        (cst(2025, 1, 3, 17, 0), cst(2025, 1, 6, 12, 0), cst(2025, 1, 7, 17, 0)),
        # Saturday: the clock starts on Monday 09:00; two full working days end on Tuesday evening
        (cst(2025, 1, 4, 11, 0), cst(2025, 1, 6, 13, 0), cst(2025, 1, 7, 18, 0)),
        # Wednesday 23:30 (15:30 UTC, the same UTC date): starts Thursday 09:00
        (cst(2025, 1, 8, 23, 30), cst(2025, 1, 9, 13, 0), cst(2025, 1, 10, 18, 0)),
        # Thursday 07:30 in Shanghai is still Wednesday in UTC: starts Thursday 09:00 local
        (cst(2025, 1, 9, 7, 30), cst(2025, 1, 9, 13, 0), cst(2025, 1, 10, 18, 0)),
        # Wednesday 17:30: half an hour today, 3.5 h on Thursday
        (cst(2025, 1, 8, 17, 30), cst(2025, 1, 9, 12, 30), cst(2025, 1, 10, 17, 30)),
        # exactly at closing time counts as the next working morning
        (cst(2025, 1, 8, 18, 0), cst(2025, 1, 9, 13, 0), cst(2025, 1, 10, 18, 0)),
    ],
)
def test_business_hours_due_times(created: datetime, first_due: datetime, resolve_due: datetime):
    assert due_times(created, FOUR_HOURS_TWO_DAYS, business_hours=OFFICE) == (first_due, resolve_due)


def test_public_holidays_are_off_and_make_up_working_days_are_on():
    spring_festival = OFFICE.model_copy(
        update={
            "holidays": frozenset(date(2025, 1, 28) + timedelta(days=n) for n in range(8)),  # 1.28–2.4
            "workdays": frozenset({date(2025, 1, 26), date(2025, 2, 8)}),  # 调休: a Sunday and a Saturday
        }
    )
    four_hours = Sla(first_response="4h")
    before_the_break = cst(2025, 1, 27, 17, 0)
    assert due_times(before_the_break, four_hours, business_hours=spring_festival)[0] == cst(
        2025, 2, 5, 12, 0
    )
    saturday = cst(2025, 1, 25, 10, 0)  # the next working day is the make-up Sunday
    assert due_times(saturday, four_hours, business_hours=spring_festival)[0] == cst(2025, 1, 26, 13, 0)
    assert due_times(saturday, four_hours, business_hours=OFFICE)[0] == cst(2025, 1, 27, 13, 0)


def test_business_hours_settings_are_parsed_and_checked():
    weekend_shift = BusinessHours(start="10:00", end="16:00", days=["sat", "Sunday"])
    assert weekend_shift.days == frozenset({5, 6}) and weekend_shift.start == time(10, 0)
    assert weekend_shift.timezone == "Asia/Shanghai"
    assert OFFICE.is_working_day(date(2025, 1, 3)) and not OFFICE.is_working_day(date(2025, 1, 4))
    for bad, message in [
        ({"start": "18:00", "end": "09:00"}, "end must be after start"),
        ({"start": "9am"}, "not a time of day"),
        ({"days": "mon-funday"}, "not weekdays"),
        ({"days": [7]}, "weekdays are 0"),
        ({"days": []}, "at least one working day"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
    ]:
        with pytest.raises(ValidationError, match=message):
            BusinessHours(**bad)


def test_working_time_between_and_working_duration():
    assert working_time_between(cst(2025, 1, 3, 17, 0), cst(2025, 1, 6, 12, 0), business_hours=OFFICE) == (
        timedelta(hours=4)
    )
    assert working_time_between(cst(2025, 1, 3, 17, 0), cst(2025, 1, 6, 12, 0)) == timedelta(hours=67)
    assert working_time_between(cst(2025, 1, 6), cst(2025, 1, 5)) == timedelta(0)
    assert working_duration(timedelta(days=2), OFFICE) == timedelta(hours=18)
    assert working_duration(timedelta(hours=36), OFFICE) == timedelta(hours=21)
    assert working_duration(timedelta(hours=36), None) == timedelta(hours=36)


def test_waiting_on_the_customer_delays_only_the_resolution():
    created = cst(2025, 1, 6, 10, 0)  # Monday
    waited = [(cst(2025, 1, 6, 15, 0), cst(2025, 1, 7, 11, 0))]  # 3 h Monday + 2 h Tuesday working time
    first, resolve = due_times(created, FOUR_HOURS_TWO_DAYS, business_hours=OFFICE, waiting=waited)
    assert first == cst(2025, 1, 6, 14, 0)  # the first-response clock never pauses
    assert resolve == cst(2025, 1, 8, 15, 0)  # Wednesday 10:00 + 5 working hours
    _, around_the_clock = due_times(created, FOUR_HOURS_TWO_DAYS, waiting=waited)
    assert around_the_clock == cst(2025, 1, 8, 10, 0) + timedelta(hours=20)
    overnight_only = [(cst(2025, 1, 6, 19, 0), cst(2025, 1, 7, 8, 0))]  # outside working hours: no change
    assert due_times(created, FOUR_HOURS_TWO_DAYS, business_hours=OFFICE, waiting=overnight_only)[1] == (
        cst(2025, 1, 8, 10, 0)
    )
    still_waiting = [(cst(2025, 1, 7, 11, 0), None)]
    assert due_times(created, FOUR_HOURS_TWO_DAYS, business_hours=OFFICE, waiting=still_waiting)[1] is None
    late_wait = [(cst(2025, 1, 9, 9, 0), None)]  # began after the due time: no effect
    assert due_times(created, FOUR_HOURS_TWO_DAYS, business_hours=OFFICE, waiting=late_wait)[1] == (
        cst(2025, 1, 8, 10, 0)
    )


@pytest.mark.parametrize("hours", [None, OFFICE])
def test_extending_a_stored_due_time_after_each_pause_agrees_with_the_full_history(hours):
    created = cst(2025, 1, 3, 16, 0)
    pauses = [
        (cst(2025, 1, 3, 17, 0), cst(2025, 1, 6, 10, 0)),
        (cst(2025, 1, 6, 16, 30), cst(2025, 1, 7, 9, 45)),
    ]
    _, due = due_times(created, FOUR_HOURS_TWO_DAYS, business_hours=hours)
    assert due is not None
    for paused_at, resumed_at in pauses:
        due = extend_for_pause(due, paused_at, resumed_at, business_hours=hours)
    assert due == due_times(created, FOUR_HOURS_TWO_DAYS, business_hours=hours, waiting=pauses)[1]
    missed = cst(2025, 1, 3, 18, 0)
    assert extend_for_pause(missed, cst(2025, 1, 6, 9, 0), cst(2025, 1, 7, 9, 0)) == missed


@dataclass
class CaseClock:
    first_response_due: datetime | None
    resolve_due: datetime | None
    first_responded_at: datetime | None = None
    resolved_at: datetime | None = None
    waiting_since: datetime | None = None


CASE_DUE = CaseClock(first_response_due=cst(2025, 1, 6, 14, 0), resolve_due=cst(2025, 1, 8, 10, 0))


def _with(**changes) -> CaseClock:
    return CaseClock(**{**CASE_DUE.__dict__, **changes})


def test_no_breach_before_the_due_time():
    assert breaches(cst(2025, 1, 6, 13, 59), CASE_DUE) == []
    assert breaches(cst(2025, 1, 6, 14, 0), CASE_DUE) == []  # due at 14:00 means 14:00 is still in time


def test_an_unanswered_case_breaches_first_response_then_resolution():
    now = cst(2025, 1, 6, 15, 30)
    assert breaches(now, CASE_DUE) == [
        Breach("first_response", cst(2025, 1, 6, 14, 0), timedelta(minutes=90))
    ]
    later = breaches(cst(2025, 1, 8, 12, 0), CASE_DUE)
    assert [(b.kind, b.overdue_by, b.is_open) for b in later] == [
        ("first_response", timedelta(hours=46), True),
        ("resolve", timedelta(hours=2), True),
    ]


def test_a_late_answer_stays_a_breach_with_when_it_was_met_and_an_early_one_is_none():
    late = _with(first_responded_at=cst(2025, 1, 6, 14, 20))
    (breach,) = breaches(cst(2025, 1, 7, 9, 0), late)
    assert breach == Breach(
        "first_response", cst(2025, 1, 6, 14, 0), timedelta(minutes=20), met_at=cst(2025, 1, 6, 14, 20)
    )
    assert not breach.is_open
    on_time = _with(first_responded_at=cst(2025, 1, 6, 11, 0), resolved_at=cst(2025, 1, 7, 16, 0))
    assert breaches(cst(2025, 2, 1), on_time) == []
    resolved_late = _with(first_responded_at=cst(2025, 1, 6, 11, 0), resolved_at=cst(2025, 1, 9, 10, 0))
    assert breaches(cst(2025, 2, 1), resolved_late) == [
        Breach("resolve", cst(2025, 1, 8, 10, 0), timedelta(days=1), met_at=cst(2025, 1, 9, 10, 0))
    ]


def test_waiting_on_the_customer_stops_the_resolution_clock():
    answered = dict(first_responded_at=cst(2025, 1, 6, 11, 0))
    waiting = _with(**answered, waiting_since=cst(2025, 1, 7, 12, 0))
    assert breaches(cst(2025, 1, 20), waiting) == []  # the clock stopped before the due time
    overdue_then = _with(**answered, waiting_since=cst(2025, 1, 8, 13, 0))
    assert breaches(cst(2025, 1, 20), overdue_then) == [
        Breach("resolve", cst(2025, 1, 8, 10, 0), timedelta(hours=3))  # frozen when waiting began
    ]
    no_targets = CaseClock(first_response_due=None, resolve_due=None)
    assert breaches(cst(2030, 1, 1), no_targets) == []


def test_a_stored_case_can_be_checked_directly():
    from closeloop.store.models import Case

    case = Case(
        title="物流太慢",
        team="logistics",
        first_response_due=cst(2025, 1, 6, 14, 0),
        resolve_due=cst(2025, 1, 8, 10, 0),
        first_responded_at=cst(2025, 1, 6, 13, 0),
    )
    assert breaches(cst(2025, 1, 8, 11, 0), case) == [
        Breach("resolve", cst(2025, 1, 8, 10, 0), timedelta(hours=1))
    ]
