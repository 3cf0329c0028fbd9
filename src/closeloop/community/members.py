"""Community members: customers who sign in with a link e-mailed to them (no password), and their sessions.

A member is found again by the digest of their lower-cased address; the address itself is encrypted. Each
member is linked to a customer (external id ``community:<digest prefix>``) so their posts are that
customer's feedback and their consent decisions apply. Sign-in links are single use and expire; sessions
carry a CSRF token that every form and unsafe API call must show.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from closeloop.accounts.users import token_digest
from closeloop.collect.customers import upsert_customer
from closeloop.collect.records import CustomerRef
from closeloop.store.models import CommunityMember, CommunityToken, utcnow

SIGN_IN_LINK_LIFETIME = timedelta(minutes=30)
SESSION_LIFETIME = timedelta(days=30)
MEMBER_COOKIE = "closeloop_community"
_EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}$")


class InvalidEmailError(ValueError):
    """Not an e-mail address a sign-in link can be sent to."""


class SignInLinkError(ValueError):
    """A sign-in link that is unknown, used already or expired."""


@dataclass(frozen=True, slots=True)
class MemberSession:
    """A signed-in member: the cookie value (shown once) and the CSRF token of their forms."""

    member: CommunityMember
    cookie: str
    csrf_token: str
    next_path: str | None


def normalize_email(email: str) -> str:
    """The address trimmed and lower-cased; raises ``InvalidEmailError`` when it is not one."""
    address = (email or "").strip().lower()
    if not _EMAIL.match(address):
        raise InvalidEmailError(f"not an e-mail address: {email!r}")
    return address


def email_digest(email: str) -> str:
    """The stable key of an address (SHA-256 of its normalised form)."""
    return hashlib.sha256(normalize_email(email).encode()).hexdigest()


def default_display_name(email: str) -> str:
    """A public name that does not reveal the address: its first letters and a short number."""
    local = normalize_email(email).split("@", 1)[0]
    return f"{local[:3]}***{int(email_digest(email)[:4], 16) % 1000:03d}"


def find_or_create_member(
    session: Session, email: str, *, language: str = "zh", display_name: str | None = None
) -> CommunityMember:
    """The member with this address, created (with a linked customer) on first sign-in."""
    digest = email_digest(email)
    member = session.scalars(select(CommunityMember).where(CommunityMember.email_digest == digest)).first()
    if member is not None:
        return member
    address = normalize_email(email)
    customer = upsert_customer(session, CustomerRef(external_id=f"community:{digest[:24]}", email=address))
    member = CommunityMember(
        email_digest=digest,
        email=address,
        display_name=(display_name or "").strip()[:64] or default_display_name(address),
        customer_id=customer.id,
        language=language if language in ("zh", "en") else "zh",
        unsubscribe_token=secrets.token_urlsafe(24),
    )
    session.add(member)
    session.flush()
    return member


def safe_next_path(next_path: str | None) -> str | None:
    """Only a path on this site (``/community/…``) may be returned to after signing in."""
    if next_path and next_path.startswith("/community") and not next_path.startswith("//"):
        return next_path[:512]
    return None


def issue_sign_in_link(
    session: Session, member: CommunityMember, *, next_path: str | None = None, now: datetime | None = None
) -> str:
    """A new single-use sign-in token for ``member`` (the secret is returned once; its hash is kept)."""
    now = now or utcnow()
    secret = secrets.token_urlsafe(32)
    session.add(
        CommunityToken(
            member_id=member.id,
            purpose="sign_in",
            token_hash=token_digest(secret),
            next_path=safe_next_path(next_path),
            created_at=now,
            expires_at=now + SIGN_IN_LINK_LIFETIME,
        )
    )
    session.flush()
    return secret


def sign_in_path(secret: str) -> str:
    """The link a member follows to sign in."""
    return f"/community/auth/{secret}"


def redeem_sign_in_link(session: Session, secret: str, *, now: datetime | None = None) -> MemberSession:
    """Use a sign-in link once and open a session; raises ``SignInLinkError`` when it is not valid."""
    now = now or utcnow()
    # One UPDATE claims the link, so two concurrent clicks cannot both open a session from it.
    claimed = session.execute(
        update(CommunityToken)
        .where(
            CommunityToken.token_hash == token_digest(secret or ""),
            CommunityToken.purpose == "sign_in",
            CommunityToken.used_at.is_(None),
            CommunityToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(CommunityToken.member_id, CommunityToken.next_path)
    ).first()
    if claimed is None:
        raise SignInLinkError("this sign-in link is unknown, used already or expired")
    member = session.get(CommunityMember, claimed.member_id)
    if member is None or member.banned:
        raise SignInLinkError("this member may not sign in")
    return open_session(session, member, next_path=claimed.next_path, now=now)


def open_session(
    session: Session, member: CommunityMember, *, next_path: str | None = None, now: datetime | None = None
) -> MemberSession:
    """A new browser session for ``member`` (used by sign-in links, and by tests)."""
    now = now or utcnow()
    cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(
        CommunityToken(
            member_id=member.id,
            purpose="session",
            token_hash=token_digest(cookie),
            csrf_token=csrf,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    session.flush()
    return MemberSession(member, cookie, csrf, next_path)


def session_member(
    session: Session, cookie: str | None, *, now: datetime | None = None
) -> tuple[CommunityMember, str] | None:
    """The member and CSRF token of a session cookie, or None when it is unknown, expired or banned."""
    if not cookie:
        return None
    now = now or utcnow()
    token = session.scalars(
        select(CommunityToken).where(
            CommunityToken.token_hash == token_digest(cookie),
            CommunityToken.purpose == "session",
            CommunityToken.expires_at > now,
            CommunityToken.used_at.is_(None),
        )
    ).first()
    if token is None:
        return None
    member = session.get(CommunityMember, token.member_id)
    if member is None or member.banned:
        return None
    return member, token.csrf_token or ""


def end_session(session: Session, cookie: str, *, now: datetime | None = None) -> None:
    """Sign out: the session's cookie stops working (``used_at`` marks it ended)."""
    session.execute(
        update(CommunityToken)
        .where(CommunityToken.token_hash == token_digest(cookie), CommunityToken.purpose == "session")
        .values(used_at=now or utcnow())
    )


def unsubscribe(session: Session, token: str, *, now: datetime | None = None) -> CommunityMember | None:
    """Stop community e-mails to the member of this unsubscribe token; None when the token is unknown."""
    member = session.scalars(
        select(CommunityMember).where(CommunityMember.unsubscribe_token == token)
    ).first()
    if member is not None and member.unsubscribed_at is None:
        member.unsubscribed_at = now or utcnow()
        session.flush()
    return member
