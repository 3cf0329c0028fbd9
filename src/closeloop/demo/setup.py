"""The demo's surveys, teams and routing rules, and a half year of survey answers (with an A/B test), so the
survey results, the case queue and the routing rules have something to show. Loaded once per database."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from closeloop.act.jobs import replace_rules
from closeloop.act.routing import EXAMPLES_DIR as ROUTING_EXAMPLES
from closeloop.ask.definitions import EXAMPLES_DIR as SURVEY_EXAMPLES
from closeloop.ask.service import load, save_answers, save_survey, start_response
from closeloop.store.models import Customer, RoutingRuleRecord, SurveyRecord, Team

DEMO_TEAMS = (
    ("logistics", "物流部", "Logistics"),
    ("customer-service", "客服部", "Customer service"),
    ("quality", "质量部", "Quality"),
    ("public-relations", "公关部", "Public relations"),
    ("product", "产品部", "Product"),
    ("after-sales", "售后部", "After-sales"),
    ("finance", "财务部", "Finance"),
    ("cross-border", "跨境业务部", "Cross-border"),
    ("digital", "数字化部", "Digital"),
    ("insight", "用户研究部", "Customer insight"),
    ("marketing", "市场部", "Marketing"),
)
WHY = {
    "promoter": [
        "物流很快，包装也好",
        "客服很耐心，问题很快解决了",
        "质量不错，会回购",
        "Fast delivery, great quality",
    ],
    "passive": ["还行吧，价格有点贵", "东西一般，物流正常", "OK overall, delivery was a bit slow"],
    "detractor": [
        "快递太慢了，一周才到",
        "客服不回消息",
        "收到的东西是坏的，退货很麻烦",
        "The parcel arrived damaged",
    ],
}


# Scheduled reports shown on /reports (the demo teams have no e-mail address, so nothing is mailed).
DEMO_REPORTS = (
    ("logistics", "物流周报", "category=logistics&category=packaging", "weekly", "zh"),
    ("insight", "Monthly customer insight", "", "monthly", "en"),
)


def _demo_reports(session: Session) -> None:
    from closeloop.insight.reports import create_subscription
    from closeloop.store.models import ReportSubscription

    if session.scalars(select(ReportSubscription)).first() is not None:
        return
    session.flush()  # the demo teams first
    for team, name, filter_query, period, language in DEMO_REPORTS:
        create_subscription(
            session,
            created_by=None,
            team=team,
            name=name,
            filter_query=filter_query,
            period=period,
            language=language,
        )


def load_demo_setup(
    factory: sessionmaker[Session], *, seed: int, days: int = 180, responses: int = 400
) -> dict[str, Any]:
    with factory() as session:
        if session.scalars(select(SurveyRecord)).first() is not None:
            return {"surveys": 0, "responses": 0, "teams": 0, "rules": 0, "behaviour_events": 0}
        for path in sorted(SURVEY_EXAMPLES.glob("*.yaml")):
            save_survey(session, path.read_text(encoding="utf-8"))
        teams = 0
        for name, zh, en in DEMO_TEAMS:
            if session.get(Team, name) is None:
                session.add(Team(name=name, label_zh=zh, label_en=en, assignment="least_loaded"))
                teams += 1
        rules = 0
        if session.scalars(select(RoutingRuleRecord)).first() is None:
            rules = len(
                replace_rules(session, (ROUTING_EXAMPLES / "routing.yaml").read_text(encoding="utf-8"))
            )
        _demo_reports(session)
        session.commit()
    answered = _answers(factory, seed=seed, days=days, count=responses)
    from closeloop.demo.behaviour import load_demo_behaviour
    from closeloop.demo.community import load_demo_community

    return {
        "surveys": len(list(SURVEY_EXAMPLES.glob("*.yaml"))),
        "responses": answered,
        "teams": teams,
        "rules": rules,
        "behaviour_events": load_demo_behaviour(factory, seed=seed, days=days),
        "community": load_demo_community(factory),
    }


def _answers(factory: sessionmaker[Session], *, seed: int, days: int, count: int) -> int:
    """NPS answers spread over the period; the "short" variant is answered to the end a little more often."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    done = 0
    with factory() as session:
        customers = list(session.scalars(select(Customer).limit(count)))
        loaded = load(session, "post-purchase-nps")
        for n in range(count):
            customer = customers[n % len(customers)] if customers else None
            response = start_response(
                session, loaded, customer=customer, source=rng.choice(["email", "web", "widget"])
            )
            when = now - timedelta(days=rng.uniform(0, days))
            response.started_at = when
            # A slowly improving score, and some people who only click the score in the e-mail.
            trend = (days - (now - when).days) / days
            score = max(0, min(10, round(rng.gauss(6.5 + 2 * trend, 2.3))))
            if rng.random() < (0.25 if response.variant == "full" else 0.15):
                save_answers(session, response, {"nps": score}, finish=False, now=when)
                continue
            group = "promoter" if score >= 9 else ("passive" if score >= 7 else "detractor")
            save_answers(
                session, response, {"nps": score, "why": rng.choice(WHY[group])}, finish=True, now=when
            )
            response.completed_at = when
            done += 1
        session.commit()
    return done
