"""``/api/v1/me``, ``/api/v1/tokens``, ``/api/v1/users``, ``/api/v1/audit``: accounts, tokens, audit log."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import select

from closeloop.accounts import audit
from closeloop.accounts.permissions import ROLE_PERMISSIONS
from closeloop.accounts.users import AccountError, create_token, create_user, hash_password, revoke_token
from closeloop.api.deps import RowId, SessionDep, client_ip
from closeloop.api.policy import PrincipalDep
from closeloop.store.models import ApiToken, AuditEntry, User, utcnow

router = APIRouter(prefix="/api/v1", tags=["accounts"])


class UserOut(BaseModel):
    id: int
    email: str
    name: str
    role: str
    team: str | None
    is_active: bool
    permissions: list[str]

    @classmethod
    def from_user(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            role=user.role,
            team=user.team,
            is_active=user.is_active,
            permissions=sorted(ROLE_PERMISSIONS.get(user.role, ())),
        )


class TokenIn(BaseModel):
    name: str = Field(min_length=1, max_length=128, examples=["shop importer"])
    scopes: list[str] = Field(min_length=1, examples=[["feedback:write"]])
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewTokenOut(TokenOut):
    token: str = Field(description="The secret: shown this once, store it now.")


def _token_out(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "prefix": token.prefix,
        "scopes": token.scopes,
        "created_at": token.created_at,
        "expires_at": token.expires_at,
        "last_used_at": token.last_used_at,
        "revoked_at": token.revoked_at,
    }


@router.get("/me", response_model=UserOut, summary="Who am I (and what may I do)")
def me(principal: PrincipalDep) -> UserOut:
    return UserOut.from_user(principal.user)


@router.post(
    "/tokens",
    response_model=NewTokenOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create an API token for yourself (the secret is shown once)",
)
def new_token(body: TokenIn, principal: PrincipalDep, session: SessionDep, request: Request) -> NewTokenOut:
    user = session.get(User, principal.user.id)
    assert user is not None
    expires = utcnow() + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    try:
        created = create_token(session, user, name=body.name, scopes=body.scopes, expires_at=expires)
    except (AccountError, ValueError) as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    audit.record(
        session,
        "token.created",
        actor=user.email,
        target=f"token:{created.token.id}",
        ip=client_ip(request),
        detail={"scopes": created.token.scopes, "name": body.name},
    )
    session.commit()
    return NewTokenOut(**_token_out(created.token), token=created.secret)


@router.get(
    "/tokens", response_model=list[TokenOut], summary="Your API tokens (secrets are never shown again)"
)
def list_tokens(principal: PrincipalDep, session: SessionDep) -> list[TokenOut]:
    tokens = session.scalars(
        select(ApiToken).where(ApiToken.user_id == principal.user.id).order_by(ApiToken.id)
    )
    return [TokenOut(**_token_out(t)) for t in tokens]


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke a token")
def delete_token(token_id: RowId, principal: PrincipalDep, session: SessionDep, request: Request) -> None:
    token = session.get(ApiToken, token_id)
    if token is None or (token.user_id != principal.user.id and not principal.can("users:admin")):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no token {token_id}")
    revoke_token(session, token)
    audit.record(
        session,
        "token.revoked",
        actor=principal.user.email,
        target=f"token:{token_id}",
        ip=client_ip(request),
    )
    session.commit()


class UserIn(BaseModel):
    email: str = Field(max_length=320)
    password: str = Field(min_length=1, max_length=256)
    role: str
    name: str = Field(default="", max_length=256)
    team: str | None = Field(default=None, max_length=128)


class UserPatch(BaseModel):
    role: str | None = None
    team: str | None = Field(default=None, max_length=128)
    is_active: bool | None = None
    password: str | None = Field(default=None, max_length=256)


@router.get("/users", response_model=list[UserOut], summary="All users")
def list_users(session: SessionDep) -> list[UserOut]:
    return [UserOut.from_user(u) for u in session.scalars(select(User).order_by(User.id))]


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED, summary="Add a user")
def add_user(body: UserIn, principal: PrincipalDep, session: SessionDep, request: Request) -> UserOut:
    try:
        user = create_user(
            session, email=body.email, password=body.password, role=body.role, name=body.name, team=body.team
        )
    except AccountError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    audit.record(
        session,
        "user.created",
        actor=principal.user.email,
        target=user.email,
        ip=client_ip(request),
        detail={"role": user.role, "team": user.team},
    )
    session.commit()
    return UserOut.from_user(user)


@router.patch(
    "/users/{user_id}", response_model=UserOut, summary="Change a user's role, team, status or password"
)
def change_user(
    user_id: RowId, body: UserPatch, principal: PrincipalDep, session: SessionDep, request: Request
) -> UserOut:
    user = session.get(User, user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {user_id}")
    changes: dict[str, Any] = {}
    if body.role is not None and body.role != user.role:
        if body.role not in ROLE_PERMISSIONS:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"unknown role {body.role!r}")
        changes["role"] = [user.role, body.role]
        user.role = body.role
    if body.team is not None and body.team != user.team:
        changes["team"] = [user.team, body.team]
        user.team = body.team
    if body.is_active is not None and body.is_active != user.is_active:
        changes["is_active"] = [user.is_active, body.is_active]
        user.is_active = body.is_active
    if body.password is not None:
        try:
            user.password_hash = hash_password(body.password)
        except AccountError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
        changes["password"] = "changed"
    if changes:
        audit.record(
            session,
            "user.changed",
            actor=principal.user.email,
            target=user.email,
            ip=client_ip(request),
            detail=changes,
        )
    session.commit()
    return UserOut.from_user(user)


class AuditOut(BaseModel):
    id: int
    at: datetime
    actor: str | None
    action: str
    target: str | None
    ip: str | None
    detail: dict[str, Any]


@router.get("/audit", response_model=list[AuditOut], summary="The audit log, newest first")
def read_audit(
    session: SessionDep, action: str | None = None, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[AuditOut]:
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    return [
        AuditOut(id=e.id, at=e.at, actor=e.actor, action=e.action, target=e.target, ip=e.ip, detail=e.detail)
        for e in session.scalars(stmt)
    ]
