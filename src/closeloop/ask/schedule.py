"""Invitation planning: which survey invitations and reminders are due now, and which are skipped and why.

``plan_sends(now, …)`` is a pure function of the rules, the events, what was already sent or skipped,
and the customers' flags. The scheduler calls it on every tick, records each ``Send`` / ``Skip`` under
its ``idempotency_key`` (insert-if-absent) before sending, and passes the records back next time as
``SentInvitation`` rows: so a restart neither repeats nor loses a send.

Timing, decided here once:
- The delay after the event is a deterministic point in the rule's range (e.g. 7–15 days), picked by a
  hash of rule, event and customer: spread over the range, yet the same on every call.
- Delays are added in local wall-clock time ("7 days later at the same time of day", also across a
  daylight-saving change), in the customer's time zone when known, else the rule's (default
  Asia/Shanghai).
- A due time inside the quiet hours (default 21:00–09:00) moves to the end of the quiet hours; a send
  found due during quiet hours (the scheduler was down) waits until they end.
- The reminder is due ``reminder_after`` the invitation was sent, once, only if not answered.
- ``expires_after`` counts from the event: after it, the invitation or reminder is skipped as expired.
- ``max_per_customer_days``: no customer is sent a new invitation (from any rule) within that many days
  of the last one; an invitation due inside that window is skipped for good. Reminders do not count.
- A skip is final: once recorded, the slot is never planned again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from closeloop.ask.abtest import assign_variant

DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_QUIET_HOURS = (time(21, 0), time(9, 0))
SendKind = Literal["invite", "reminder"]
SkipReason = Literal[
    "unknown_customer", "unsubscribed", "no_consent", "no_email", "expired", "over_survey_limit"
]

_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(min|m|h|d|w)")


def known_timezone(value: str) -> str:
    """``value`` when it names an IANA time zone; a ValueError saying so otherwise (for validators)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (e.g. Asia/Shanghai, Europe/Berlin)") from None
    return value


def parse_duration(text: str) -> timedelta:
    """``"90m"``, ``"36h"``, ``"7d"``, ``"2w"``, ``"1d12h"`` → a timedelta; ``ValueError`` otherwise."""
    compact = text.strip().lower()
    parts = _DURATION_PART.findall(compact)
    if not parts or _DURATION_PART.sub("", compact).strip():
        raise ValueError(f"not a duration: {text!r} (use e.g. 90m, 36h, 7d, 2w)")
    return timedelta(seconds=sum(float(number) * _UNITS[unit] for number, unit in parts))


def _duration(value: Any) -> Any:
    if isinstance(value, str) and not value.strip().upper().startswith("P"):
        return parse_duration(value)
    return value


def _delay_range(value: Any) -> Any:
    """``"1d"`` → (1d, 1d); ``"7d-15d"`` or ``"7-15d"`` → (7d, 15d); a two-item list is taken as is."""
    if isinstance(value, str):
        if "-" not in value:
            single = parse_duration(value)
            return (single, single)
        low, high = (part.strip() for part in value.split("-", 1))
        if low.replace(".", "", 1).isdigit():
            low += re.sub(r"^[\d.\s]+", "", high)  # "7-15d": the unit is written once
        return (parse_duration(low), parse_duration(high))
    if isinstance(value, timedelta):
        return (value, value)
    if isinstance(value, list | tuple):
        return tuple(_duration(part) for part in value)
    return value


def _quiet_hours(value: Any) -> Any:
    if isinstance(value, str):
        start, end = (part.strip() for part in value.split("-", 1))
        return (time.fromisoformat(start), time.fromisoformat(end))
    return value


class SendTimeVariant(BaseModel):
    """An arm of a send-time A/B test: its own delay range and weight."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    delay: tuple[timedelta, timedelta]
    weight: float = Field(1.0, gt=0)

    @field_validator("delay", mode="before")
    @classmethod
    def _parse_delay(cls, value: Any) -> Any:
        return _delay_range(value)


class TriggerRule(BaseModel):
    """Send survey ``survey_id`` a set time after each event of ``event_type`` (YAML/JSON friendly)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=64)
    survey_id: str = Field(min_length=1)
    event_type: str = Field(min_length=1)
    delay: tuple[timedelta, timedelta] = (timedelta(0), timedelta(0))
    reminder_after: timedelta | None = None
    quiet_hours: tuple[time, time] | None = DEFAULT_QUIET_HOURS
    timezone: str = DEFAULT_TIMEZONE
    max_per_customer_days: int | None = Field(None, ge=1)
    expires_after: timedelta | None = None
    # A send-time A/B test: each customer is assigned (sticky) to one arm, whose delay replaces ``delay``;
    # the arm is the invitation's variant, compared like survey variants.
    send_time_variants: dict[str, SendTimeVariant] = Field(default_factory=dict)

    @field_validator("delay", mode="before")
    @classmethod
    def _parse_delay(cls, value: Any) -> Any:
        return _delay_range(value)

    @field_validator("reminder_after", "expires_after", mode="before")
    @classmethod
    def _parse_durations(cls, value: Any) -> Any:
        return _duration(value)

    @field_validator("quiet_hours", mode="before")
    @classmethod
    def _parse_quiet_hours(cls, value: Any) -> Any:
        return _quiet_hours(value)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return known_timezone(value)

    @model_validator(mode="after")
    def _consistent(self) -> TriggerRule:
        low, high = self.delay
        if low < timedelta(0) or low > high:
            raise ValueError("delay must be a range from low to high, not negative")
        longest = max([high, *(v.delay[1] for v in self.send_time_variants.values())])
        if self.expires_after is not None and self.expires_after <= longest:
            raise ValueError("expires_after must be longer than the longest delay")
        for name, variant in self.send_time_variants.items():
            if variant.delay[0] < timedelta(0) or variant.delay[0] > variant.delay[1]:
                raise ValueError(f"send_time_variants.{name}.delay must be a range from low to high")
        if self.quiet_hours is not None and self.quiet_hours[0] == self.quiet_hours[1]:
            raise ValueError("quiet_hours must start and end at different times")
        return self


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened to a customer (``order_completed``, ``ticket_closed`` …)."""

    id: str
    type: str
    customer_key: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class CustomerFlags:
    """What the planner needs to know about a customer; ``consent`` = consent to the ``survey`` purpose."""

    consent: bool
    unsubscribed: bool = False
    has_email: bool = True
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class SentInvitation:
    """What was already recorded for one rule × event slot (sent or skipped, reminder, answer)."""

    rule_id: str
    event_id: str
    customer_key: str
    sent_at: datetime | None = None
    skipped_reason: str | None = None
    reminder_sent_at: datetime | None = None
    reminder_skipped_reason: str | None = None
    answered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Send:
    """An invitation or reminder to send now."""

    kind: SendKind
    rule_id: str
    survey_id: str
    event_id: str
    customer_key: str
    due_at: datetime
    expires_at: datetime | None
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class Skip:
    """An invitation or reminder that was due but will not be sent, with the reason in en and zh."""

    kind: SendKind
    rule_id: str
    survey_id: str
    event_id: str
    customer_key: str
    due_at: datetime
    reason: SkipReason
    detail: str
    detail_zh: str
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class Plan:
    """What to do now, and the next time something may become due (for the scheduler's sleep)."""

    sends: list[Send]
    skips: list[Skip]
    next_due_at: datetime | None


def _aware(moment: datetime) -> datetime:
    """Naive datetimes are UTC (as SQLite gives them back)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def idempotency_key(kind: SendKind, rule_id: str, event_id: str) -> str:
    """The stable name of one send slot: ``invite:<rule>:<event>`` or ``reminder:<rule>:<event>``."""
    return f"{kind}:{rule_id}:{event_id}"


def send_time_variant(rule: TriggerRule, customer_key: str) -> str | None:
    """The customer's arm of the rule's send-time test (sticky), or None when the rule has none."""
    if not rule.send_time_variants:
        return None
    weights = {name: variant.weight for name, variant in rule.send_time_variants.items()}
    return assign_variant(f"send-time:{rule.id}", customer_key, weights)


def delay_for(rule: TriggerRule, event: Event) -> timedelta:
    """The delay for this event: a fixed, hash-chosen whole minute in the rule's range (or in the range of
    the customer's send-time variant)."""
    arm = send_time_variant(rule, event.customer_key)
    low, high = rule.send_time_variants[arm].delay if arm else rule.delay
    span_minutes = int((high - low).total_seconds() // 60)
    if span_minutes <= 0:
        return low
    digest = hashlib.sha256(f"{rule.id}\x1f{event.id}\x1f{event.customer_key}".encode()).digest()
    return low + timedelta(minutes=int.from_bytes(digest[:8], "big") % (span_minutes + 1))


def in_quiet_hours(moment: datetime, quiet_hours: tuple[time, time] | None, zone: ZoneInfo) -> bool:
    """Whether the local time of ``moment`` falls in ``[start, end)``, which may span midnight."""
    if quiet_hours is None:
        return False
    start, end = quiet_hours
    local = _aware(moment).astimezone(zone).time()
    if start < end:
        return start <= local < end
    return local >= start or local < end


def after_quiet_hours(moment: datetime, quiet_hours: tuple[time, time] | None, zone: ZoneInfo) -> datetime:
    """``moment`` (in UTC) when outside the quiet hours, else the end of the quiet hours it is in."""
    moment = _aware(moment).astimezone(UTC)
    if quiet_hours is None or not in_quiet_hours(moment, quiet_hours, zone):
        return moment
    start, end = quiet_hours
    local = moment.astimezone(zone)
    end_day = local.date()
    if start > end and local.time() >= start:
        end_day += timedelta(days=1)  # evening part of a window spanning midnight: ends tomorrow
    return datetime.combine(end_day, end, tzinfo=zone).astimezone(UTC)


def _add_wall_clock(moment: datetime, delta: timedelta, zone: ZoneInfo) -> datetime:
    """``moment + delta`` in local wall-clock time, in UTC (aware arithmetic keeps the local time of day)."""
    return (_aware(moment).astimezone(zone) + delta).astimezone(UTC)


def invitation_due_at(rule: TriggerRule, event: Event, zone: ZoneInfo) -> datetime:
    """When the invitation for ``event`` is due: event + delay, moved out of the quiet hours."""
    return after_quiet_hours(
        _add_wall_clock(event.occurred_at, delay_for(rule, event), zone), rule.quiet_hours, zone
    )


def reminder_due_at(rule: TriggerRule, sent_at: datetime, zone: ZoneInfo) -> datetime | None:
    """When the reminder is due (sent + ``reminder_after``, out of quiet hours); None without reminders."""
    if rule.reminder_after is None:
        return None
    return after_quiet_hours(_add_wall_clock(sent_at, rule.reminder_after, zone), rule.quiet_hours, zone)


def expires_at(rule: TriggerRule, event: Event) -> datetime | None:
    """When asking about ``event`` stops making sense (event + ``expires_after``); None = never."""
    if rule.expires_after is None:
        return None
    return _aware(event.occurred_at).astimezone(UTC) + rule.expires_after


_SKIP_TEXTS: dict[str, tuple[str, str]] = {
    "unknown_customer": ("the customer is not known", "客户不存在"),
    "unsubscribed": ("the customer unsubscribed", "客户已退订"),
    "no_consent": ("no consent to surveys", "客户未同意接收调查"),
    "no_email": ("the customer has no email address", "客户没有邮箱地址"),
    "expired": ("expired on {when}", "已于 {when} 过期"),
    "over_survey_limit": (
        "asked on {when}, within the {days}-day limit",
        "已于 {when} 邀请过，{days} 天内不再邀请",
    ),
}


@dataclass(frozen=True, slots=True)
class _Slot:
    kind: SendKind
    rule: TriggerRule
    event: Event
    customer: CustomerFlags | None
    zone: ZoneInfo
    due_at: datetime
    expires_at: datetime | None


def _skip(slot: _Slot, reason: SkipReason, **fields: Any) -> Skip:
    english, chinese = _SKIP_TEXTS[reason]
    return Skip(
        kind=slot.kind,
        rule_id=slot.rule.id,
        survey_id=slot.rule.survey_id,
        event_id=slot.event.id,
        customer_key=slot.event.customer_key,
        due_at=slot.due_at,
        reason=reason,
        detail=english.format(**fields),
        detail_zh=chinese.format(**fields),
        idempotency_key=idempotency_key(slot.kind, slot.rule.id, slot.event.id),
    )


def _blocked(slot: _Slot, now: datetime) -> Skip | None:
    """The final reason this slot cannot be sent, from the customer's flags and the expiry."""
    customer = slot.customer
    if customer is None:
        return _skip(slot, "unknown_customer")
    if customer.unsubscribed:
        return _skip(slot, "unsubscribed")
    if not customer.consent:
        return _skip(slot, "no_consent")
    if not customer.has_email:
        return _skip(slot, "no_email")
    if slot.expires_at is not None and now >= slot.expires_at:
        return _skip(slot, "expired", when=_local_text(slot.expires_at, slot.zone))
    return None


def _local_text(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _zone_for(rule: TriggerRule, customer: CustomerFlags | None) -> ZoneInfo:
    if customer is not None and customer.timezone:
        try:
            return ZoneInfo(customer.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            pass  # a bad zone on a customer record must not stop the run; use the rule's
    return ZoneInfo(rule.timezone)


def _due_slots(
    now: datetime,
    rules: Iterable[TriggerRule],
    events: Iterable[Event],
    invitations: Iterable[SentInvitation],
    customers: Mapping[str, CustomerFlags],
) -> tuple[list[_Slot], datetime | None]:
    """Every unrecorded slot whose due time has come, and the earliest due time still ahead."""
    recorded = {(invitation.rule_id, invitation.event_id): invitation for invitation in invitations}
    rules_for: dict[str, list[TriggerRule]] = {}
    for rule in rules:
        rules_for.setdefault(rule.event_type, []).append(rule)
    due: list[_Slot] = []
    upcoming: list[datetime] = []
    for event in events:
        for rule in rules_for.get(event.type, []):
            customer = customers.get(event.customer_key)
            zone = _zone_for(rule, customer)
            invitation = recorded.get((rule.id, event.id))
            if invitation is None or (invitation.sent_at is None and invitation.skipped_reason is None):
                kind: SendKind = "invite"
                due_at: datetime | None = invitation_due_at(rule, event, zone)
            elif (
                invitation.sent_at is not None
                and invitation.answered_at is None
                and invitation.reminder_sent_at is None
                and invitation.reminder_skipped_reason is None
            ):
                kind, due_at = "reminder", reminder_due_at(rule, _aware(invitation.sent_at), zone)
            else:
                continue
            if due_at is None:
                continue
            if due_at > now:
                upcoming.append(due_at)
                continue
            due.append(_Slot(kind, rule, event, customer, zone, due_at, expires_at(rule, event)))
    due.sort(key=lambda slot: (slot.due_at, slot.kind, slot.rule.id, slot.event.id))
    return due, min(upcoming, default=None)


def plan_sends(
    now: datetime,
    *,
    rules: Iterable[TriggerRule],
    events: Iterable[Event],
    invitations: Iterable[SentInvitation],
    customers: Mapping[str, CustomerFlags],
) -> Plan:
    """What is due at ``now`` and not yet recorded: sends, skips with reasons, and the next due time.

    ``events`` should cover every event that may still have work (not older than the longest delay +
    reminder + expiry); ``invitations`` every recorded slot of those events plus, for the over-survey
    limit, each customer's invitations sent within the longest ``max_per_customer_days``.
    """
    now = _aware(now).astimezone(UTC)
    invitations = list(invitations)
    last_asked: dict[str, datetime] = {}
    for invitation in invitations:
        if invitation.sent_at is not None:
            sent_at = _aware(invitation.sent_at)
            previous = last_asked.get(invitation.customer_key)
            last_asked[invitation.customer_key] = sent_at if previous is None else max(previous, sent_at)
    due, next_due_at = _due_slots(now, rules, events, invitations, customers)
    sends: list[Send] = []
    skips: list[Skip] = []
    for slot in due:
        blocked = _blocked(slot, now)
        if blocked is not None:
            skips.append(blocked)
            continue
        if in_quiet_hours(now, slot.rule.quiet_hours, slot.zone):
            wake = after_quiet_hours(now, slot.rule.quiet_hours, slot.zone)
            next_due_at = wake if next_due_at is None else min(next_due_at, wake)
            continue
        key = slot.event.customer_key
        limit = slot.rule.max_per_customer_days
        recently_asked = (
            key in last_asked and limit is not None and now - last_asked[key] < timedelta(days=limit)
        )
        if slot.kind == "invite" and recently_asked:
            when = _local_text(last_asked[key], slot.zone)
            skips.append(_skip(slot, "over_survey_limit", when=when, days=limit))
            continue
        sends.append(
            Send(
                kind=slot.kind,
                rule_id=slot.rule.id,
                survey_id=slot.rule.survey_id,
                event_id=slot.event.id,
                customer_key=key,
                due_at=slot.due_at,
                expires_at=slot.expires_at,
                idempotency_key=idempotency_key(slot.kind, slot.rule.id, slot.event.id),
            )
        )
        if slot.kind == "invite":
            last_asked[key] = now
    return Plan(sends=sends, skips=skips, next_due_at=next_due_at)
