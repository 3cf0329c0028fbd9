"""``/api/v1/routing-rules``: the ordered rules that turn analysed feedback into cases, and dry runs."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from closeloop.accounts import audit
from closeloop.act.jobs import replace_rules, routed_items, stored_rules
from closeloop.act.routing import RoutingRuleError, dry_run, dump_rules, load_rules
from closeloop.api.deps import SessionDep, client_ip, definition_body
from closeloop.store.models import FeedbackItem

router = APIRouter(tags=["routing"])


@router.get("/api/v1/routing-rules", summary="The routing rules, in evaluation order")
def read_rules(session: SessionDep) -> dict[str, Any]:
    return {"rules": dump_rules(stored_rules(session))}


@router.put(
    "/api/v1/routing-rules",
    summary='Replace the whole ordered rule set (JSON {"rules": [...]}, or YAML with a YAML content type)',
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "object"}},
                "application/yaml": {"schema": {"type": "string"}},
            },
        }
    },
)
async def put_rules(request: Request) -> dict[str, Any]:
    source = await definition_body(request)
    return await run_in_threadpool(_replace, request, source)


def _replace(request: Request, source: Any) -> dict[str, Any]:
    principal = request.state.principal
    with request.app.state.session_factory() as session:
        try:
            rules = replace_rules(session, source)
        except RoutingRuleError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, exc.problems) from None
        audit.record(
            session,
            "routing_rules.changed",
            actor=principal.user.email,
            target="routing_rules",
            ip=client_ip(request),
            detail={"rules": [r.id for r in rules]},
        )
        session.commit()
        return {"rules": dump_rules(rules)}


class DryRunIn(BaseModel):
    rule: dict[str, Any]
    limit: Annotated[int, Field(ge=1, le=20_000)] = 2_000


@router.post("/api/v1/routing-rules/dry-run", summary="What a rule would have matched among recent feedback")
def dry_run_rule(body: DryRunIn, session: SessionDep) -> dict[str, Any]:
    try:
        [rule] = load_rules([body.rule])
    except RoutingRuleError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, exc.problems) from None
    ids = list(session.scalars(select(FeedbackItem.id).order_by(FeedbackItem.id.desc()).limit(body.limit)))
    items = [routed for _, routed in routed_items(session, ids)]
    return dataclasses.asdict(dry_run(items, rule, rules=stored_rules(session)))
