"""The emerging-topics page: themes no category covers (bars, phrases, counts, examples), near-duplicate
groups, and per theme a prefilled form to make it a category and one to make a routing rule for a team.

Server-rendered; the forms post with the CSRF token and redirect back with what was made.

- ``GET /topics``                   the page (``?lang=``, ``since``, ``channel``)
- ``POST /topics/categories``       add a category (names, comma-separated keywords)
- ``POST /topics/routing-rules``    add a routing rule for a theme's keywords (or category) and a team
"""

from __future__ import annotations

import re
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from closeloop.analysis.taxonomy import active_taxonomy
from closeloop.api.deps import SessionDep, client_ip
from closeloop.api.insight import FilterDep
from closeloop.api.policy import PrincipalDep
from closeloop.api.topics import CategoryIn, ThemeRuleIn, create_category, create_theme_rule, taxonomy_view
from closeloop.collect.channels import list_channel_names
from closeloop.insight import emerging
from closeloop.insight.aggregates import InsightFilter
from closeloop.jobs.analysis import active_model_dir
from closeloop.store.models import Team
from closeloop.web.i18n import TEXTS, pick_language
from closeloop.web.pages import templates

router = APIRouter(include_in_schema=False)

PAGE_MAX_ITEMS = 1_000
PRIORITY_CHOICES = ("normal", "high", "urgent", "low")
_KEYWORD_SEPARATORS = re.compile(r"[,，、;；\n]+")
FormModel = TypeVar("FormModel", bound=BaseModel)


def parse_keywords(text: str) -> list[str]:
    """Keywords typed into one box, separated by commas (either width), 、, semicolons or new lines."""
    return [part.strip() for part in _KEYWORD_SEPARATORS.split(text) if part.strip()]


def team_choices(session: Session, lang: str) -> list[dict[str, str]]:
    """The teams a rule can route to: ``{"name", "label"}`` with the label in ``lang``, by name."""
    teams = session.scalars(select(Team).order_by(Team.name))
    return [
        {"name": team.name, "label": (team.label_zh if lang == "zh" else team.label_en) or team.name}
        for team in teams
    ]


def _render(
    request: Request,
    session: Session,
    flt: InsightFilter,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    lang = pick_language(request)
    view = taxonomy_view(session)
    taxonomy = active_taxonomy(active_model_dir(session))
    found = emerging.emerging_topics(session, flt, taxonomy, max_items=PAGE_MAX_ITEMS)
    largest = max((theme["count"] for theme in found["themes"]), default=1)
    principal = getattr(request.state, "principal", None)
    made = request.query_params.get("made", "")
    return templates.TemplateResponse(
        request,
        "topics.html",
        {
            "t": TEXTS[lang],
            "lang": lang,
            "found": found,
            "largest": largest,
            "taxonomy": view,
            "teams": team_choices(session, lang),
            "priorities": PRIORITY_CHOICES,
            "channels": list_channel_names(session),
            "channel": flt.channels[0] if flt.channels else "",
            "since": request.query_params.get("since", ""),
            "can_change": bool(principal and principal.can("cases:manage")),
            "made_category": request.query_params.get("name", "") if made == "category" else "",
            "made_rule": request.query_params.get("id", "") if made == "rule" else "",
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/topics", response_class=HTMLResponse)
def topics_page(request: Request, session: SessionDep, flt: FilterDep) -> HTMLResponse:
    return _render(request, session, flt)


def _back(request: Request, **made: str) -> RedirectResponse:
    query = urlencode({"lang": pick_language(request), **made})
    return RedirectResponse(f"/topics?{query}", status_code=303)


def _validated(model: type[FormModel], **values: Any) -> FormModel:
    """The form's values as ``model``; a 422 HTTPException naming each problem otherwise."""
    try:
        return model(**values)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise HTTPException(422, problems) from None


def _error_text(exc: HTTPException) -> str:
    detail: Any = exc.detail
    return "; ".join(detail) if isinstance(detail, list) else str(detail)


@router.post("/topics/categories", response_class=HTMLResponse)
def make_category(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    keywords: Annotated[str, Form(max_length=2_000)],
    name_zh: Annotated[str, Form(max_length=60)] = "",
    name_en: Annotated[str, Form(max_length=60)] = "",
) -> Response:
    try:
        body = _validated(
            CategoryIn, name_zh=name_zh, name_en=name_en, keywords=parse_keywords(keywords)[:30]
        )
        document = create_category(session, body, actor=principal.user.email, ip=client_ip(request))
    except HTTPException as exc:
        session.rollback()
        return _render(request, session, InsightFilter(), error=_error_text(exc), status_code=exc.status_code)
    name = document["name_zh"] if pick_language(request) == "zh" else document["name_en"]
    return _back(request, made="category", name=name)


@router.post("/topics/routing-rules", response_class=HTMLResponse)
def make_rule(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    team: Annotated[str, Form(min_length=1, max_length=64)],
    keywords: Annotated[str, Form(max_length=2_000)] = "",
    category: Annotated[str, Form(max_length=80)] = "",
    name_zh: Annotated[str, Form(max_length=60)] = "",
    name_en: Annotated[str, Form(max_length=60)] = "",
    priority: Annotated[str, Form(max_length=16)] = "normal",
) -> Response:
    try:
        body = _validated(
            ThemeRuleIn,
            team=team,
            keywords=parse_keywords(keywords)[:30],
            category=category or None,
            name_zh=name_zh,
            name_en=name_en,
            priority=priority,
        )
        rule = create_theme_rule(session, body, actor=principal.user.email, ip=client_ip(request))
    except HTTPException as exc:
        session.rollback()
        return _render(request, session, InsightFilter(), error=_error_text(exc), status_code=exc.status_code)
    return _back(request, made="rule", id=rule["id"])
