"""The insight dashboard page: KPI tiles, ECharts charts and the drill-down to verbatims, in zh and en.

The page is a shell: ``static/dashboard.js`` reads the filters from the URL, draws the charts from
``/api/v1/insight/overview`` and ``/api/v1/insight/aspects``, lists the verbatims behind a clicked chart
element from ``/api/v1/insight/verbatims`` and posts corrections to ``/api/v1/feedback/{id}/labels``.
ECharts is vendored under ``static/vendor/`` (no CDN: closeloop runs offline).

- ``/dashboard``                 the page (``?lang=zh|en`` plus the filters, all kept in the URL)
- ``/dashboard/taxonomy.json``   the categories a verbatim can be corrected to (ids, zh and en names)

Open trend alerts are listed in a panel (server-rendered), each linking to the dashboard filtered to its
category, product or channel from the day it started, with the verbatims open.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from closeloop.analysis.taxonomy import Taxonomy, active_taxonomy
from closeloop.api.deps import SessionDep
from closeloop.collect.channels import list_channel_names
from closeloop.jobs.analysis import active_model_dir
from closeloop.store.models import Alert, Customer, FeedbackItem, InsightRollup
from closeloop.web.i18n import TEXTS, pick_language
from closeloop.web.pages import templates

router = APIRouter(include_in_schema=False)

SENTIMENTS = ("positive", "neutral", "negative")
LANGUAGE_CHOICES = ("zh", "en")
SHARED_TEXT_KEYS = (*SENTIMENTS, "sentiment", "complaint", "channel", "rating", "save", "all")
MAX_PRODUCT_CHOICES = 200  # beyond that the product box is free text with no suggestions
ALERTS_SHOWN = 8
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}
# An alert's key names what rose ("category:packaging"); each kind is one dashboard filter.
ALERT_FILTERS = {"category": "category", "product": "product", "channel": "channel"}


def category_choices(taxonomy: Taxonomy) -> list[dict[str, str]]:
    """The taxonomy's categories as ``{"id", "name_zh", "name_en"}``, in the taxonomy's order."""
    return [{"id": c.id, "name_zh": c.name_zh, "name_en": c.name_en} for c in taxonomy]


def tier_choices(session: Session) -> list[str]:
    """The customer tiers in use (gold, silver …), sorted."""
    query = select(Customer.tier).where(Customer.tier.is_not(None)).distinct().order_by(Customer.tier)
    return list(session.scalars(query))


def language_choices(session: Session) -> list[str]:
    """Chinese and English, then every other language the feedback carries (read from the daily rollups)."""
    query = select(InsightRollup.language).where(InsightRollup.language.is_not(None)).distinct()
    others = sorted(set(session.scalars(query)) - set(LANGUAGE_CHOICES))
    return [*LANGUAGE_CHOICES, *others]


def product_choices(session: Session, limit: int = MAX_PRODUCT_CHOICES) -> list[str]:
    """Up to ``limit`` product names seen in feedback, sorted (read from the product index)."""
    query = (
        select(FeedbackItem.product)
        .where(FeedbackItem.product.is_not(None))
        .distinct()
        .order_by(FeedbackItem.product)
        .limit(limit)
    )
    return list(session.scalars(query))


def open_alerts(session: Session, limit: int = ALERTS_SHOWN) -> list[Alert]:
    """Open trend alerts, most severe first, then newest detected, at most ``limit``."""
    alerts = list(
        session.scalars(
            select(Alert).where(Alert.status == "open").order_by(Alert.detected_at.desc(), Alert.id.desc())
        )
    )
    alerts.sort(key=lambda a: (SEVERITY_ORDER.get(a.severity, 3), -a.detected_at.timestamp(), -a.id))
    return alerts[:limit]


def alert_link(alert: Alert, lang: str) -> str:
    """The dashboard filtered to what the alert is about, by day from its start, opening the verbatims."""
    kind, _, value = alert.key.partition(":")
    query = {"lang": lang, "range": "custom", "since": alert.started_on.isoformat(), "granularity": "day"}
    if kind in ALERT_FILTERS and value:
        query[ALERT_FILTERS[kind]] = value
    return "/dashboard?" + urlencode(query) + "#drill"


def alert_subject(alert: Alert, taxonomy: Taxonomy, lang: str) -> str:
    """What rose, for people: a category's name in ``lang``, else the product or channel name."""
    kind, _, value = alert.key.partition(":")
    if kind == "category" and value in taxonomy:
        category = taxonomy.get(value)
        return category.name_zh if lang == "zh" else category.name_en
    return value or alert.key


def alert_rows(session: Session, taxonomy: Taxonomy, lang: str) -> list[dict[str, Any]]:
    """The alerts panel's rows: the alert, its subject, link and its figures formatted for the signal."""
    rows = []
    for alert in open_alerts(session):
        share = alert.signal == "rate"
        # Category and product alerts count complaints; channel alerts count all feedback.
        channel_volume = alert.key.startswith("channel:") and not share
        rows.append(
            {
                "alert": alert,
                "signal_text": f"dash_alerts_signal_{alert.signal}" + ("_channel" if channel_volume else ""),
                "subject": alert_subject(alert, taxonomy, lang),
                "link": alert_link(alert, lang),
                "baseline": f"{alert.baseline:.1%}" if share else f"{alert.baseline:.1f}",
                "current": f"{alert.recent:.1%}" if share else f"{alert.recent:.1f}",
                "message": alert.message_zh if lang == "zh" else alert.message_en,
            }
        )
    return rows


def page_config(request: Request, lang: str, taxonomy: Taxonomy) -> dict[str, Any]:
    """What ``dashboard.js`` needs besides the URL: language, UI texts, CSRF token, taxonomy."""
    texts = TEXTS[lang]
    principal = getattr(request.state, "principal", None)
    return {
        "lang": lang,
        "texts": {key: value for key, value in texts.items() if key.startswith("dash_")}
        | {key: texts[key] for key in SHARED_TEXT_KEYS},
        "csrf_token": getattr(request.state, "csrf_token", ""),
        "author": principal.user.email if principal is not None else None,
        "can_correct": bool(principal and principal.can("labels:write")),
        "can_export": bool(principal and principal.can("feedback:export")),
        "categories": category_choices(taxonomy),
        "sentiments": list(SENTIMENTS),
    }


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, session: SessionDep) -> HTMLResponse:
    lang = pick_language(request)
    taxonomy = active_taxonomy(active_model_dir(session))
    return templates.TemplateResponse(
        request,
        "dashboard.html",
        {
            "t": TEXTS[lang],
            "lang": lang,
            "config": page_config(request, lang, taxonomy),
            "categories": category_choices(taxonomy),
            "channels": list_channel_names(session),
            "tiers": tier_choices(session),
            "products": product_choices(session),
            "languages": language_choices(session),
            "alerts": alert_rows(session, taxonomy, lang),
        },
    )


@router.get("/dashboard/taxonomy.json")
def taxonomy_json(session: SessionDep) -> dict[str, list]:
    """The categories (of the taxonomy the analysis uses) and sentiments a verbatim can be corrected to."""
    taxonomy = active_taxonomy(active_model_dir(session))
    return {"categories": category_choices(taxonomy), "sentiments": list(SENTIMENTS)}
