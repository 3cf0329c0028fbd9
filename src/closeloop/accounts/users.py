"""Users, Argon2 password hashes, sign-in with rate limiting and lock-out, sessions and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from closeloop.accounts import audit
from closeloop.accounts.permissions import ROLES, check_scopes
from closeloop.store.models import ApiToken, User, WebSession, utcnow

_hasher = PasswordHasher()
# A hash to verify against when the e-mail is unknown, so timing does not reveal which accounts exist.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

MIN_PASSWORD_LENGTH = 10
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
IP_WINDOW = timedelta(minutes=10)
MAX_FAILURES_PER_IP = 20
SESSION_LIFETIME = timedelta(hours=12)
TOKEN_PREFIX = "clp_"
TOKEN_USE_GRANULARITY = timedelta(minutes=5)


class AccountError(ValueError):
    """A request about accounts that cannot be done (bad role, weak password, duplicate e-mail …)."""


class LoginRefusedError(Exception):
    """Sign-in refused; ``reason`` is safe to show (it never says whether the e-mail exists)."""

    def __init__(self, reason: str, *, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def token_digest(secret: str) -> str:
    """How a bearer secret (API token, session cookie, sign-in link) is stored: its SHA-256, never itself."""
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def create_user(
    session: Session, *, email: str, password: str, role: str, name: str = "", team: str | None = None
) -> User:
    email = email.strip().lower()
    if "@" not in email or len(email) > 320:
        raise AccountError(f"not an e-mail address: {email!r}")
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; one of: {', '.join(ROLES)}")
    if session.scalars(select(User).where(User.email == email)).first() is not None:
        raise AccountError(f"a user {email} already exists")
    user = User(email=email, name=name, role=role, team=team, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, email: str) -> User | None:
    return session.scalars(select(User).where(User.email == email.strip().lower())).first()


def authenticate(
    session: Session, *, email: str, password: str, ip: str | None, now: datetime | None = None
) -> User:
    """The user whose password this is; raises ``LoginRefusedError``. Every attempt is audited."""
    now = now or utcnow()
    if audit.count_since(session, "login.failed", since=now - IP_WINDOW, ip=ip) >= MAX_FAILURES_PER_IP:
        audit.record(session, "login.throttled", actor=email, ip=ip, at=now)
        raise LoginRefusedError("too many failed sign-ins from this address; try again later", status=429)
    user = find_user(session, email)
    if user is None:
        _verify(_DUMMY_HASH, password)
        audit.record(session, "login.failed", actor=email, ip=ip, detail={"reason": "unknown"}, at=now)
        raise LoginRefusedError("wrong e-mail or password")
    if user.locked_until is not None and user.locked_until > now:
        audit.record(session, "login.failed", actor=user.email, ip=ip, detail={"reason": "locked"}, at=now)
        raise LoginRefusedError("this account is locked after repeated failures; try again later", status=423)
    if not user.is_active or not _verify(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILED_LOGINS:
            user.locked_until = now + LOCKOUT
            user.failed_logins = 0
            audit.record(session, "account.locked", actor=user.email, ip=ip, at=now)
        audit.record(session, "login.failed", actor=user.email, ip=ip, detail={"reason": "password"}, at=now)
        raise LoginRefusedError("wrong e-mail or password")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    audit.record(session, "login.ok", actor=user.email, ip=ip, at=now)
    return user


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(slots=True)
class NewSession:
    cookie_value: str
    csrf_token: str
    expires_at: datetime


def start_session(session: Session, user: User, *, now: datetime | None = None) -> NewSession:
    """A new browser session; only the hash of the cookie value is stored."""
    now = now or utcnow()
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    expires = now + SESSION_LIFETIME
    session.add(
        WebSession(
            user_id=user.id,
            token_hash=token_digest(cookie),
            csrf_token=csrf,
            created_at=now,
            expires_at=expires,
        )
    )
    session.flush()
    return NewSession(cookie, csrf, expires)


def session_user(
    session: Session, cookie_value: str, *, now: datetime | None = None
) -> tuple[User, str] | None:
    """(user, csrf token) for a live session cookie, else None."""
    now = now or utcnow()
    row = session.scalars(
        select(WebSession).where(WebSession.token_hash == token_digest(cookie_value))
    ).first()
    if row is None or row.revoked_at is not None or row.expires_at <= now or not row.user.is_active:
        return None
    return row.user, row.csrf_token


def end_session(session: Session, cookie_value: str) -> None:
    row = session.scalars(
        select(WebSession).where(WebSession.token_hash == token_digest(cookie_value))
    ).first()
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()


@dataclass(slots=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once, never stored


def create_token(
    session: Session, user: User, *, name: str, scopes: list[str], expires_at: datetime | None = None
) -> NewToken:
    """A new API token limited to ``scopes`` (each within the owner's role)."""
    scopes = check_scopes(user.role, scopes)
    if not scopes:
        raise AccountError("a token needs at least one scope")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=user.id,
        name=name[:128],
        prefix=secret[:12],
        token_hash=token_digest(secret),
        scopes=scopes,
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    return NewToken(token, secret)


def token_owner(
    session: Session, secret: str, *, now: datetime | None = None
) -> tuple[User, ApiToken] | None:
    """(owner, token) for a live, unrevoked token, else None."""
    now = now or utcnow()
    token = session.scalars(select(ApiToken).where(ApiToken.token_hash == token_digest(secret))).first()
    if token is None or token.revoked_at is not None:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    if not token.user.is_active:
        return None
    # Recorded at most every few minutes, so reading with a token rarely needs a write.
    if token.last_used_at is None or now - token.last_used_at > TOKEN_USE_GRANULARITY:
        token.last_used_at = now
    return token.user, token


def revoke_token(session: Session, token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
