"""Closing the loop: when a case is resolved, the customers behind it are told what was done and asked
"is it solved?"; a "no" reopens the case. Plus the closed-loop rate and time to close per team.

A follow-up is recorded (``FollowUp``, unique ``key``) when the case is resolved, in the same transaction,
and sent by the background job: consent to ``follow_up`` honoured (an explicit no blocks; it concerns the
customer's own feedback, so no record is not a refusal), no e-mail address → skipped with the reason.
The answer link shows a page (mail scanners that open links answer nothing); the customer's click on
是 / 否 posts the answer.
"""

from __future__ import annotations

import secrets
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from closeloop.act.cases import change_status
from closeloop.collect.customers import consent_refused
from closeloop.notify.mailer import Mail, MailError, SmtpMailer
from closeloop.store.models import (
    ActionPlan,
    Case,
    CaseEvent,
    CaseItem,
    Customer,
    FeedbackItem,
    FollowUp,
    utcnow,
)

TEXTS = {
    "zh": {
        "subject": "您的反馈我们已处理",
        "intro": "您好！关于您反馈的问题：",
        "done": "我们的处理：",
        "ask": "问题解决了吗？",
        "yes": "已解决",
        "no": "没有解决",
        "default_reply": "我们已经处理了您反馈的问题。",
    },
    "en": {
        "subject": "We have acted on your feedback",
        "intro": "Hello! About the issue you raised:",
        "done": "What we did:",
        "ask": "Is it solved?",
        "yes": "Yes, solved",
        "no": "No, not solved",
        "default_reply": "We have acted on the issue you reported.",
    },
}


class FollowUpError(ValueError):
    pass


def answer_path(token: str, solved: bool | None = None) -> str:
    suffix = "" if solved is None else ("?solved=yes" if solved else "?solved=no")
    return f"/f/{token}{suffix}"


def case_customers(session: Session, case: Case) -> list[int]:
    """The customers behind a case: its own customer and those of its feedback items."""
    ids = set(
        session.scalars(
            select(FeedbackItem.customer_id)
            .join(CaseItem, CaseItem.feedback_id == FeedbackItem.id)
            .where(CaseItem.case_id == case.id, FeedbackItem.customer_id.is_not(None))
        )
    )
    if case.customer_id:
        ids.add(case.customer_id)
    return sorted(ids)


def _last_reply(session: Session, case: Case) -> str | None:
    return session.scalar(
        select(CaseEvent.body)
        .where(CaseEvent.case_id == case.id, CaseEvent.kind == "reply")
        .order_by(CaseEvent.id.desc())
        .limit(1)
    )


def _record_follow_ups(
    session: Session,
    keyed_customers: list[tuple[str, int]],
    *,
    message: str,
    now: datetime,
    case_id: int | None = None,
    action_plan_id: int | None = None,
) -> list[FollowUp]:
    """A pending follow-up for each (key, customer) not recorded yet; the unique key makes it once only."""
    created = []
    for key, customer_id in keyed_customers:
        if session.scalar(select(FollowUp.id).where(FollowUp.key == key)) is not None:
            continue
        follow_up = FollowUp(
            key=key,
            case_id=case_id,
            action_plan_id=action_plan_id,
            customer_id=customer_id,
            token=secrets.token_urlsafe(24),
            status="pending",
            message=message,
            created_at=now,
            attempts=0,
        )
        session.add(follow_up)
        created.append(follow_up)
    session.flush()
    return created


def plan_case_follow_ups(session: Session, case: Case, *, now: datetime | None = None) -> list[FollowUp]:
    """Record one follow-up per customer behind a just-resolved case (once per resolution round)."""
    keyed = [(f"case:{case.id}:{case.reopened}:{cid}", cid) for cid in case_customers(session, case)]
    message = _last_reply(session, case) or ""
    return _record_follow_ups(session, keyed, message=message, now=now or utcnow(), case_id=case.id)


PLAN_LOOKBACK = timedelta(days=90)
PLAN_MAX_CUSTOMERS = 10_000


def plan_action_plan_follow_ups(
    session: Session, plan: ActionPlan, *, now: datetime | None = None
) -> list[FollowUp]:
    """When an action plan ships: one follow-up for each customer who gave feedback on its theme in the
    90 days before, telling them what changed and asking whether it helped."""
    from closeloop.act.plans import theme_items

    now = now or utcnow()
    shipped = plan.shipped_at or now
    items = theme_items(session, plan.theme or {}, since=shipped - PLAN_LOOKBACK, until=shipped).subquery()
    customers = session.scalars(
        select(items.c.customer_id)
        .where(items.c.customer_id.is_not(None))
        .distinct()
        .limit(PLAN_MAX_CUSTOMERS)
    )
    keyed = [(f"plan:{plan.id}:{cid}", cid) for cid in sorted(customers)]
    message = (plan.title + ("\n" + plan.description if plan.description else "")).strip()
    return _record_follow_ups(session, keyed, message=message, now=now, action_plan_id=plan.id)


def compose(
    follow_up: FollowUp, customer: Customer, case: Case | None, *, public_url: str, topic: str | None = None
) -> Mail:
    lang = customer.language if customer.language in TEXTS else "zh"
    t = TEXTS[lang]
    base = public_url.rstrip("/")
    yes, no = base + answer_path(follow_up.token, True), base + answer_path(follow_up.token, False)
    topic = topic if topic is not None else (case.title if case else "")
    done = follow_up.message or t["default_reply"]
    text = (
        f"{t['intro']}\n{topic}\n\n{t['done']}\n{done}\n\n"
        f"{t['ask']}\n  {t['yes']}: {yes}\n  {t['no']}: {no}\n"
    )
    html = (
        f"<p>{escape(t['intro'])}</p><blockquote>{escape(topic)}</blockquote>"
        f"<p>{escape(t['done'])}</p><p>{escape(done)}</p><p><b>{escape(t['ask'])}</b></p>"
        f'<p><a href="{escape(yes)}">{escape(t["yes"])}</a> &nbsp; '
        f'<a href="{escape(no)}">{escape(t["no"])}</a></p>'
    )
    return Mail(
        to=customer.email or "",
        subject=t["subject"],
        text=text,
        html=html,
        headers={"X-Closeloop-Follow-Up": follow_up.key},
    )


@dataclass(slots=True)
class FollowUpReport:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def send_follow_ups(
    factory: sessionmaker[Session], mailer: SmtpMailer, *, public_url: str, now: datetime | None = None
) -> FollowUpReport:
    """Send every pending follow-up (each committed as sent right after SMTP accepted it)."""
    now = now or utcnow()
    report = FollowUpReport()
    with factory() as session:
        pending = list(
            session.scalars(select(FollowUp.id).where(FollowUp.status == "pending").order_by(FollowUp.id))
        )
    for follow_up_id in pending:
        with factory() as session:
            follow_up = session.get(FollowUp, follow_up_id)
            if follow_up is None or follow_up.status != "pending":
                continue
            customer = session.scalars(
                select(Customer)
                .where(Customer.id == follow_up.customer_id)
                .options(selectinload(Customer.consents))
            ).one()
            reason = (
                "no_consent"
                if consent_refused(customer, "follow_up")
                else ("no_email" if not customer.email else None)
            )
            if reason:
                follow_up.status, follow_up.skipped_reason = "skipped", reason
                session.commit()
                report.skipped += 1
                continue
            case = session.get(Case, follow_up.case_id) if follow_up.case_id else None
            plan = session.get(ActionPlan, follow_up.action_plan_id) if follow_up.action_plan_id else None
            mail = compose(
                follow_up, customer, case, public_url=public_url, topic=plan.title if plan else None
            )
            follow_up.attempts += 1
            try:
                mailer.send(mail)
            except MailError as exc:
                follow_up.last_error = str(exc)[:2000]
                session.commit()
                report.failed += 1
                report.errors.append(str(exc))
                continue
            follow_up.status, follow_up.sent_at, follow_up.last_error = "sent", now, None
            if case is not None:
                session.add(
                    CaseEvent(
                        case_id=case.id,
                        at=now,
                        actor="system",
                        kind="follow_up_sent",
                        detail={"follow_up": follow_up.id},
                    )
                )
            session.commit()
            report.sent += 1
    return report


def follow_up_for_token(session: Session, token: str) -> FollowUp | None:
    return session.scalars(select(FollowUp).where(FollowUp.token == token)).first()


def record_answer(
    session: Session,
    follow_up: FollowUp,
    *,
    solved: bool,
    comment: str | None = None,
    now: datetime | None = None,
) -> None:
    """The customer's answer: "yes" closes the case, "no" reopens it (the last answer wins while the case
    has not moved on)."""
    now = now or utcnow()
    follow_up.status, follow_up.solved, follow_up.answered_at = "answered", solved, now
    follow_up.comment = (comment or "").strip()[:5000] or None
    if follow_up.case_id is None:
        return
    case = session.get(Case, follow_up.case_id)
    if case is None:
        return
    session.add(
        CaseEvent(
            case_id=case.id,
            at=now,
            actor="customer",
            kind="customer_answer",
            body=follow_up.comment,
            detail={"solved": solved, "follow_up": follow_up.id},
        )
    )
    if solved and case.status == "resolved":
        change_status(
            session, case, "closed", actor="customer", now=now, note="客户确认已解决 / customer confirmed"
        )
    elif not solved and case.status in ("resolved", "closed"):
        change_status(
            session,
            case,
            "in_progress",
            actor="customer",
            now=now,
            note="客户表示未解决 / customer says not solved",
        )
    session.flush()


def loop_metrics(
    session: Session, *, since: datetime | None = None, until: datetime | None = None
) -> dict[str, Any]:
    """Per team: cases resolved, followed up, answered, confirmed solved; closed-loop rate (confirmed
    solved ÷ resolved); follow-up response rate; reopened; median and mean hours to close."""
    stmt = select(Case).where(Case.resolved_at.is_not(None) | Case.closed_at.is_not(None))
    if since:
        stmt = stmt.where(Case.created_at >= since)
    if until:
        stmt = stmt.where(Case.created_at < until)
    cases = list(session.scalars(stmt))
    follow_ups: dict[int, list[FollowUp]] = {}
    if cases:
        for f in session.scalars(select(FollowUp).where(FollowUp.case_id.in_([c.id for c in cases]))):
            follow_ups.setdefault(f.case_id or 0, []).append(f)
    teams: dict[str, dict[str, Any]] = {}
    for case in cases:
        entry = teams.setdefault(
            case.team,
            {"resolved": 0, "followed_up": 0, "answered": 0, "confirmed": 0, "reopened": 0, "hours": []},
        )
        entry["resolved"] += 1
        entry["reopened"] += case.reopened > 0
        mine = follow_ups.get(case.id, [])
        entry["followed_up"] += any(f.sent_at for f in mine)
        entry["answered"] += any(f.answered_at for f in mine)
        latest = max((f for f in mine if f.answered_at), key=lambda f: f.answered_at, default=None)
        entry["confirmed"] += bool(latest and latest.solved)
        if case.closed_at:
            entry["hours"].append((case.closed_at - case.created_at).total_seconds() / 3600)
    for entry in teams.values():
        hours = entry.pop("hours")
        entry["closed_loop_rate"] = (
            round(entry["confirmed"] / entry["resolved"], 4) if entry["resolved"] else None
        )
        entry["response_rate"] = (
            round(entry["answered"] / entry["followed_up"], 4) if entry["followed_up"] else None
        )
        entry["median_hours_to_close"] = round(statistics.median(hours), 2) if hours else None
        entry["mean_hours_to_close"] = round(statistics.fmean(hours), 2) if hours else None
        entry["closed"] = len(hours)
    return {"teams": dict(sorted(teams.items()))}
