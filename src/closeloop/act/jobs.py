"""Act in the background: route analysed feedback into cases, and watch SLAs.

``feedback.analysed`` events (written with the analysis) run the routing rules, in order, on each item
that is not yet in a case; a match opens a case for the rule's team with its priority, tags and SLA
due times. The SLA job marks breaches once and tells the team (webhook) about them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from closeloop.act.cases import detect_breaches, open_case
from closeloop.act.routing import RoutedItem, RoutingRule, dump_rules, load_rules, route
from closeloop.act.sla import due_times
from closeloop.analysis.taxonomy import active_taxonomy
from closeloop.jobs.analysis import FEEDBACK_ANALYSED, active_model_dir
from closeloop.jobs.events import on_batch
from closeloop.store.models import (
    Analysis,
    Case,
    CaseItem,
    Customer,
    Event,
    FeedbackItem,
    RoutingRuleRecord,
    Team,
    utcnow,
)

log = logging.getLogger("closeloop.act")
CASE_OPENED = "case.opened"


def stored_rules(session: Session) -> list[RoutingRule]:
    """The routing rules in evaluation order (disabled ones included; ``route`` skips them)."""
    records = list(
        session.scalars(select(RoutingRuleRecord).order_by(RoutingRuleRecord.position, RoutingRuleRecord.id))
    )
    return load_rules([{**r.definition, "enabled": r.enabled} for r in records]) if records else []


def replace_rules(session: Session, source: Any) -> list[RoutingRule]:
    """Validate ``source`` (YAML/JSON text or a list) and make it the whole ordered rule set."""
    # The categories of the taxonomy that analyses new feedback (a category added from /topics included).
    known = set(active_taxonomy(active_model_dir(session)).ids())
    rules = load_rules(source, known_categories=known)
    now = utcnow()
    existing = {r.id: r for r in session.scalars(select(RoutingRuleRecord))}
    for position, (rule, definition) in enumerate(zip(rules, dump_rules(rules), strict=True)):
        record = existing.pop(rule.id, None)
        if record is None:
            record = RoutingRuleRecord(id=rule.id, created_at=now)
            session.add(record)
        record.position = position
        record.definition = definition
        record.enabled = rule.enabled
        record.updated_at = now
    for record in existing.values():
        session.delete(record)
    session.flush()
    return rules


def routed_items(session: Session, item_ids: Sequence[int]) -> list[tuple[FeedbackItem, RoutedItem]]:
    """Items (not yet in a case) with their newest analysis and customer, ready for ``route``."""
    in_case = select(CaseItem.feedback_id).where(CaseItem.feedback_id.in_(item_ids))
    items = list(
        session.scalars(
            select(FeedbackItem).where(FeedbackItem.id.in_(item_ids), FeedbackItem.id.not_in(in_case))
        )
    )
    latest: dict[int, Analysis] = {}
    for analysis in session.scalars(
        select(Analysis).where(Analysis.feedback_id.in_([i.id for i in items])).order_by(Analysis.id)
    ):
        latest[analysis.feedback_id] = analysis
    customers = {
        c.id: c
        for c in session.scalars(
            select(Customer).where(Customer.id.in_({i.customer_id for i in items if i.customer_id}))
        )
    }
    return [
        (item, RoutedItem.from_records(item, latest.get(item.id), customers.get(item.customer_id or -1)))
        for item in items
    ]


def route_items(session: Session, item_ids: Sequence[int], *, now: datetime | None = None) -> list[Case]:
    """Run the rules on the items; open a case for each match. Returns the cases opened."""
    rules = stored_rules(session)
    if not rules:
        return []
    now = now or utcnow()
    opened = []
    for item, routed in routed_items(session, item_ids):
        decision = route(routed, rules)
        if decision is None:
            continue
        first_due, resolve_due = due_times(item.received_at or now, decision.sla)
        case = open_case(
            session,
            [item],
            team=decision.team,
            title=item.text[:120],
            priority=decision.priority,
            first_response_due=first_due,
            resolve_due=resolve_due,
            tags=decision.tags,
            rule_id=decision.rule_id,
            actor="routing",
            now=now,
        )
        session.add(Event(type=CASE_OPENED, payload={"case_id": case.id, "team": case.team}, created_at=now))
        opened.append(case)
    return opened


@on_batch(FEEDBACK_ANALYSED)
def route_analysed_feedback(factory: sessionmaker[Session], events: list[Event]) -> None:
    ids = sorted({item_id for event in events for item_id in event.payload.get("ids", [])})
    with factory() as session:
        route_items(session, ids)
        session.commit()


@on_batch(CASE_OPENED)
def tell_teams_about_new_cases(factory: sessionmaker[Session], events: list[Event]) -> None:
    with factory() as session:
        for event in events:
            case = session.get(Case, event.payload.get("case_id"))
            if case is not None:
                notify_team(session, case, "New case / 新工单")


def run_sla_check(factory: sessionmaker[Session], now: datetime | None = None) -> list[tuple[int, str]]:
    """Mark SLA breaches (each once) and notify the teams concerned."""
    now = now or utcnow()
    with factory() as session:
        found = detect_breaches(session, now)
        session.commit()
        for case_id, kind in found:
            case = session.get(Case, case_id)
            if case is not None:
                headline = f"SLA breach ({kind}) / 超时未{'响应' if kind == 'first_response' else '解决'}"
                notify_team(session, case, headline, event="case.sla_breach")
    return found


def notify_team(session: Session, case: Case, headline: str, *, event: str = "case.opened") -> None:
    """Tell the people concerned: the team's webhook (signed), and by e-mail the team's address and the
    case's assignee when SMTP is configured. Failures are logged, never raised: the case stands."""
    from closeloop.notify.mailer import Mail, MailError, mailer_from_settings
    from closeloop.notify.webhooks import Notification, WebhookTarget, send
    from closeloop.settings import get_settings

    settings = get_settings()
    team = session.get(Team, case.team)
    url = f"{settings.public_url.rstrip('/')}/cases/{case.id}"
    title = f"{headline}: #{case.id} {case.title[:60]}"
    text = f"团队 Team: {case.team} · 优先级 Priority: {case.priority} · 状态 Status: {case.status}"
    if team is not None and team.webhook_url:
        try:
            target = WebhookTarget(team.webhook_url, team.webhook_kind or "generic", team.webhook_secret)  # type: ignore[arg-type]
        except ValueError as exc:
            log.warning("team %s has an unusable webhook: %s", team.name, exc)
        else:
            result = send(
                target,
                Notification(
                    title=title,
                    text=text,
                    url=url,
                    fields={"case": str(case.id), "team": case.team, "priority": case.priority},
                    event=event,
                    payload={
                        "case_id": case.id,
                        "team": case.team,
                        "priority": case.priority,
                        "status": case.status,
                    },
                ),
                attempts=2,
                backoff=0.5,
            )
            if not result.ok:
                log.warning("webhook to team %s failed: %s", team.name, result.error)
    mailer = mailer_from_settings(settings)
    recipients = {
        address
        for address in (team.email if team else None, case.assignee.email if case.assignee else None)
        if address
    }
    for address in sorted(recipients) if mailer else ():
        try:
            mailer.send(
                Mail(
                    to=address,
                    subject=title,
                    text=f"{title}\n{text}\n{url}\n",
                    headers={"X-Closeloop-Event": event},
                )
            )
        except MailError as exc:
            log.warning("e-mail about case %s to %s failed: %s", case.id, address, exc)
