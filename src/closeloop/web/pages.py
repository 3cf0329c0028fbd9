"""Server-rendered pages (Jinja2, escaped by default): the feedback inbox."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from closeloop.api.deps import SessionDep
from closeloop.collect.channels import list_channel_names
from closeloop.store.queries import FeedbackFilter, list_feedback
from closeloop.web.i18n import TEXTS, pick_language

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


@router.get("/", response_class=HTMLResponse)
def inbox(
    request: Request,
    session: SessionDep,
    channel: str | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    cursor: str | None = None,
) -> HTMLResponse:
    lang = pick_language(request)
    flt = FeedbackFilter(channel=channel or None, q=q or None)
    try:
        items, next_cursor = list_feedback(session, flt, limit=50, cursor=cursor, with_analysis=True)
    except ValueError:
        items, next_cursor = list_feedback(session, flt, limit=50, with_analysis=True)
    return templates.TemplateResponse(
        request,
        "inbox.html",
        {
            "t": TEXTS[lang],
            "lang": lang,
            "items": items,
            "next_cursor": next_cursor,
            "channels": list_channel_names(session),
            "channel": channel or "",
            "q": q or "",
        },
    )
