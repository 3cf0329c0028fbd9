"""Cases: open one for feedback, assign it within its team, move it through its states, comment and reply,
and detect SLA breaches. Every change is a ``CaseEvent`` (the history). Functions work in the caller's
transaction; a clock (``now``) is passed in wherever time matters.

States: new → assigned → in_progress → waiting_on_customer → resolved → closed; a resolved or closed case
can be reopened (back to in_progress).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, false, func, select
from sqlalchemy.orm import Session

from closeloop.store.models import Case, CaseEvent, CaseItem, FeedbackItem, Role, Team, User, utcnow

STATES = ("new", "assigned", "in_progress", "waiting_on_customer", "resolved", "closed")
OPEN_STATES = ("new", "assigned", "in_progress", "waiting_on_customer")
PRIORITIES = ("urgent", "high", "normal", "low")
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"assigned", "in_progress", "resolved", "closed"}),
    "assigned": frozenset({"new", "in_progress", "waiting_on_customer", "resolved", "closed"}),
    "in_progress": frozenset({"assigned", "waiting_on_customer", "resolved", "closed"}),
    "waiting_on_customer": frozenset({"in_progress", "resolved", "closed"}),
    "resolved": frozenset({"in_progress", "closed"}),  # in_progress = reopen
    "closed": frozenset({"in_progress"}),  # reopen
}
# Moving into these counts as the team's first response to the customer.
RESPONDING_STATES = frozenset({"in_progress", "waiting_on_customer", "resolved"})


class CaseError(ValueError):
    """A change the case's state or the caller's team does not allow (message in en / zh)."""


def _event(
    session: Session, case: Case, kind: str, actor: str | None, now: datetime, **detail: Any
) -> CaseEvent:
    body = detail.pop("body", None)
    event = CaseEvent(case_id=case.id, at=now, actor=actor, kind=kind, body=body, detail=detail)
    session.add(event)
    return event


def open_case(
    session: Session,
    items: Sequence[FeedbackItem],
    *,
    team: str,
    title: str,
    priority: str = "normal",
    first_response_within: timedelta | None = None,
    resolve_within: timedelta | None = None,
    first_response_due: datetime | None = None,
    resolve_due: datetime | None = None,
    tags: Sequence[str] = (),
    rule_id: str | None = None,
    actor: str | None = None,
    now: datetime | None = None,
) -> Case:
    """A new case for ``items`` (none may already be in a case), assigned by the team's strategy."""
    now = now or utcnow()
    if priority not in PRIORITIES:
        raise CaseError(f"priority {priority!r}: one of {', '.join(PRIORITIES)}")
    if not items:
        raise CaseError("a case needs at least one feedback item / 工单至少需要一条反馈")
    taken = session.scalars(
        select(CaseItem.feedback_id).where(CaseItem.feedback_id.in_([i.id for i in items]))
    )
    if already := sorted(taken):
        raise CaseError(f"feedback {already} is already in a case / 该反馈已在工单中")
    case = Case(
        title=title[:512],
        team=team,
        status="new",
        priority=priority,
        tags=list(tags),
        routing_rule_id=rule_id,
        customer_id=next((i.customer_id for i in items if i.customer_id), None),
        first_response_due=first_response_due
        or (now + first_response_within if first_response_within else None),
        resolve_due=resolve_due or (now + resolve_within if resolve_within else None),
        reopened=0,
        created_at=now,
        updated_at=now,
    )
    session.add(case)
    session.flush()
    session.add_all(CaseItem(case_id=case.id, feedback_id=item.id) for item in items)
    _event(
        session,
        case,
        "created",
        actor,
        now,
        team=team,
        priority=priority,
        rule_id=rule_id,
        items=[i.id for i in items],
    )
    auto_assign(session, case, now=now)
    session.flush()
    return case


def team_agents(session: Session, team: str) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .where(
                User.team == team,
                User.is_active.is_(True),
                User.role.in_([Role.agent.value, Role.analyst.value]),
            )
            .order_by(User.id)
        )
    )


def auto_assign(session: Session, case: Case, *, now: datetime | None = None) -> User | None:
    """Assign by the team's strategy: ``least_loaded`` (fewest open cases, then longest idle) or
    ``round_robin`` (the agent after the one who got the team's last case); ``manual`` leaves it."""
    team = session.get(Team, case.team)
    strategy = team.assignment if team else "least_loaded"
    agents = team_agents(session, case.team)
    if strategy == "manual" or not agents:
        return None
    if strategy == "round_robin":
        last = session.scalar(
            select(Case.assignee_id)
            .where(Case.team == case.team, Case.assignee_id.is_not(None), Case.id != case.id)
            .order_by(Case.id.desc())
            .limit(1)
        )
        ids = [a.id for a in agents]
        chosen = agents[(ids.index(last) + 1) % len(agents)] if last in ids else agents[0]
    else:
        load = dict(
            session.execute(
                select(Case.assignee_id, func.count())
                .where(Case.assignee_id.in_([a.id for a in agents]), Case.status.in_(OPEN_STATES))
                .group_by(Case.assignee_id)
            ).all()
        )
        chosen = min(agents, key=lambda a: (load.get(a.id, 0), a.id))
    assign(session, case, chosen, actor="system", now=now)
    return chosen


def assign(
    session: Session, case: Case, user: User | None, *, actor: str | None, now: datetime | None = None
) -> None:
    """Give the case to ``user`` (None: unassign); a new case becomes ``assigned``."""
    now = now or utcnow()
    if user is not None and user.team != case.team and user.role == Role.agent.value:
        raise CaseError(f"{user.email} is not in team {case.team} / 该成员不在此团队")
    case.assignee_id = user.id if user else None
    if user is not None and case.status == "new":
        case.status = "assigned"
    elif user is None and case.status == "assigned":
        case.status = "new"
    case.updated_at = now
    _event(session, case, "assigned", actor, now, assignee=user.email if user else None)


def change_status(
    session: Session,
    case: Case,
    to: str,
    *,
    actor: str | None,
    now: datetime | None = None,
    note: str | None = None,
) -> None:
    """Move the case to ``to`` if its state allows it, recording response, resolution and reopen times."""
    now = now or utcnow()
    if to not in STATES:
        raise CaseError(f"status {to!r}: one of {', '.join(STATES)}")
    if to == case.status:
        return
    if to not in TRANSITIONS[case.status]:
        raise CaseError(f"a {case.status} case cannot become {to} / 工单状态不能从 {case.status} 变为 {to}")
    before = case.status
    if to in RESPONDING_STATES and case.first_responded_at is None:
        case.first_responded_at = now
    if to == "resolved":
        case.resolved_at = now
    if to == "closed":
        case.closed_at = now
        case.resolved_at = case.resolved_at or now
    if before in ("resolved", "closed") and to == "in_progress":
        case.reopened += 1
        case.resolved_at = None
        case.closed_at = None
    case.status = to
    case.updated_at = now
    _event(session, case, "status", actor, now, before=before, after=to, body=note)
    if to == "resolved":
        from closeloop.act.follow_up import plan_case_follow_ups  # (follow_up builds on this module)

        session.flush()
        plan_case_follow_ups(session, case, now=now)


def change_priority(
    session: Session, case: Case, priority: str, *, actor: str | None, now: datetime | None = None
) -> None:
    """Set the case's priority (recorded in its history when it changes)."""
    if priority not in PRIORITIES:
        raise CaseError(f"priority {priority!r}: one of {', '.join(PRIORITIES)} / 优先级无效")
    if priority == case.priority:
        return
    now = now or utcnow()
    _event(session, case, "priority", actor, now, before=case.priority, after=priority)
    case.priority = priority
    case.updated_at = now


def add_comment(
    session: Session, case: Case, *, actor: str, body: str, internal: bool = True, now: datetime | None = None
) -> CaseEvent:
    """An internal note, or (``internal=False``) a reply to the customer, which counts as a response."""
    now = now or utcnow()
    body = body.strip()
    if not body:
        raise CaseError("an empty comment / 评论为空")
    if not internal and case.first_responded_at is None:
        case.first_responded_at = now
    case.updated_at = now
    return _event(session, case, "comment" if internal else "reply", actor, now, body=body[:20_000])


def detect_breaches(session: Session, now: datetime) -> list[tuple[int, str]]:
    """Mark (once) every open case whose first-response or resolution due time has passed; returns
    (case id, "first_response" | "resolve") for the breaches found now."""
    found: list[tuple[int, str]] = []
    first = select(Case).where(
        Case.first_response_due < now,
        Case.first_responded_at.is_(None),
        Case.first_response_breached_at.is_(None),
    )
    for case in session.scalars(first):
        case.first_response_breached_at = now
        _event(
            session,
            case,
            "sla_breach",
            "system",
            now,
            sla="first_response",
            due=case.first_response_due.isoformat(),
        )
        found.append((case.id, "first_response"))
    resolve = select(Case).where(
        Case.resolve_due < now, Case.resolved_at.is_(None), Case.resolve_breached_at.is_(None)
    )
    for case in session.scalars(resolve):
        case.resolve_breached_at = now
        _event(session, case, "sla_breach", "system", now, sla="resolve", due=case.resolve_due.isoformat())
        found.append((case.id, "resolve"))
    session.flush()
    return found


def scoped(stmt: Select, user: User) -> Select:
    """Limit a select over ``Case`` to what ``user`` may see: an agent only their team's cases."""
    if user.role == Role.agent.value:
        return stmt.where(Case.team == user.team) if user.team else stmt.where(false())
    return stmt


def may_work(user: User, case: Case) -> bool:
    return user.role != Role.agent.value or (user.team is not None and user.team == case.team)
