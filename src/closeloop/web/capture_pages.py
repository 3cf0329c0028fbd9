"""``/capture``: one small page for frontline staff to log what a customer said, in a few taps on a phone.

Works without JavaScript (a plain form, POST then redirect to a confirmation). With JavaScript the
form is sent in the background and re-sent on a network failure: the client id, generated here and
carried in the form, makes every retry land on the same item. The last location is remembered in a
cookie. No framework, no external files: the whole page is a few kilobytes for slow connections.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import quote, unquote

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from closeloop.api.deps import SessionDep, SettingsDep
from closeloop.api.policy import PrincipalDep
from closeloop.collect.capture import (
    CAPTURE_CHANNEL,
    SENTIMENTS,
    TOPICS,
    Capture,
    CaptureRejectedError,
    Location,
    parse_locations,
    recent_captures,
    save_capture,
)
from closeloop.collect.records import FieldError, parse_datetime
from closeloop.store.models import FeedbackItem
from closeloop.web.i18n import TEXTS, pick_language
from closeloop.web.pages import templates
from closeloop.web.survey_pages import posted_form

router = APIRouter(include_in_schema=False)

LOCATION_COOKIE = "closeloop_capture_location"
_LOCATION_COOKIE_SECONDS = 180 * 24 * 3600
SENTIMENT_FACES = {"positive": "😀", "neutral": "😐", "negative": "😞"}
_CHECKED = ("on", "1", "true", "yes")


@dataclass(slots=True)
class CaptureForm:
    """What the form shows: the values to fill in again and the problems per field."""

    client_id: str
    location: str = ""
    topic: str = ""
    sentiment: str = ""
    text: str = ""
    contact: str = ""
    consent: bool = False
    voice_note: bool = False
    errors: dict[str, str] = field(default_factory=dict)


def new_client_id() -> str:
    """A fresh random id for one capture form (URL-safe, 22 characters)."""
    return secrets.token_urlsafe(16)


def form_from_fields(fields: dict[str, str]) -> CaptureForm:
    """The form's values from a posted form (missing fields are empty)."""
    return CaptureForm(
        client_id=fields.get("client_id", ""),
        location=fields.get("location", "").strip(),
        topic=fields.get("topic", ""),
        sentiment=fields.get("sentiment", ""),
        text=fields.get("text", ""),
        contact=fields.get("contact", "").strip(),
        consent=fields.get("consent", "") in _CHECKED,
        voice_note=fields.get("voice_note", "") in _CHECKED,
    )


def capture_of(form: CaptureForm, captured_at: str | None) -> Capture:
    """The domain capture behind a posted form; raises ``CaptureRejectedError`` for a bad time."""
    try:
        when = parse_datetime(captured_at) if captured_at else None
    except FieldError as exc:
        raise CaptureRejectedError([FieldError("captured_at", exc.message)]) from None
    return Capture(
        client_id=form.client_id,
        location=form.location,
        topic=form.topic,
        sentiment=form.sentiment,
        text=form.text,
        contact=form.contact or None,
        consent=form.consent,
        voice_note=form.voice_note,
        captured_at=when,
    )


def _render(
    request: Request,
    *,
    lang: str,
    form: CaptureForm,
    locations: list[Location],
    saved: FeedbackItem | None = None,
    recent: list[FeedbackItem] | None = None,
    status_code: int = 200,
) -> Response:
    response = templates.TemplateResponse(
        request,
        "capture.html",
        {
            "t": TEXTS[lang],
            "lang": lang,
            "form": form,
            "locations": locations,
            "topics": TOPICS,
            "sentiments": [(s, SENTIMENT_FACES[s]) for s in SENTIMENTS],
            "saved": saved,
            "recent": recent or [],
            "csrf": getattr(request.state, "csrf_token", ""),
        },
        status_code=status_code,
    )
    # The form holds a one-time client id and a CSRF token: never serve it from a cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def _own_capture(session: SessionDep, item_id: int | None, user_id: int) -> FeedbackItem | None:
    if item_id is None:
        return None
    item = session.get(FeedbackItem, item_id)
    if item is None or item.channel != CAPTURE_CHANNEL or (item.meta or {}).get("captured_by") != user_id:
        return None
    return item


@router.get("/capture", response_class=HTMLResponse)
def capture_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    saved: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:
    lang = pick_language(request)
    form = CaptureForm(client_id=new_client_id(), location=unquote(request.cookies.get(LOCATION_COOKIE, "")))
    item = _own_capture(session, saved, principal.user.id)
    recent = recent_captures(session, captured_by=principal.user.id, limit=5) if item else None
    return _render(
        request,
        lang=lang,
        form=form,
        locations=parse_locations(settings.capture_locations),
        saved=item,
        recent=recent,
    )


@router.post("/capture")
def submit_capture(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    posted: Annotated[FormData, Depends(posted_form)],
) -> Response:
    lang = pick_language(request)
    fields = {key: value for key, value in posted.items() if isinstance(value, str)}
    form = form_from_fields(fields)
    locations = parse_locations(settings.capture_locations)
    try:
        result = save_capture(
            session,
            capture_of(form, fields.get("captured_at")),
            captured_by=principal.user.id,
            locations=locations,
            max_text_chars=settings.max_text_chars,
        )
    except CaptureRejectedError as exc:
        session.rollback()
        form.errors = {error.field: error.message for error in exc.errors}
        if "client_id" in form.errors:
            form.client_id = new_client_id()
        return _render(
            request,
            lang=lang,
            form=form,
            locations=locations,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    session.commit()
    response = RedirectResponse(
        f"/capture?lang={lang}&saved={result.item_id}", status_code=status.HTTP_303_SEE_OTHER
    )
    response.set_cookie(
        LOCATION_COOKIE,
        quote(form.location),
        max_age=_LOCATION_COOKIE_SECONDS,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response
