"""Sign-in and sign-out pages: Argon2 passwords, a session cookie, CSRF-protected forms."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from closeloop.accounts.users import LoginRefusedError, authenticate, end_session, session_user, start_session
from closeloop.api.deps import SessionDep, client_ip
from closeloop.api.policy import CSRF_HEADER, SESSION_COOKIE
from closeloop.web.i18n import TEXTS, pick_language
from closeloop.web.pages import templates

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "closeloop_login_csrf"


def _safe_next(next_url: str | None) -> str:
    # Only local paths: an open redirect would let a phishing link bounce through the sign-in form.
    if next_url and next_url.startswith("/") and not next_url.startswith("//"):
        return next_url
    return "/"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _login_page(
    request: Request, *, next_url: str, error: str | None = None, status_code: int = 200
) -> Response:
    lang = pick_language(request)
    csrf = secrets.token_urlsafe(32)
    response = templates.TemplateResponse(
        request,
        "login.html",
        {"t": TEXTS[lang], "lang": lang, "next": next_url, "csrf": csrf, "error": error},
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, csrf, httponly=True, samesite="strict", secure=_secure(request), max_age=3600
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    return _login_page(request, next_url=_safe_next(next))


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=256)],
    csrf_token: Annotated[str, Form(max_length=128)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if not expected or not secrets.compare_digest(expected, csrf_token):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "the form expired or did not come from this site; reload it"
        )
    try:
        user = authenticate(session, email=email, password=password, ip=client_ip(request))
    except LoginRefusedError as exc:
        session.commit()  # keep the audit entry and the failure count
        return _login_page(request, next_url=_safe_next(next), error=exc.reason, status_code=exc.status)
    new = start_session(session, user)
    session.commit()
    response = RedirectResponse(_safe_next(next), status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        SESSION_COOKIE,
        new.cookie_value,
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        expires=new.expires_at,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(
    request: Request, session: SessionDep, csrf_token: Annotated[str | None, Form(max_length=128)] = None
) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    found = session_user(session, cookie) if cookie else None
    if cookie and found is not None:
        supplied = request.headers.get(CSRF_HEADER) or csrf_token or ""
        if not secrets.compare_digest(supplied, found[1]):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")
        end_session(session, cookie)
        session.commit()
    response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE)
    return response
