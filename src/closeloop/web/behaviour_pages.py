"""The behaviour and churn-risk pages, in zh and en.

- ``/customers/at-risk``                       charts (complaint rate by feature, NPS by purchase frequency,
  spend before/after a complaint) and the at-risk table; ``static/behaviour.js`` draws them from
  ``/api/v1/insight/behaviour`` and ``/api/v1/insight/at-risk`` with the vendored ECharts.
- ``/customers/{external_id}/history``        one customer's feedback (effective analysis) and behaviour
  events, newest first: where the at-risk table links for outreach.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from closeloop.api.deps import SessionDep
from closeloop.collect.channels import list_channel_names
from closeloop.collect.customers import get_customer
from closeloop.insight import aggregates
from closeloop.insight.behaviour import DEFAULT_RISK_DAYS
from closeloop.store.models import CustomerEvent
from closeloop.store.queries import FeedbackFilter, list_feedback
from closeloop.web.dashboard_pages import tier_choices
from closeloop.web.i18n import TEXTS, pick_language
from closeloop.web.pages import templates

router = APIRouter(include_in_schema=False)

HISTORY_LIMIT = 100
SHARED_TEXT_KEYS = ("all", "negative", "positive", "neutral", "complaint")
DAY_CHOICES = (14, 30, 60, 90)


def page_config(lang: str) -> dict[str, Any]:
    """What ``behaviour.js`` needs besides the URL: the language and its UI texts."""
    texts = TEXTS[lang]
    return {
        "lang": lang,
        "texts": {key: value for key, value in texts.items() if key.startswith("behaviour_")}
        | {key: texts[key] for key in SHARED_TEXT_KEYS},
        "default_days": DEFAULT_RISK_DAYS,
    }


@router.get("/customers/at-risk", response_class=HTMLResponse)
def at_risk_page(request: Request, session: SessionDep) -> HTMLResponse:
    lang = pick_language(request)
    return templates.TemplateResponse(
        request,
        "behaviour.html",
        {
            "t": TEXTS[lang],
            "lang": lang,
            "config": page_config(lang),
            "channels": list_channel_names(session),
            "tiers": tier_choices(session),
            "day_choices": DAY_CHOICES,
        },
    )


@router.get("/customers/{external_id}/history", response_class=HTMLResponse)
def customer_history(request: Request, session: SessionDep, external_id: str) -> HTMLResponse:
    lang = pick_language(request)
    customer = get_customer(session, external_id)
    items: list[Any] = []
    effective: dict[int, dict[str, Any]] = {}
    events: list[CustomerEvent] = []
    if customer is not None:
        items, _ = list_feedback(
            session, FeedbackFilter(customer=external_id), limit=HISTORY_LIMIT, with_analysis=True
        )
        # The dashboard's label reading, so this page shows the analysis as the figures count it.
        labels = aggregates.newest_labels(session, [item.id for item in items])
        effective = {item.id: aggregates.effective_of(item, labels.get(item.id, {})) for item in items}
        events = list(
            session.scalars(
                select(CustomerEvent)
                .where(CustomerEvent.customer_id == customer.id)
                .order_by(CustomerEvent.occurred_at.desc(), CustomerEvent.id.desc())
                .limit(HISTORY_LIMIT)
            )
        )
    return templates.TemplateResponse(
        request,
        "behaviour_customer.html",
        {
            "t": TEXTS[lang],
            "lang": lang,
            "external_id": external_id,
            "customer": customer,
            "items": items,
            "effective": effective,
            "events": events,
            "zone": aggregates.ZONE,
        },
        status_code=200 if customer is not None else 404,
    )
