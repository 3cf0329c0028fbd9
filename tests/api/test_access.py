"""Access control: every route has a rule, every role is tried against every route, sign-in is hardened."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from closeloop.accounts.permissions import ROLES, allowed
from closeloop.accounts.users import MAX_FAILED_LOGINS, LoginRefusedError, authenticate, create_user
from closeloop.api.policy import PAGE_PATHS, PUBLIC, ROUTE_RULES, api_routes
from closeloop.app import create_app
from closeloop.store.models import AuditEntry, User, utcnow

PASSWORD = "correct horse battery staple"


def app_routes(settings) -> list[tuple[str, str]]:
    return api_routes(create_app(settings))


def test_every_route_has_an_access_rule(settings):
    routes = app_routes(settings)
    missing = [r for r in routes if r not in ROUTE_RULES]
    assert missing == [], f"routes without an access rule in api/policy.py: {missing}"
    stale = [r for r in ROUTE_RULES if r not in routes]
    assert stale == [], f"rules for routes that no longer exist: {stale}"


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "999999", path)  # an id that exists nowhere: nothing is changed


@pytest.mark.parametrize("role", [None, *ROLES])
def test_role_matrix(settings, client_as, role):
    """Each role (and anonymous) against each route: allowed ones pass the gate, others get 401/403."""
    http: httpx.Client = client_as(role)
    for method, path in app_routes(settings):
        rule = ROUTE_RULES[(method, path)]
        if rule == PUBLIC or path in ("/api/v1/webhooks/{source}",):
            continue
        response = http.request(method, _concrete(path), json={}, follow_redirects=False)
        if role is None:
            expected = {303} if path in PAGE_PATHS and method == "GET" else {401}
            assert response.status_code in expected, (method, path, response.status_code)
        elif allowed(role, rule):
            assert response.status_code not in (401, 403), (role, method, path, response.text)
        else:
            assert response.status_code == 403, (role, method, path, response.status_code)


def test_token_scopes_narrow_the_role(client, live_server):
    created = client.post("/api/v1/tokens", json={"name": "importer", "scopes": ["feedback:write"]})
    assert created.status_code == 201
    secret = created.json()["token"]
    assert secret.startswith("clp_") and created.json()["prefix"] == secret[:12]
    narrow = httpx.Client(base_url=live_server, headers={"Authorization": f"Bearer {secret}"})
    assert narrow.post("/api/v1/feedback", json={"text": "好", "channel": "jd"}).status_code == 201
    assert narrow.get("/api/v1/feedback").status_code == 403
    listed = client.get("/api/v1/tokens").json()
    assert all("token" not in t for t in listed)  # the secret is never shown again
    token_id = created.json()["id"]
    assert client.delete(f"/api/v1/tokens/{token_id}").status_code == 204
    assert narrow.post("/api/v1/feedback", json={"text": "好", "channel": "jd"}).status_code == 401
    assert (
        httpx.get(
            f"{live_server}/api/v1/feedback", headers={"Authorization": "Bearer clp_forged"}
        ).status_code
        == 401
    )


def test_a_viewer_cannot_grant_itself_more(client_as):
    viewer = client_as("viewer")
    refused = viewer.post("/api/v1/tokens", json={"name": "x", "scopes": ["feedback:write"]})
    assert refused.status_code == 422 and "cannot grant" in refused.json()["detail"]


def test_admin_manages_users_and_it_is_audited(client, db):
    made = client.post(
        "/api/v1/users", json={"email": "Li@Example.com", "password": PASSWORD, "role": "viewer"}
    )
    assert made.status_code == 201 and made.json()["email"] == "li@example.com"
    user_id = made.json()["id"]
    changed = client.patch(f"/api/v1/users/{user_id}", json={"role": "analyst", "team": "logistics"})
    assert changed.json()["role"] == "analyst" and "feedback:write" in changed.json()["permissions"]
    weak = client.post(
        "/api/v1/users", json={"email": "x@example.com", "password": "short", "role": "viewer"}
    )
    assert weak.status_code == 422 and "at least" in weak.json()["detail"]
    entries = client.get("/api/v1/audit", params={"action": "user.changed"}).json()
    assert entries[0]["target"] == "li@example.com" and entries[0]["detail"]["role"] == ["viewer", "analyst"]


def browser(live_server: str) -> httpx.Client:
    return httpx.Client(base_url=live_server, follow_redirects=False, timeout=30)


def sign_in(http: httpx.Client, email: str, password: str, next_url: str = "/") -> httpx.Response:
    form = http.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    return http.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf, "next": next_url}
    )


def test_browser_sign_in_session_csrf_and_sign_out(live_server, db):
    with db() as session:
        create_user(session, email="ana@example.com", password=PASSWORD, role="analyst")
        session.commit()
    http = browser(live_server)
    to_login = http.get("/", params={"channel": "jd"})
    assert to_login.status_code == 303 and to_login.headers["location"].startswith(
        "/login?next=/%3Fchannel%3Djd"
    )
    signed = sign_in(http, "ana@example.com", PASSWORD, next_url="//evil.example.com/")
    assert signed.status_code == 303 and signed.headers["location"] == "/"  # no open redirect
    cookie = signed.headers["set-cookie"]
    assert "closeloop_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    page = http.get("/")
    assert page.status_code == 200 and "ana@example.com" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    # A cookie alone does not let another site change anything: unsafe methods need the CSRF token.
    forged = http.post("/api/v1/feedback", json={"text": "x", "channel": "jd"})
    assert forged.status_code == 403 and "CSRF" in forged.json()["detail"]
    ok = http.post("/api/v1/feedback", json={"text": "x", "channel": "jd"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 201
    assert http.post("/logout", data={"csrf_token": "wrong"}).status_code == 403
    out = http.post("/logout", data={"csrf_token": csrf})
    assert out.status_code == 303
    http.cookies.set("closeloop_session", cookie.split("closeloop_session=")[1].split(";")[0])
    assert http.get("/").status_code == 303  # the old session cookie is dead


def test_login_form_needs_its_csrf_token(live_server, db):
    with db() as session:
        create_user(session, email="v@example.com", password=PASSWORD, role="viewer")
        session.commit()
    http = browser(live_server)
    refused = http.post("/login", data={"email": "v@example.com", "password": PASSWORD, "csrf_token": "x"})
    assert refused.status_code == 403


def test_wrong_password_and_lock_out(live_server, db):
    with db() as session:
        create_user(session, email="w@example.com", password=PASSWORD, role="viewer")
        session.commit()
    http = browser(live_server)
    for _ in range(MAX_FAILED_LOGINS):
        failed = sign_in(http, "w@example.com", "not the password")
        assert failed.status_code == 401 and "wrong e-mail or password" in failed.text
    locked = sign_in(http, "w@example.com", PASSWORD)
    assert locked.status_code == 423 and "locked" in locked.text
    unknown = sign_in(http, "nobody@example.com", PASSWORD)
    assert unknown.status_code == 401 and "wrong e-mail or password" in unknown.text  # no account probing
    with db() as session:
        actions = session.scalars(select(AuditEntry.action)).all()
        assert actions.count("login.failed") == MAX_FAILED_LOGINS + 2 and "account.locked" in actions


def test_lock_out_ends_and_failures_per_address_are_throttled(db):
    with db() as session:
        create_user(session, email="z@example.com", password=PASSWORD, role="viewer")
        start = utcnow()
        for _ in range(MAX_FAILED_LOGINS):
            with pytest.raises(LoginRefusedError):
                authenticate(session, email="z@example.com", password="nope", ip="10.9.9.9", now=start)
        with pytest.raises(LoginRefusedError):
            authenticate(session, email="z@example.com", password=PASSWORD, ip="10.9.9.9", now=start)
        later = start + timedelta(minutes=16)
        assert authenticate(session, email="z@example.com", password=PASSWORD, ip="10.9.9.8", now=later).email
        for _ in range(25):
            with pytest.raises(LoginRefusedError):
                authenticate(session, email=f"{_}@example.com", password="x", ip="10.1.1.1", now=later)
        with pytest.raises(LoginRefusedError) as throttled:
            authenticate(session, email="z@example.com", password=PASSWORD, ip="10.1.1.1", now=later)
        assert throttled.value.status == 429
        assert (
            session.scalars(select(User).where(User.email == "z@example.com")).one().last_login_at is not None
        )
