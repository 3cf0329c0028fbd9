"""Request dependencies: settings and a database session per request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import yaml
from fastapi import Depends, HTTPException, Path, Request, status
from sqlalchemy.orm import Session, sessionmaker

from closeloop.settings import Settings
from closeloop.store.session import READ_ONLY

# Methods that only read: their sessions never wait for a writer and need no CSRF token.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def client_ip(request: Request) -> str | None:
    """The caller's address, for the audit log and sign-in throttling."""
    return request.client.host if request.client else None


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_session_factory(request: Request) -> sessionmaker[Session]:
    return request.app.state.session_factory


def get_session(request: Request) -> Iterator[Session]:
    """A session per request. Handlers that write commit before they return (the code after ``yield``
    may run after the response is sent); anything left uncommitted is rolled back."""
    session = request.app.state.session_factory()
    if request.method in SAFE_METHODS:
        session.connection(execution_options=READ_ONLY)
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]

# Ids in URLs are database keys: out-of-range numbers are a 422, not a database error.
MAX_ID = 2**63 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]


YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


async def definition_body(request: Request) -> Any:
    """A definition sent as YAML (with a YAML content type: the text, parsed by the domain) or as JSON
    (parsed here); an undecodable or unparsable body is a 422 that says why."""
    raw = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        text = raw.decode("utf-8")
        return text if content_type in YAML_TYPES else yaml.safe_load(text or "null")
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"unreadable body: {exc}") from None
