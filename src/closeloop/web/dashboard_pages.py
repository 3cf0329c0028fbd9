"""The insight dashboard page: KPI tiles, ECharts charts and the drill-down to verbatims, in zh and en.

The page is a shell: ``static/dashboard.js`` reads the filters from the URL, draws the charts from
``/api/v1/insight/overview`` and ``/api/v1/insight/aspects``, lists the verbatims behind a clicked chart
element from ``/api/v1/insight/verbatims`` and posts corrections to ``/api/v1/feedback/{id}/labels``.
ECharts is vendored under ``static/vendor/`` (no CDN: closeloop runs offline).

- ``/dashboard``                 the page (``?lang=zh|en`` plus the filters, all kept in the URL)
- ``/dashboard/taxonomy.json``   the categories a verbatim can be corrected to (ids, zh and en names)
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from closeloop.analysis.taxonomy import Taxonomy, load_taxonomy
from closeloop.api.deps import SessionDep
from closeloop.collect.channels import list_channel_names
from closeloop.store.models import Customer, FeedbackItem
from closeloop.web.i18n import TEXTS, pick_language
from closeloop.web.pages import templates

router = APIRouter(include_in_schema=False)

SENTIMENTS = ("positive", "neutral", "negative")
LANGUAGE_CHOICES = ("zh", "en")
SHARED_TEXT_KEYS = (*SENTIMENTS, "sentiment", "complaint", "channel", "rating", "save", "all")
MAX_PRODUCT_CHOICES = 200  # beyond that the product box is free text with no suggestions


def category_choices(taxonomy: Taxonomy) -> list[dict[str, str]]:
    """The taxonomy's categories as ``{"id", "name_zh", "name_en"}``, in the taxonomy's order."""
    return [{"id": c.id, "name_zh": c.name_zh, "name_en": c.name_en} for c in taxonomy]


def tier_choices(session: Session) -> list[str]:
    """The customer tiers in use (gold, silver …), sorted."""
    query = select(Customer.tier).where(Customer.tier.is_not(None)).distinct().order_by(Customer.tier)
    return list(session.scalars(query))


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
    taxonomy = load_taxonomy()
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
            "languages": LANGUAGE_CHOICES,
        },
    )


@router.get("/dashboard/taxonomy.json")
def taxonomy_json() -> dict[str, list]:
    """The categories and sentiments a verbatim can be corrected to."""
    return {"categories": category_choices(load_taxonomy()), "sentiments": list(SENTIMENTS)}
