"""Liveness and readiness: ``/healthz`` answers when the app can reach its database."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from closeloop import __version__

router = APIRouter(tags=["health"])


def _database_ok(request: Request) -> bool:
    try:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError:
        return False


@router.get("/healthz", summary="Ready: the app is up and its database answers")
def healthz(request: Request) -> JSONResponse:
    ok = _database_ok(request)
    body = {
        "status": "ok" if ok else "unavailable",
        "database": "ok" if ok else "unreachable",
        "version": __version__,
    }
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/livez", summary="Alive: the process answers (no dependency checks)")
def livez() -> dict[str, str]:
    return {"status": "ok"}
