"""Who may call what: one rule per route, enforced for every request, denied when a route has no rule.

The rule table is the single place to read the access policy. ``enforce_policy`` runs as a global
dependency of the app; the role-matrix test walks the app's route table and fails for a route without
a rule here.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.routing import APIRoute, iter_route_contexts
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from closeloop.accounts.permissions import allowed
from closeloop.accounts.users import session_user, token_owner
from closeloop.api.deps import SAFE_METHODS
from closeloop.store.models import User
from closeloop.store.session import READ_ONLY

PUBLIC = "public"
SESSION_COOKIE = "closeloop_session"
CSRF_HEADER = "X-CSRF-Token"

# (method, path) -> permission, or PUBLIC. Webhooks are public here because each delivery is
# authenticated by its HMAC signature instead.
ROUTE_RULES: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/livez"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): PUBLIC,
    ("POST", "/api/v1/webhooks/{source}"): PUBLIC,
    ("GET", "/"): "feedback:read",
    ("POST", "/api/v1/feedback"): "feedback:write",
    ("POST", "/api/v1/feedback/batch"): "feedback:write",
    ("GET", "/api/v1/feedback"): "feedback:read",
    ("GET", "/api/v1/feedback/{item_id}"): "feedback:read",
    ("GET", "/api/v1/feedback/export"): "feedback:export",
    ("GET", "/api/v1/feedback/{item_id}/original"): "pii:read",
    ("GET", "/api/v1/customers/{external_id}/contact"): "pii:read",
    ("GET", "/api/v1/customers/{external_id}/export"): "privacy:admin",
    ("DELETE", "/api/v1/customers/{external_id}"): "privacy:admin",
    ("GET", "/api/v1/channels"): "feedback:read",
    ("PATCH", "/api/v1/channels/{name}"): "privacy:admin",
    ("POST", "/api/v1/privacy/purge"): "privacy:admin",
    ("POST", "/api/v1/feedback/{item_id}/labels"): "labels:write",
    ("GET", "/api/v1/feedback/{item_id}/labels"): "feedback:read",
    ("PUT", "/api/v1/customers/{external_id}"): "customers:write",
    ("GET", "/api/v1/customers/{external_id}"): "customers:read",
    ("POST", "/api/v1/customers/{external_id}/consents"): "customers:write",
    ("GET", "/api/v1/me"): "tokens:self",
    ("POST", "/api/v1/tokens"): "tokens:self",
    ("GET", "/api/v1/tokens"): "tokens:self",
    ("DELETE", "/api/v1/tokens/{token_id}"): "tokens:self",
    ("GET", "/api/v1/users"): "users:admin",
    ("POST", "/api/v1/users"): "users:admin",
    ("PATCH", "/api/v1/users/{user_id}"): "users:admin",
    ("GET", "/api/v1/audit"): "audit:read",
    ("GET", "/api/v1/surveys"): "feedback:read",
    ("POST", "/api/v1/surveys"): "surveys:write",
    ("GET", "/api/v1/surveys/{survey_id}"): "feedback:read",
    ("PATCH", "/api/v1/surveys/{survey_id}"): "surveys:write",
    ("GET", "/api/v1/surveys/{survey_id}/results"): "feedback:read",
    ("GET", "/api/v1/surveys/{survey_id}/experiment"): "feedback:read",
    ("POST", "/api/v1/invitation-rules"): "surveys:write",
    ("GET", "/api/v1/invitation-rules"): "feedback:read",
    ("POST", "/api/v1/events"): "feedback:write",
    ("GET", "/api/v1/invitations"): "feedback:read",
    ("GET", "/api/v1/cases"): "cases:read",
    ("POST", "/api/v1/cases"): "cases:manage",
    ("GET", "/api/v1/cases/{case_id}"): "cases:read",
    ("PATCH", "/api/v1/cases/{case_id}"): "cases:work",
    ("POST", "/api/v1/cases/{case_id}/take"): "cases:work",
    ("POST", "/api/v1/cases/{case_id}/comments"): "cases:work",
    ("GET", "/api/v1/teams"): "cases:read",
    ("PUT", "/api/v1/teams/{name}"): "cases:manage",
    ("GET", "/api/v1/routing-rules"): "cases:read",
    ("PUT", "/api/v1/routing-rules"): "cases:manage",
    ("POST", "/api/v1/routing-rules/dry-run"): "cases:manage",
    ("GET", "/api/v1/action-plans"): "feedback:read",
    ("POST", "/api/v1/action-plans"): "cases:manage",
    ("GET", "/api/v1/action-plans/{plan_id}"): "feedback:read",
    ("PATCH", "/api/v1/action-plans/{plan_id}"): "cases:manage",
    ("GET", "/api/v1/action-plans/{plan_id}/effect"): "feedback:read",
    ("GET", "/api/v1/insight/overview"): "feedback:read",
    ("GET", "/api/v1/insight/verbatims"): "feedback:read",
    ("GET", "/api/v1/insight/aspects"): "feedback:read",
    ("GET", "/api/v1/insight/segments"): "feedback:read",
    ("GET", "/api/v1/insight/behaviour"): "feedback:read",
    ("GET", "/api/v1/insight/at-risk"): "feedback:read",
    # Scheduled reports mail figures out of closeloop: the export permission (admin, analyst).
    ("GET", "/api/v1/reports"): "feedback:export",
    ("POST", "/api/v1/reports"): "feedback:export",
    ("GET", "/api/v1/reports/{report_id}"): "feedback:export",
    ("PATCH", "/api/v1/reports/{report_id}"): "feedback:export",
    ("DELETE", "/api/v1/reports/{report_id}"): "feedback:export",
    ("GET", "/api/v1/reports/{report_id}/preview"): "feedback:export",
    ("POST", "/api/v1/reports/{report_id}/send"): "feedback:export",
    ("GET", "/reports"): "feedback:export",
    ("POST", "/reports"): "feedback:export",
    ("POST", "/reports/{report_id}/send"): "feedback:export",
    ("POST", "/reports/{report_id}/delete"): "feedback:export",
    ("GET", "/api/v1/alerts"): "feedback:read",
    # Acknowledging an alert is triage, like taking a case.
    ("POST", "/api/v1/alerts/{alert_id}/ack"): "cases:work",
    # The case pages: the same permissions as the case API (the handlers check the team).
    ("GET", "/cases"): "cases:read",
    ("GET", "/cases/{case_id}"): "cases:read",
    ("POST", "/cases/{case_id}/take"): "cases:work",
    ("POST", "/cases/{case_id}/status"): "cases:work",
    ("POST", "/cases/{case_id}/comments"): "cases:work",
    ("POST", "/cases/{case_id}/priority"): "cases:work",
    ("GET", "/surveys"): "feedback:read",
    ("GET", "/surveys/new"): "surveys:write",
    ("POST", "/surveys"): "surveys:write",
    ("GET", "/surveys/{survey_id}"): "feedback:read",
    ("GET", "/surveys/{survey_id}/edit"): "surveys:write",
    ("GET", "/dashboard"): "feedback:read",
    ("GET", "/dashboard/taxonomy.json"): "feedback:read",
    ("GET", "/customers/at-risk"): "feedback:read",
    ("GET", "/customers/{external_id}/history"): "feedback:read",
    # Emerging topics: anyone who reads feedback sees them; making a category or a rule is management.
    ("GET", "/api/v1/topics"): "feedback:read",
    ("GET", "/api/v1/taxonomy"): "feedback:read",
    ("POST", "/api/v1/taxonomy/categories"): "cases:manage",
    ("POST", "/api/v1/topics/routing-rules"): "cases:manage",
    ("GET", "/topics"): "feedback:read",
    ("POST", "/topics/categories"): "cases:manage",
    ("POST", "/topics/routing-rules"): "cases:manage",
    ("GET", "/routing"): "cases:read",
    ("POST", "/routing"): "cases:manage",
    ("POST", "/routing/dry-run"): "cases:manage",
    ("GET", "/api/v1/closed-loop"): "cases:read",
    ("GET", "/f/{token}"): PUBLIC,
    ("POST", "/f/{token}"): PUBLIC,
    # Answering surveys: the link token is the only key; the JSON endpoint needs an API token.
    ("GET", "/s/{survey_id}"): PUBLIC,
    ("GET", "/r/{token}"): PUBLIC,
    ("POST", "/r/{token}"): PUBLIC,
    ("GET", "/r/{token}/click"): PUBLIC,
    ("GET", "/u/{token}"): PUBLIC,
    ("POST", "/u/{token}"): PUBLIC,
    ("POST", "/api/v1/surveys/{survey_id}/responses"): "feedback:write",
    # Community portal: reading is public; posting, voting, commenting and following are public routes
    # that check the signed-in member (e-mail link session + CSRF) themselves; staff actions use roles.
    ("GET", "/api/v1/community/boards"): PUBLIC,
    ("GET", "/api/v1/community/posts"): PUBLIC,
    ("GET", "/api/v1/community/posts/{post_id}"): PUBLIC,
    ("GET", "/api/v1/community/similar"): PUBLIC,
    ("GET", "/api/v1/community/changelog"): PUBLIC,
    ("POST", "/api/v1/community/sign-in"): PUBLIC,
    ("GET", "/api/v1/community/me"): PUBLIC,
    ("POST", "/api/v1/community/posts"): PUBLIC,
    ("POST", "/api/v1/community/posts/{post_id}/vote"): PUBLIC,
    ("DELETE", "/api/v1/community/posts/{post_id}/vote"): PUBLIC,
    ("POST", "/api/v1/community/posts/{post_id}/follow"): PUBLIC,
    ("DELETE", "/api/v1/community/posts/{post_id}/follow"): PUBLIC,
    ("POST", "/api/v1/community/posts/{post_id}/comments"): PUBLIC,
    ("POST", "/api/v1/community/boards"): "cases:manage",
    ("POST", "/api/v1/community/posts/{post_id}/status"): "cases:manage",
    ("POST", "/api/v1/community/posts/{post_id}/merge"): "cases:manage",
    ("POST", "/api/v1/community/posts/{post_id}/links"): "cases:manage",
    ("POST", "/api/v1/community/posts/{post_id}/answers"): "cases:work",
    ("POST", "/api/v1/community/posts/{post_id}/moderation"): "cases:work",
    ("POST", "/api/v1/community/comments/{comment_id}/moderation"): "cases:work",
    ("GET", "/api/v1/community/moderation"): "cases:work",
    # Community pages: public ones check the member themselves; /community/staff/... use roles.
    ("GET", "/community"): PUBLIC,
    ("GET", "/community/b/{slug}"): PUBLIC,
    ("GET", "/community/p/{post_id}"): PUBLIC,
    ("GET", "/community/new"): PUBLIC,
    ("POST", "/community/new"): PUBLIC,
    ("POST", "/community/p/{post_id}/vote"): PUBLIC,
    ("POST", "/community/p/{post_id}/follow"): PUBLIC,
    ("POST", "/community/p/{post_id}/comments"): PUBLIC,
    ("GET", "/community/changelog"): PUBLIC,
    ("GET", "/community/sign-in"): PUBLIC,
    ("POST", "/community/sign-in"): PUBLIC,
    ("GET", "/community/auth/{token}"): PUBLIC,
    ("POST", "/community/auth/{token}"): PUBLIC,
    ("POST", "/community/sign-out"): PUBLIC,
    ("GET", "/community/unsubscribe/{token}"): PUBLIC,
    ("POST", "/community/unsubscribe/{token}"): PUBLIC,
    ("GET", "/community/moderation"): "cases:work",
    ("POST", "/community/staff/p/{post_id}/status"): "cases:manage",
    ("POST", "/community/staff/p/{post_id}/merge"): "cases:manage",
    ("POST", "/community/staff/p/{post_id}/answer"): "cases:work",
    ("POST", "/community/staff/p/{post_id}/moderation"): "cases:work",
    ("POST", "/community/staff/comments/{comment_id}/moderation"): "cases:work",
    # Frontline quick capture: staff (agents and up) log what a customer said; viewers cannot.
    ("POST", "/api/v1/capture"): "feedback:capture",
    ("GET", "/api/v1/capture/recent"): "feedback:capture",
    ("GET", "/capture"): "feedback:capture",
    ("POST", "/capture"): "feedback:capture",
}

# Pages send a browser to the sign-in form instead of answering 401.
PAGE_PATHS = frozenset(
    {
        "/",
        "/cases",
        "/cases/{case_id}",
        "/surveys",
        "/surveys/new",
        "/surveys/{survey_id}",
        "/surveys/{survey_id}/edit",
        "/routing",
        "/dashboard",
        "/customers/at-risk",
        "/customers/{external_id}/history",
        "/community/moderation",
        "/reports",
        "/topics",
        "/capture",
    }
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user, through a browser session or an API token (with its scopes)."""

    user: User
    scopes: frozenset[str] | None  # None for a browser session: the full role
    via: str  # "session" or "token"

    @property
    def role(self) -> str:
        return self.user.role

    def can(self, permission: str) -> bool:
        return allowed(self.user.role, permission, self.scopes)


class SignInRequiredError(Exception):
    """A page needs a signed-in user; the app turns this into a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def api_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Every (method, path) the app serves through its routers: the table the role matrix walks."""
    found = []
    for context in iter_route_contexts(app.routes):
        if isinstance(context.route, APIRoute):
            found.extend((method, context.route.path) for method in sorted(context.route.methods or ()))
    return found


def rule_for(route: APIRoute, method: str) -> str | None:
    return ROUTE_RULES.get((method, route.path))


def _principal(request: Request, supplied_csrf: str | None) -> Principal | None:
    """Resolve the caller from a bearer token or a session cookie (sessions must show their CSRF token
    on unsafe methods, as a header or a ``csrf_token`` form field)."""
    session = request.app.state.session_factory()
    # Resolving the caller only reads (the rare last-used stamp is best effort), so it never takes
    # SQLite's write lock, whatever the request's method.
    session.connection(execution_options=READ_ONLY)
    try:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            found = token_owner(session, header[7:].strip())
            if found is None:
                raise HTTPException(
                    status.HTTP_401_UNAUTHORIZED,
                    "invalid, expired or revoked token",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            user, token = found
            scopes = frozenset(token.scopes or [])
            # last_used_at is a hint, never a reason to fail or delay a request: when another writer
            # holds the lock the stamp is dropped (the rollback expires the user, so read it back).
            if session.dirty and not _commit_best_effort(session):
                session.refresh(user)
            return Principal(user, scopes, "token")
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        found_session = session_user(session, cookie)
        if found_session is None:
            return None
        user, csrf = found_session
        if request.method not in SAFE_METHODS and not (
            supplied_csrf and secrets.compare_digest(supplied_csrf, csrf)
        ):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"missing or wrong CSRF token ({CSRF_HEADER} header)"
            )
        request.state.csrf_token = csrf
        return Principal(user, None, "session")
    finally:
        session.close()


def _commit_best_effort(session: Session) -> bool:
    try:
        session.commit()
    except OperationalError:
        session.rollback()
        return False
    return True


async def _supplied_csrf(request: Request) -> str | None:
    if request.method in SAFE_METHODS:
        return None
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get("csrf_token")
        return value if isinstance(value, str) else None
    return None


async def enforce_policy(request: Request) -> None:
    """Global dependency: apply the route's rule (deny when it has none)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    rule = rule_for(route, request.method)
    if rule is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "no access rule for this route")
    request.state.principal = None
    if rule == PUBLIC:
        return
    supplied = await _supplied_csrf(request)
    principal = await run_in_threadpool(_principal, request, supplied)
    request.state.principal = principal
    if principal is None:
        if route.path in PAGE_PATHS and request.method in SAFE_METHODS:
            query = f"?{request.url.query}" if request.url.query else ""
            raise SignInRequiredError(request.url.path + query)
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "sign in or send an API token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not principal.can(rule):
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"your role ({principal.role}) or token lacks {rule}")


def current_principal(request: Request) -> Principal:
    principal = getattr(request.state, "principal", None)
    if principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "sign in or send an API token")
    return principal


PrincipalDep = Annotated[Principal, Depends(current_principal)]
