"""Who is calling the public community routes: a signed-in member (cookie + CSRF token on every unsafe
request), for the API and the pages alike. Staff routes use the app's normal roles instead."""

from __future__ import annotations

import secrets

from fastapi import HTTPException, Request, status
from sqlalchemy.orm import Session

from closeloop.api.deps import SAFE_METHODS
from closeloop.community.members import MEMBER_COOKIE, session_member
from closeloop.store.models import CommunityMember

CSRF_HEADER = "X-CSRF-Token"


def signed_in_member(
    request: Request, session: Session, *, supplied_csrf: str | None = None
) -> CommunityMember | None:
    """The member of the request's community cookie, or None. On an unsafe method the request must also
    show the session's CSRF token (header ``X-CSRF-Token`` or form field), else 403."""
    found = session_member(session, request.cookies.get(MEMBER_COOKIE))
    if found is None:
        return None
    member, csrf = found
    request.state.community_csrf = csrf
    if request.method not in SAFE_METHODS:
        shown = supplied_csrf or request.headers.get(CSRF_HEADER)
        if not (shown and csrf and secrets.compare_digest(shown, csrf)):
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"missing or wrong CSRF token ({CSRF_HEADER})")
    return member


def require_member(
    request: Request, session: Session, *, supplied_csrf: str | None = None
) -> CommunityMember:
    """Like ``signed_in_member`` but 401 when nobody is signed in."""
    member = signed_in_member(request, session, supplied_csrf=supplied_csrf)
    if member is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "sign in to the community first (e-mail link)")
    return member
