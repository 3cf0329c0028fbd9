"""The periodic digest per team: new cases, SLA breaches, the top themes with example verbatims, and the
effect of the team's shipped action plans. Sent by e-mail to the team's address, once per period."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from html import escape
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from closeloop.accounts import audit
from closeloop.analysis.taxonomy import load_taxonomy
from closeloop.notify.mailer import Mail, MailError, SmtpMailer
from closeloop.store.models import Analysis, AuditEntry, Case, CaseItem, FeedbackItem, Team, utcnow

EXAMPLES_PER_THEME = 2


@dataclass(slots=True)
class Digest:
    team: str
    since: datetime
    until: datetime
    new_cases: int = 0
    open_cases: int = 0
    resolved: int = 0
    breaches: int = 0
    urgent_open: int = 0
    themes: list[dict[str, Any]] = field(default_factory=list)
    plans: list[dict[str, Any]] = field(default_factory=list)


def build_digest(session: Session, team: str, *, since: datetime, until: datetime) -> Digest:
    digest = Digest(team=team, since=since, until=until)
    cases = list(session.scalars(select(Case).where(Case.team == team)))
    digest.new_cases = sum(since <= c.created_at < until for c in cases)
    digest.open_cases = sum(
        c.status in ("new", "assigned", "in_progress", "waiting_on_customer") for c in cases
    )
    digest.resolved = sum(bool(c.resolved_at and since <= c.resolved_at < until) for c in cases)
    digest.breaches = sum(
        any(
            at is not None and since <= at < until
            for at in (c.first_response_breached_at, c.resolve_breached_at)
        )
        for c in cases
    )
    digest.urgent_open = sum(c.priority == "urgent" and c.status not in ("resolved", "closed") for c in cases)
    new_ids = [c.id for c in cases if since <= c.created_at < until]
    items = (
        list(
            session.execute(
                select(FeedbackItem.id, FeedbackItem.text)
                .join(CaseItem, CaseItem.feedback_id == FeedbackItem.id)
                .where(CaseItem.case_id.in_(new_ids))
            )
        )
        if new_ids
        else []
    )
    latest: dict[int, Analysis] = {}
    if items:
        for analysis in session.scalars(
            select(Analysis).where(Analysis.feedback_id.in_([i for i, _ in items])).order_by(Analysis.id)
        ):
            latest[analysis.feedback_id] = analysis
    counts: Counter[str] = Counter()
    examples: dict[str, list[str]] = {}
    for item_id, text in items:
        analysis = latest.get(item_id)
        for category in (analysis.categories if analysis else None) or ["uncategorised"]:
            counts[category] += 1
            if len(examples.setdefault(category, [])) < EXAMPLES_PER_THEME:
                examples[category].append(text[:200])
    taxonomy = load_taxonomy()
    names = {c.id: (c.name_zh, c.name_en) for c in taxonomy.categories}
    digest.themes = [
        {
            "category": category,
            "name_zh": names.get(category, (category, category))[0],
            "name_en": names.get(category, (category, category))[1],
            "cases": count,
            "examples": examples[category],
        }
        for category, count in counts.most_common(5)
    ]
    digest.plans = _plan_effects(session, team, until)
    return digest


def _plan_effects(session: Session, team: str, now: datetime) -> list[dict[str, Any]]:
    """Shipped action plans of the team with their measured effect (when action plans are available)."""
    try:
        from closeloop.act.plans import effect
        from closeloop.store.models import ActionPlan
    except ImportError:  # pragma: no cover - action plans ship with the same release
        return []
    found = []
    for plan in session.scalars(
        select(ActionPlan).where(ActionPlan.team == team, ActionPlan.shipped_at.is_not(None))
    ):
        result = effect(session, plan, now=now)
        found.append(
            {
                "title": plan.title,
                "effect": result if isinstance(result, dict) else getattr(result, "__dict__", {}),
            }
        )
    return found


def _period_text(digest: Digest) -> str:
    return f"{digest.since:%Y-%m-%d} – {(digest.until - timedelta(seconds=1)):%Y-%m-%d}"


def compose(digest: Digest, *, to: str, public_url: str) -> Mail:
    lines = [
        f"团队周报 Team digest · {digest.team} · {_period_text(digest)}",
        "",
        f"新工单 New cases: {digest.new_cases}",
        f"已解决 Resolved: {digest.resolved}",
        f"超时 SLA breaches: {digest.breaches}",
        f"未结 Open: {digest.open_cases} (紧急 urgent: {digest.urgent_open})",
        "",
        "主要问题 Top themes:",
    ]
    for theme in digest.themes:
        lines.append(f"- {theme['name_zh']} {theme['name_en']}: {theme['cases']}")
        lines.extend(f"    “{example}”" for example in theme["examples"])
    if digest.plans:
        lines += ["", "改进计划效果 Action plans:"]
        for plan in digest.plans:
            verdict = plan["effect"].get("verdict") or plan["effect"].get("verdict_en") or ""
            lines.append(f"- {plan['title']}: {verdict}")
    lines += ["", f"{public_url.rstrip('/')}/cases"]
    text = "\n".join(lines) + "\n"
    html = "<pre style='font-family:inherit;white-space:pre-wrap'>" + escape(text) + "</pre>"
    return Mail(
        to=to,
        subject=f"团队周报 Team digest: {digest.team} ({_period_text(digest)})",
        text=text,
        html=html,
        headers={"X-Closeloop-Digest": f"{digest.team}:{digest.since:%Y%m%d}"},
    )


def send_digests(
    factory: sessionmaker[Session],
    mailer: SmtpMailer,
    *,
    public_url: str,
    period: timedelta = timedelta(days=7),
    now: datetime | None = None,
) -> dict[str, str]:
    """For every team with an e-mail address, the digest of the last full period, sent once (recorded in
    the audit log under ``digest.sent``). Returns {team: "sent" | "already sent" | error}."""
    now = now or utcnow()
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    until, since = day, day - period
    done: dict[str, str] = {}
    with factory() as session:
        teams = [(t.name, t.email) for t in session.scalars(select(Team).where(Team.email.is_not(None)))]
    for name, email in teams:
        key = f"{name}:{since:%Y-%m-%d}:{until:%Y-%m-%d}"
        with factory() as session:
            if session.scalar(
                select(AuditEntry.id).where(AuditEntry.action == "digest.sent", AuditEntry.target == key)
            ):
                done[name] = "already sent"
                continue
            digest = build_digest(session, name, since=since, until=until)
            try:
                mailer.send(compose(digest, to=email or "", public_url=public_url))
            except MailError as exc:
                done[name] = str(exc)
                continue
            audit.record(session, "digest.sent", actor="system", target=key, detail={"to_team": name})
            session.commit()
            done[name] = "sent"
    return done
