"""Invitations in the store: rules and customer events come in; the scheduler sends what is due.

Every tick reads the active rules, the recent events and what was already recorded, asks the pure
planner (``ask.schedule.plan_sends``) what is due now, then for each send: records the slot under its
unique key and commits, hands the e-mail to SMTP, marks it sent and commits. So a restart repeats no
recorded send and loses none (what was not marked sent is planned again); an SMTP failure leaves the
slot unsent, with the error, for the next tick. Only a crash in the instant between the SMTP server's
"accepted" and the commit can send one message twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload, sessionmaker

from closeloop.ask.definitions import Survey, normalize_language
from closeloop.ask.emails import compose
from closeloop.ask.schedule import (
    CustomerFlags,
    Event,
    SentInvitation,
    TriggerRule,
    plan_sends,
    send_time_variant,
)
from closeloop.ask.service import as_variant, choose_variant, load, new_token
from closeloop.collect.customers import consent_in_force, consent_refused
from closeloop.collect.records import CustomerRef
from closeloop.notify.mailer import MailError, SmtpMailer
from closeloop.store.models import (
    Customer,
    CustomerEvent,
    Invitation,
    SurveyRecord,
    TriggerRuleRecord,
    utcnow,
)

DEFAULT_HORIZON = timedelta(days=30)  # how long after its last possible send an event is still looked at


class RuleError(ValueError):
    """A trigger rule that cannot be accepted (bad fields, unknown survey)."""


@dataclass(slots=True)
class TickReport:
    sent: int = 0
    reminded: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    next_due_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "reminded": self.reminded,
            "skipped": self.skipped,
            "failed": self.failed,
            "errors": self.errors[:10],
            "next_due_at": self.next_due_at.isoformat() if self.next_due_at else None,
        }


def save_rule(session: Session, definition: dict[str, Any]) -> TriggerRuleRecord:
    """Create or replace a trigger rule (validated; its survey must exist)."""
    try:
        rule = TriggerRule.model_validate(definition)
    except ValueError as exc:
        raise RuleError(str(exc)) from None
    if session.get(SurveyRecord, rule.survey_id) is None:
        raise RuleError(f"survey_id: no survey {rule.survey_id!r}")
    record = session.get(TriggerRuleRecord, rule.id)
    if record is None:
        record = TriggerRuleRecord(
            id=rule.id, survey_id=rule.survey_id, event_type=rule.event_type, definition={}
        )
        session.add(record)
    record.survey_id = rule.survey_id
    record.event_type = rule.event_type
    record.definition = dict(definition)
    record.active = True
    session.flush()
    return record


@dataclass(frozen=True, slots=True)
class EventIn:
    external_id: str
    type: str
    customer: CustomerRef
    occurred_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)


def record_events(session: Session, events: Sequence[EventIn]) -> tuple[int, int]:
    """Store customer events (customers created or updated); a known ``external_id`` is skipped.
    Returns (stored, duplicates)."""
    from closeloop.collect.customers import upsert_customer

    stored = duplicates = 0
    known = set(
        session.scalars(
            select(CustomerEvent.external_id).where(
                CustomerEvent.external_id.in_([e.external_id for e in events])
            )
        )
    )
    for event in events:
        if event.external_id in known:
            duplicates += 1
            continue
        customer = upsert_customer(session, event.customer)
        session.add(
            CustomerEvent(
                external_id=event.external_id,
                type=event.type,
                customer_id=customer.id,
                occurred_at=event.occurred_at,
                payload=event.payload,
            )
        )
        known.add(event.external_id)
        stored += 1
    session.flush()
    return stored, duplicates


def _horizon(rules: Sequence[TriggerRule]) -> timedelta:
    return max(
        rule.delay[1] + (rule.reminder_after or timedelta(0)) + (rule.expires_after or DEFAULT_HORIZON)
        for rule in rules
    )


@dataclass(slots=True)
class _Snapshot:
    rules: list[TriggerRule]
    events: dict[str, CustomerEvent]
    customers: dict[str, Customer]
    invitations: dict[str, Invitation]  # by key
    surveys: dict[str, Survey]


def _snapshot(session: Session, now: datetime) -> _Snapshot | None:
    records = list(session.scalars(select(TriggerRuleRecord).where(TriggerRuleRecord.active.is_(True))))
    rules = [TriggerRule.model_validate(r.definition) for r in records]
    if not rules:
        return None
    types = {rule.event_type for rule in rules}
    events = list(
        session.scalars(
            select(CustomerEvent).where(
                CustomerEvent.type.in_(types), CustomerEvent.occurred_at >= now - _horizon(rules)
            )
        )
    )
    customer_ids = {event.customer_id for event in events}
    customers = {
        c.id: c
        for c in session.scalars(
            select(Customer).where(Customer.id.in_(customer_ids)).options(selectinload(Customer.consents))
        )
    }
    limit_days = max((rule.max_per_customer_days or 0) for rule in rules)
    since = now - timedelta(days=limit_days)
    invitations = list(
        session.scalars(
            select(Invitation).where(
                or_(
                    Invitation.event_id.in_([e.id for e in events]),
                    (Invitation.customer_id.in_(customer_ids)) & (Invitation.sent_at >= since),
                )
            )
        )
    )
    surveys = {rule.survey_id: load(session, rule.survey_id).survey for rule in rules}
    return _Snapshot(
        rules=rules,
        events={str(e.id): e for e in events},
        customers={c.external_id: c for c in customers.values()},
        invitations={i.key: i for i in invitations},
        surveys=surveys,
    )


def _planner_inputs(
    snapshot: _Snapshot,
) -> tuple[list[Event], list[SentInvitation], dict[str, CustomerFlags]]:
    by_id = {c.id: c for c in snapshot.customers.values()}
    events = [
        Event(id=key, type=e.type, customer_key=by_id[e.customer_id].external_id, occurred_at=e.occurred_at)
        for key, e in snapshot.events.items()
        if e.customer_id in by_id
    ]
    sent = [
        SentInvitation(
            rule_id=i.rule_id,
            event_id=str(i.event_id),
            customer_key=by_id[i.customer_id].external_id if i.customer_id in by_id else str(i.customer_id),
            sent_at=i.sent_at,
            skipped_reason=i.skipped_reason,
            reminder_sent_at=i.reminder_sent_at,
            reminder_skipped_reason=i.reminder_skipped_reason,
            answered_at=i.answered_at,
        )
        for i in snapshot.invitations.values()
    ]
    flags = {
        c.external_id: CustomerFlags(
            consent=consent_in_force(c, "survey"),
            unsubscribed=consent_refused(c, "survey"),
            has_email=bool(c.email),
            timezone=(c.attributes or {}).get("timezone"),
        )
        for c in snapshot.customers.values()
    }
    return events, sent, flags


def _slot_key(rule_id: str, event_id: str) -> str:
    return f"invite:{rule_id}:{event_id}"


def run_invitations(
    factory: sessionmaker[Session], mailer: SmtpMailer, *, now: datetime | None = None, public_url: str
) -> TickReport:
    """One scheduler tick at ``now``: record skips, send due invitations and reminders."""
    now = now or utcnow()
    report = TickReport()
    with factory() as session:
        snapshot = _snapshot(session, now)
        session.commit()
    if snapshot is None:
        return report
    events, sent, flags = _planner_inputs(snapshot)
    rules = {rule.id: rule for rule in snapshot.rules}
    plan = plan_sends(now, rules=snapshot.rules, events=events, invitations=sent, customers=flags)
    report.next_due_at = plan.next_due_at
    for skip in plan.skips:
        _record_skip(factory, snapshot, skip.kind, skip.rule_id, skip.event_id, skip.reason, skip.due_at)
        report.skipped += 1
    for send in plan.sends:
        event = snapshot.events[send.event_id]
        customer = snapshot.customers[send.customer_key]
        survey = snapshot.surveys[send.survey_id]
        invitation = _claim(
            factory, snapshot, rules[send.rule_id], event, customer, survey, send.kind, send.due_at
        )
        if invitation is None:
            continue
        language = normalize_language(customer.language, survey.default_language)
        mail = compose(
            as_variant(survey, invitation.variant),
            to=customer.email or "",
            token=invitation.token,
            language=language,
            public_url=public_url,
            kind=send.kind,
            key=send.idempotency_key,
        )
        try:
            mailer.send(mail)
        except MailError as exc:
            _record_failure(factory, invitation.id, str(exc))
            report.failed += 1
            report.errors.append(str(exc))
            continue
        _mark_sent(factory, invitation.id, send.kind, now)
        if send.kind == "invite":
            report.sent += 1
        else:
            report.reminded += 1
    return report


def _record_skip(
    factory: sessionmaker[Session],
    snapshot: _Snapshot,
    kind: str,
    rule_id: str,
    event_id: str,
    reason: str,
    due_at: datetime,
) -> None:
    key = _slot_key(rule_id, event_id)
    with factory() as session:
        invitation = session.scalars(select(Invitation).where(Invitation.key == key)).first()
        if kind == "reminder":
            if invitation is not None and invitation.reminder_sent_at is None:
                invitation.reminder_skipped_reason = reason
        elif invitation is None:
            event = snapshot.events[event_id]
            rule = next(r for r in snapshot.rules if r.id == rule_id)
            session.add(
                Invitation(
                    key=key,
                    rule_id=rule_id,
                    survey_id=rule.survey_id,
                    event_id=event.id,
                    customer_id=event.customer_id,
                    token=new_token(),
                    status="skipped",
                    due_at=due_at,
                    skipped_reason=reason,
                )
            )
        elif invitation.sent_at is None and invitation.status != "skipped":
            invitation.status = "skipped"
            invitation.skipped_reason = reason
        _commit_once(session)


def _claim(
    factory: sessionmaker[Session],
    snapshot: _Snapshot,
    rule: TriggerRule,
    event: CustomerEvent,
    customer: Customer,
    survey: Survey,
    kind: str,
    due_at: datetime,
) -> Invitation | None:
    """The invitation row for this slot, recorded (and committed) before anything is sent."""
    key = _slot_key(rule.id, str(event.id))
    with factory() as session:
        invitation = session.scalars(select(Invitation).where(Invitation.key == key)).first()
        if kind == "invite":
            if invitation is None:
                invitation = Invitation(
                    key=key,
                    rule_id=rule.id,
                    survey_id=rule.survey_id,
                    event_id=event.id,
                    customer_id=customer.id,
                    variant=send_time_variant(rule, customer.external_id)
                    or choose_variant(survey, customer.external_id),
                    token=new_token(),
                    status="sending",
                    due_at=due_at,
                    attempts=0,
                )
                session.add(invitation)
            elif invitation.sent_at is not None or invitation.status == "skipped":
                session.rollback()
                return None
        elif invitation is None or invitation.reminder_sent_at is not None:
            session.rollback()
            return None
        invitation.attempts = (invitation.attempts or 0) + 1
        if not _commit_once(session):
            return None
        session.refresh(invitation)
        session.expunge(invitation)
        return invitation


def _commit_once(session: Session) -> bool:
    """Commit; a concurrent scheduler that recorded the same slot first wins (False here)."""
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


def _record_failure(factory: sessionmaker[Session], invitation_id: int, error: str) -> None:
    with factory() as session:
        invitation = session.get(Invitation, invitation_id)
        if invitation is not None:
            invitation.last_error = error[:2000]
        session.commit()


def _mark_sent(factory: sessionmaker[Session], invitation_id: int, kind: str, now: datetime) -> None:
    with factory() as session:
        invitation = session.get(Invitation, invitation_id)
        if invitation is not None:
            if kind == "invite":
                invitation.sent_at = now
                invitation.status = "sent"
            else:
                invitation.reminder_sent_at = now
            invitation.last_error = None
        session.commit()
