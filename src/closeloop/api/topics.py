"""``/api/v1/topics`` and ``/api/v1/taxonomy``: emerging themes the taxonomy does not cover, the taxonomy
itself, and turning a theme into a category or a routing rule (both audited).

``GET /api/v1/topics`` takes the insight filters (``since``, ``until``, ``channel``, ``product``, ``tier``,
``region``, ``language``; see :mod:`closeloop.api.insight`) and reads at most ``max_items`` of the newest
uncovered items, so it answers in about a second on any store.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from closeloop.accounts import audit
from closeloop.act.routing import RoutingRuleError
from closeloop.analysis.taxonomy import active_taxonomy, taxonomy_file
from closeloop.api.deps import SessionDep, client_ip
from closeloop.api.insight import FilterDep
from closeloop.api.policy import PrincipalDep
from closeloop.insight import emerging
from closeloop.jobs.analysis import active_model_dir

router = APIRouter(tags=["topics"])

Priority = Literal["urgent", "high", "normal", "low"]
Keywords = Annotated[list[Annotated[str, Field(max_length=60)]], Field(max_length=30)]


class CategoryIn(BaseModel):
    """A new category, usually prefilled from a theme: names and the phrases that detect it."""

    name_zh: Annotated[str, Field(max_length=60)] = ""
    name_en: Annotated[str, Field(max_length=60)] = ""
    keywords: Keywords
    description: Annotated[str, Field(max_length=500)] = ""


class ThemeRuleIn(BaseModel):
    """A routing rule for a theme: its keywords (or a category id) go to ``team``."""

    team: Annotated[str, Field(min_length=1, max_length=64)]
    keywords: Keywords = Field(default_factory=list)
    category: Annotated[str | None, Field(max_length=80)] = None
    name_zh: Annotated[str, Field(max_length=60)] = ""
    name_en: Annotated[str, Field(max_length=60)] = ""
    priority: Priority = "normal"


def taxonomy_view(session: Session) -> dict[str, Any]:
    """The active taxonomy as JSON, with where it is read from and whether categories can be added."""
    model_dir = active_model_dir(session)
    try:
        target = str(emerging.editable_taxonomy_file(model_dir))
        editable, reason = True, None
    except emerging.TaxonomyNotEditableError as exc:
        target, editable, reason = None, False, str(exc)
    source = taxonomy_file(model_dir)
    return {
        "source": str(source) if source is not None and source.is_file() else "built-in",
        "editable": editable,
        "writes_to": target,
        "not_editable_because": reason,
        "categories": [emerging.category_document(c) for c in active_taxonomy(model_dir).categories],
    }


@router.get("/api/v1/topics", summary="Emerging themes no category covers, and near-duplicates / 新兴主题")
def read_topics(
    session: SessionDep,
    flt: FilterDep,
    max_items: Annotated[int, Query(ge=10, le=5_000, description="newest uncovered items read")] = (
        emerging.DEFAULT_MAX_ITEMS
    ),
    min_size: Annotated[int, Query(ge=2, le=500)] = 5,
    max_topics: Annotated[int, Query(ge=1, le=50)] = 12,
) -> dict[str, Any]:
    taxonomy = active_taxonomy(active_model_dir(session))
    return emerging.emerging_topics(
        session, flt, taxonomy, max_items=max_items, min_size=min_size, max_topics=max_topics
    )


@router.get("/api/v1/taxonomy", summary="The categories the analysis uses / 分类体系")
def read_taxonomy(session: SessionDep) -> dict[str, Any]:
    return taxonomy_view(session)


def create_category(session: Session, body: CategoryIn, *, actor: str, ip: str | None) -> dict[str, Any]:
    """Add the category (HTTP errors for the domain's refusals) and audit it; commits."""
    try:
        category = emerging.add_category(
            active_model_dir(session),
            name_zh=body.name_zh,
            name_en=body.name_en,
            keywords=body.keywords,
            description=body.description,
        )
    except emerging.TaxonomyNotEditableError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except emerging.CategoryExistsError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    document = emerging.category_document(category)
    audit.record(
        session,
        "taxonomy.category_added",
        actor=actor,
        target=f"category:{category.id}",
        ip=ip,
        detail=document,
    )
    session.commit()
    return document


@router.post(
    "/api/v1/taxonomy/categories",
    status_code=status.HTTP_201_CREATED,
    summary="Add a category (e.g. from a theme); new analyses use it / 新增类别",
)
def post_category(
    body: CategoryIn, request: Request, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    return create_category(session, body, actor=principal.user.email, ip=client_ip(request))


def create_theme_rule(session: Session, body: ThemeRuleIn, *, actor: str, ip: str | None) -> dict[str, Any]:
    """Store the theme's routing rule (HTTP errors for refusals) and audit it; commits."""
    try:
        rule = emerging.add_theme_rule(
            session,
            team=body.team,
            keywords=body.keywords,
            category=body.category,
            name_zh=body.name_zh,
            name_en=body.name_en,
            priority=body.priority,
        )
    except RoutingRuleError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, exc.problems) from None
    except ValueError as exc:  # UnknownTeamError included
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    audit.record(
        session,
        "routing_rule.from_topic",
        actor=actor,
        target=f"routing_rule:{rule['id']}",
        ip=ip,
        detail=rule,
    )
    session.commit()
    return rule


@router.post(
    "/api/v1/topics/routing-rules",
    status_code=status.HTTP_201_CREATED,
    summary="Make a routing rule from a theme (first in the rule set) / 由主题生成路由规则",
)
def post_theme_rule(
    body: ThemeRuleIn, request: Request, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    return create_theme_rule(session, body, actor=principal.user.email, ip=client_ip(request))
