"""Invitation planning with a controllable clock: once at the right time, quiet hours, one reminder,
the over-survey limit, unsubscribes, consent, expiry, restarts, and time zones with and without DST."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from closeloop.ask.schedule import (
    CustomerFlags,
    Event,
    SentInvitation,
    TriggerRule,
    delay_for,
    invitation_due_at,
    parse_duration,
    plan_sends,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
OK = CustomerFlags(consent=True)


def _rule(**changes) -> TriggerRule:
    fields = {
        "id": "after-order",
        "survey_id": "post-purchase-nps",
        "event_type": "order_completed",
        "delay": "1d",
        "quiet_hours": None,
    }
    return TriggerRule(**{**fields, **changes})


def _event(
    event_id="o1", customer="c1", at=datetime(2024, 5, 1, 10, 0, tzinfo=SHANGHAI), kind="order_completed"
):
    return Event(id=event_id, type=kind, customer_key=customer, occurred_at=at)


class Scheduler:
    """A stand-in for the integrator's scheduler: records every send and skip under its slot."""

    def __init__(self, rules, events, customers):
        self.rules, self.events, self.customers = rules, events, customers
        self.slots: dict[tuple[str, str], SentInvitation] = {}
        self.log: list[tuple[datetime, str, str]] = []  # (when, idempotency key, reason or "sent")

    def tick(self, now: datetime):
        plan = plan_sends(
            now,
            rules=self.rules,
            events=self.events,
            invitations=list(self.slots.values()),
            customers=self.customers,
        )
        for send in plan.sends:
            self._record(send, now, sent=True)
        for skip in plan.skips:
            self._record(skip, now, reason=skip.reason)
        return plan

    def _record(self, item, now, *, sent=False, reason=None):
        slot = (item.rule_id, item.event_id)
        current = self.slots.get(slot) or SentInvitation(item.rule_id, item.event_id, item.customer_key)
        if item.kind == "invite":
            current = replace(current, sent_at=now if sent else None, skipped_reason=reason)
        else:
            current = replace(current, reminder_sent_at=now if sent else None, reminder_skipped_reason=reason)
        self.slots[slot] = current
        self.log.append((now, item.idempotency_key, "sent" if sent else reason))

    def run(self, start: datetime, days: float, step=timedelta(minutes=10)):
        now = start
        while now <= start + timedelta(days=days):
            self.tick(now)
            now += step


def test_invitation_is_sent_exactly_once_at_the_right_time():
    event = _event()  # 2024-05-01 10:00 Shanghai = 02:00 UTC; 1 day later is 2024-05-02 02:00 UTC
    due = datetime(2024, 5, 2, 2, 0, tzinfo=UTC)
    early = plan_sends(
        due - timedelta(minutes=1), rules=[_rule()], events=[event], invitations=[], customers={"c1": OK}
    )
    assert early.sends == [] and early.skips == [] and early.next_due_at == due
    scheduler = Scheduler([_rule()], [event], {"c1": OK})
    scheduler.run(event.occurred_at, days=5)
    assert scheduler.log == [(due, "invite:after-order:o1", "sent")]


def test_delay_in_a_range_is_a_fixed_point_per_customer_and_event():
    rule = _rule(delay="7-15d")
    events = [_event(f"o{n}", f"c{n}") for n in range(200)]
    delays = [delay_for(rule, event) for event in events]
    assert all(timedelta(days=7) <= d <= timedelta(days=15) for d in delays)
    assert delays == [delay_for(rule, event) for event in events]  # same on every call
    assert len(set(delays)) > 150  # spread over the range, not all at the minimum
    assert min(delays) < timedelta(days=8) and max(delays) > timedelta(days=14)


def test_due_time_in_quiet_hours_moves_to_their_end_in_shanghai():
    rule = _rule(delay="1h", quiet_hours="21:00-09:00")
    evening = _event(at=datetime(2024, 5, 1, 20, 30, tzinfo=SHANGHAI))  # + 1 h = 21:30, quiet
    assert invitation_due_at(rule, evening, SHANGHAI) == datetime(2024, 5, 2, 9, 0, tzinfo=SHANGHAI)
    night = _event(at=datetime(2024, 5, 1, 3, 0, tzinfo=SHANGHAI))  # + 1 h = 04:00, quiet until 09:00 today
    assert invitation_due_at(rule, night, SHANGHAI) == datetime(2024, 5, 1, 9, 0, tzinfo=SHANGHAI)
    day = _event(at=datetime(2024, 5, 1, 14, 0, tzinfo=SHANGHAI))
    assert invitation_due_at(rule, day, SHANGHAI) == datetime(2024, 5, 1, 15, 0, tzinfo=SHANGHAI)
    scheduler = Scheduler([rule], [evening], {"c1": OK})
    scheduler.run(evening.occurred_at, days=2)
    assert scheduler.log == [(datetime(2024, 5, 2, 1, 0, tzinfo=UTC), "invite:after-order:o1", "sent")]


def test_a_send_found_late_during_quiet_hours_waits_for_morning():
    rule = _rule(delay="1h", quiet_hours="21:00-09:00")
    event = _event(at=datetime(2024, 5, 1, 10, 0, tzinfo=SHANGHAI))  # due 11:00; the scheduler was down
    late = datetime(2024, 5, 1, 23, 0, tzinfo=SHANGHAI)
    plan = plan_sends(late, rules=[rule], events=[event], invitations=[], customers={"c1": OK})
    assert plan.sends == [] and plan.skips == []
    assert plan.next_due_at == datetime(2024, 5, 2, 9, 0, tzinfo=SHANGHAI)
    morning = plan_sends(plan.next_due_at, rules=[rule], events=[event], invitations=[], customers={"c1": OK})
    assert [s.idempotency_key for s in morning.sends] == ["invite:after-order:o1"]
    assert morning.sends[0].due_at == datetime(2024, 5, 1, 11, 0, tzinfo=SHANGHAI)  # the planned time


def test_one_reminder_if_not_answered():
    rule = _rule(reminder_after="3d")
    event = _event()
    scheduler = Scheduler([rule], [event], {"c1": OK})
    scheduler.run(event.occurred_at, days=12)
    sent = datetime(2024, 5, 2, 2, 0, tzinfo=UTC)
    assert scheduler.log == [
        (sent, "invite:after-order:o1", "sent"),
        (sent + timedelta(days=3), "reminder:after-order:o1", "sent"),
    ]


def test_no_reminder_once_answered():
    rule = _rule(reminder_after="3d")
    sent = datetime(2024, 5, 2, 2, 0, tzinfo=UTC)
    answered = SentInvitation("after-order", "o1", "c1", sent_at=sent, answered_at=sent + timedelta(hours=5))
    plan = plan_sends(
        sent + timedelta(days=4),
        rules=[rule],
        events=[_event()],
        invitations=[answered],
        customers={"c1": OK},
    )
    assert plan == type(plan)(sends=[], skips=[], next_due_at=None)


def test_over_survey_limit_across_rules():
    rule = _rule(max_per_customer_days=30)
    now = datetime(2024, 5, 2, 2, 0, tzinfo=UTC)
    earlier = SentInvitation("after-ticket", "t7", "c1", sent_at=now - timedelta(days=10))
    plan = plan_sends(now, rules=[rule], events=[_event()], invitations=[earlier], customers={"c1": OK})
    assert plan.sends == []
    (skip,) = plan.skips
    assert skip.reason == "over_survey_limit" and skip.idempotency_key == "invite:after-order:o1"
    assert skip.detail == "asked on 2024-04-22 10:00, within the 30-day limit"
    assert skip.detail_zh == "已于 2024-04-22 10:00 邀请过，30 天内不再邀请"
    relaxed = plan_sends(
        now,
        rules=[_rule(max_per_customer_days=7)],
        events=[_event()],
        invitations=[earlier],
        customers={"c1": OK},
    )
    assert [s.kind for s in relaxed.sends] == ["invite"]


def test_over_survey_limit_within_one_run_and_a_skip_is_final():
    rule = _rule(max_per_customer_days=30)
    events = [_event("o1"), _event("o2", at=datetime(2024, 5, 1, 11, 0, tzinfo=SHANGHAI)), _event("o3", "c2")]
    scheduler = Scheduler([rule], events, {"c1": OK, "c2": OK})
    scheduler.run(datetime(2024, 5, 1, tzinfo=UTC), days=45)
    assert [(key, what) for _, key, what in scheduler.log] == [
        ("invite:after-order:o1", "sent"),
        ("invite:after-order:o3", "sent"),
        ("invite:after-order:o2", "over_survey_limit"),
    ]


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        (CustomerFlags(consent=True, unsubscribed=True), "unsubscribed"),
        (CustomerFlags(consent=False), "no_consent"),
        (CustomerFlags(consent=True, has_email=False), "no_email"),
        (None, "unknown_customer"),
    ],
)
def test_unsubscribed_or_unconsenting_customers_are_skipped_with_a_reason(flags, reason):
    customers = {} if flags is None else {"c1": flags}
    scheduler = Scheduler([_rule(reminder_after="3d")], [_event()], customers)
    scheduler.run(_event().occurred_at, days=10)
    assert [(key, what) for _, key, what in scheduler.log] == [("invite:after-order:o1", reason)]


def test_consent_withdrawn_after_the_invitation_stops_the_reminder():
    rule = _rule(reminder_after="3d")
    sent = datetime(2024, 5, 2, 2, 0, tzinfo=UTC)
    invitation = SentInvitation("after-order", "o1", "c1", sent_at=sent)
    plan = plan_sends(
        sent + timedelta(days=3),
        rules=[rule],
        events=[_event()],
        invitations=[invitation],
        customers={"c1": CustomerFlags(consent=False)},
    )
    assert plan.sends == []
    assert [(s.kind, s.reason, s.idempotency_key) for s in plan.skips] == [
        ("reminder", "no_consent", "reminder:after-order:o1")
    ]
    assert plan.skips[0].detail_zh == "客户未同意接收调查"


def test_expired_invitations_and_reminders_are_skipped():
    rule = _rule(reminder_after="3d", expires_after="10d")
    event = _event()  # due 2024-05-02 02:00 UTC, expires 2024-05-11 02:00 UTC
    down_until = datetime(2024, 5, 12, tzinfo=UTC)
    plan = plan_sends(down_until, rules=[rule], events=[event], invitations=[], customers={"c1": OK})
    assert [(s.reason, s.detail) for s in plan.skips] == [("expired", "expired on 2024-05-11 10:00")]
    sent = SentInvitation("after-order", "o1", "c1", sent_at=datetime(2024, 5, 9, tzinfo=UTC))
    plan = plan_sends(down_until, rules=[rule], events=[event], invitations=[sent], customers={"c1": OK})
    assert [(s.kind, s.reason) for s in plan.skips] == [("reminder", "expired")]
    fresh = plan_sends(
        datetime(2024, 5, 3, tzinfo=UTC), rules=[rule], events=[event], invitations=[], customers={"c1": OK}
    )
    assert fresh.sends[0].expires_at == datetime(2024, 5, 11, 2, 0, tzinfo=UTC)


def test_a_restart_neither_loses_nor_repeats_a_send():
    rule = _rule(reminder_after="3d")
    events = [_event("o1"), _event("o2", "c2")]
    customers = {"c1": OK, "c2": OK}
    due = datetime(2024, 5, 2, 2, 0, tzinfo=UTC)
    first = plan_sends(due, rules=[rule], events=events, invitations=[], customers=customers)
    # the same inputs give the same keys, so an insert-if-absent makes a replayed plan harmless
    again = plan_sends(due, rules=[rule], events=events, invitations=[], customers=customers)
    assert [s.idempotency_key for s in first.sends] == [s.idempotency_key for s in again.sends]
    assert len(first.sends) == 2
    # the process dies after recording only o1; the restarted scheduler, a day late, sends o2 and not o1
    recorded = [SentInvitation("after-order", "o1", "c1", sent_at=due)]
    restarted = plan_sends(
        due + timedelta(days=1), rules=[rule], events=events, invitations=recorded, customers=customers
    )
    assert [s.idempotency_key for s in restarted.sends] == ["invite:after-order:o2"]


def test_naive_times_are_utc():
    event = Event("o1", "order_completed", "c1", datetime(2024, 5, 1, 2, 0))  # naive = UTC
    plan = plan_sends(
        datetime(2024, 5, 2, 2, 0), rules=[_rule()], events=[event], invitations=[], customers={"c1": OK}
    )
    assert plan.sends[0].due_at == datetime(2024, 5, 2, 2, 0, tzinfo=UTC)


def test_other_event_types_are_ignored():
    plan = plan_sends(
        datetime(2024, 6, 1, tzinfo=UTC),
        rules=[_rule()],
        events=[_event(kind="ticket_closed")],
        invitations=[],
        customers={"c1": OK},
    )
    assert plan == type(plan)(sends=[], skips=[], next_due_at=None)


def test_berlin_delay_keeps_the_local_time_across_the_spring_change():
    rule = _rule(delay="7d", timezone="Europe/Berlin")
    event = _event(at=datetime(2024, 3, 28, 10, 0, tzinfo=BERLIN))  # CET, UTC+1 = 09:00 UTC
    due = invitation_due_at(rule, event, BERLIN)
    # 2024-03-31 clocks go forward: seven days later at 10:00 local is CEST, UTC+2 = 08:00 UTC
    assert due == datetime(2024, 4, 4, 8, 0, tzinfo=UTC)
    assert due.astimezone(BERLIN).hour == 10


def test_berlin_quiet_hours_across_the_autumn_change():
    rule = _rule(delay="0d", quiet_hours="21:00-09:00", timezone="Europe/Berlin")
    event = _event(at=datetime(2024, 10, 26, 22, 30, tzinfo=BERLIN))  # CEST = 20:30 UTC, quiet
    # clocks go back at 03:00 on 2024-10-27: 09:00 CET that morning = 08:00 UTC (10 h 30 later, not 9 h 30)
    assert invitation_due_at(rule, event, BERLIN) == datetime(2024, 10, 27, 8, 0, tzinfo=UTC)
    scheduler = Scheduler([rule], [event], {"c1": OK})
    scheduler.run(datetime(2024, 10, 26, 20, 0, tzinfo=UTC), days=2)
    assert scheduler.log == [(datetime(2024, 10, 27, 8, 0, tzinfo=UTC), "invite:after-order:o1", "sent")]


def test_customer_time_zone_overrides_the_rule():
    rule = _rule(delay="1h", quiet_hours="21:00-09:00")  # rule in Shanghai
    event = _event(at=datetime(2024, 7, 1, 12, 0, tzinfo=UTC))  # 20:00 Shanghai + 1 h → quiet; 14:00 Berlin
    customers = {"c1": CustomerFlags(consent=True, timezone="Europe/Berlin")}
    plan = plan_sends(
        datetime(2024, 7, 1, 13, 0, tzinfo=UTC),
        rules=[rule],
        events=[event],
        invitations=[],
        customers=customers,
    )
    assert [s.due_at for s in plan.sends] == [datetime(2024, 7, 1, 13, 0, tzinfo=UTC)]
    shanghai = plan_sends(
        datetime(2024, 7, 1, 13, 0, tzinfo=UTC),
        rules=[rule],
        events=[event],
        invitations=[],
        customers={"c1": OK},
    )
    assert shanghai.sends == [] and shanghai.next_due_at == datetime(2024, 7, 2, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", timedelta(minutes=90)),
        ("36h", timedelta(hours=36)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(days=14)),
        ("1d12h", timedelta(hours=36)),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "7", "7 days", "d7", "7d x"])
def test_parse_duration_refuses(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_rules_load_from_plain_values():
    rule = TriggerRule.model_validate(
        {
            "id": "r",
            "survey_id": "s",
            "event_type": "order_completed",
            "delay": "7-15d",
            "reminder_after": "3d",
            "quiet_hours": "22:00-08:30",
            "expires_after": "30d",
            "max_per_customer_days": 30,
        }
    )
    assert rule.delay == (timedelta(days=7), timedelta(days=15))
    assert rule.quiet_hours == (time(22, 0), time(8, 30)) and rule.timezone == "Asia/Shanghai"
    assert _rule(delay="7d-15d").delay == _rule(delay=["7d", "15d"]).delay == rule.delay
    assert _rule().quiet_hours is None and TriggerRule(id="r", survey_id="s", event_type="e").quiet_hours == (
        time(21, 0),
        time(9, 0),
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"delay": "15d-7d"}, "delay must be a range"),
        ({"delay": "7-15d", "expires_after": "10d"}, "expires_after must be longer"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"quiet_hours": "09:00-09:00"}, "quiet_hours must start and end"),
        ({"max_per_customer_days": 0}, "greater than or equal to 1"),
        ({"colour": "red"}, "Extra inputs are not permitted"),
    ],
)
def test_bad_rules_are_refused(changes, message):
    with pytest.raises(ValidationError, match=message):
        _rule(**changes)
