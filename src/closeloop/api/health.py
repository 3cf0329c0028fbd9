"""Liveness and readiness.

``/livez``: the process answers. ``/healthz``: the database answers. ``/readyz``: everything a request
needs — the database answers, its schema is current, the disk has room, the background worker runs —
with each check's finding, 503 when any fails (load balancers stop sending traffic until it passes).
"""

from __future__ import annotations

import shutil
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from closeloop import __version__
from closeloop.settings import data_dir
from closeloop.store.migrate import current_revision, head_revision

router = APIRouter(tags=["health"])


def _database_ok(request: Request) -> bool:
    try:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError:
        return False


@router.get("/healthz", summary="The app is up and its database answers")
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


def _check_schema(request: Request) -> dict[str, Any]:
    try:
        current = current_revision(request.app.state.engine)
    except SQLAlchemyError as exc:
        return {"ok": False, "detail": f"cannot read the schema version: {type(exc).__name__}"}
    head = head_revision()
    if current != head:
        return {"ok": False, "detail": f"schema at {current}, code expects {head}: run `closeloop init`"}
    return {"ok": True, "revision": current}


def _check_disk(request: Request) -> dict[str, Any]:
    settings = request.app.state.settings
    database = request.app.state.engine.url.database
    where = data_dir()
    if request.app.state.engine.dialect.name == "sqlite" and database:
        where = data_dir().joinpath(database).resolve().parent
    free_mb = shutil.disk_usage(where).free // 2**20
    ok = free_mb >= settings.min_free_disk_mb
    detail = f"{free_mb} MB free in {where}"
    return {
        "ok": ok,
        "free_mb": free_mb,
        "detail": detail if ok else detail + f" (< {settings.min_free_disk_mb} MB)",
    }


def _check_worker(request: Request) -> dict[str, Any]:
    worker = request.app.state.worker
    if worker is None:
        return {"ok": True, "detail": "no in-process worker (CLOSELOOP_ANALYSIS_IN_BACKGROUND=false)"}
    found: dict[str, Any] = {
        "ok": worker.alive,
        "last_loop_seconds_ago": round(time.monotonic() - worker.last_beat, 1),
    }
    if worker.last_error:
        found["last_error"] = worker.last_error
    if not worker.alive:
        found["detail"] = "the background worker thread has stopped"
    return found


@router.get("/readyz", summary="Ready: database, schema, disk and background worker all fine")
def readyz(request: Request) -> JSONResponse:
    database_ok = _database_ok(request)
    checks: dict[str, dict[str, Any]] = {
        "database": {"ok": database_ok, "detail": "ok" if database_ok else "unreachable"},
    }
    if database_ok:
        checks["schema"] = _check_schema(request)
    checks["disk"] = _check_disk(request)
    checks["worker"] = _check_worker(request)
    ready = all(check["ok"] for check in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks, "version": __version__},
        status_code=200 if ready else 503,
    )
