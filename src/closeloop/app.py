"""The web app factory: API routers, pages, body-size limit, shared engine and sessions."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError
from starlette.types import ASGIApp, Receive, Scope, Send

from closeloop import __version__
from closeloop.api import (
    accounts,
    action_plans,
    alerts,
    behaviour,
    capture,
    cases,
    community,
    customers,
    feedback,
    health,
    insight,
    labels,
    privacy,
    reports,
    routing,
    survey_answers,
    surveys,
    topics,
    webhooks,
)
from closeloop.api.policy import SignInRequiredError, enforce_policy
from closeloop.settings import Settings, get_settings
from closeloop.store.faults import StoreFault, classify
from closeloop.store.session import engine_for, session_factory
from closeloop.web import (
    admin_pages,
    auth_pages,
    behaviour_pages,
    capture_pages,
    case_pages,
    community_pages,
    dashboard_pages,
    follow_up_pages,
    pages,
    report_pages,
    survey_pages,
    topics_pages,
)

log = logging.getLogger("closeloop")


class BodySizeLimit:
    """Refuse request bodies larger than the configured limit with 413, before reading them whole."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def limited_receive() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLargeError
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLargeError:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            {"detail": f"request body larger than {self.max_bytes} bytes"}, status_code=413
        )
        await response(scope, receive, send)


class _TooLargeError(Exception):
    pass


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for ``settings`` (default: from the environment). The database must be migrated."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = None
        # With a broker (CLOSELOOP_BROKER_URL) the Celery workers do this work; web processes stay stateless.
        if settings.analysis_in_background and not settings.broker_url:
            from closeloop.jobs.worker import EmbeddedWorker, default_jobs

            factory = app.state.session_factory
            worker = EmbeddedWorker(factory, jobs=default_jobs(factory, settings))
            worker.start()
        app.state.worker = worker
        yield
        if worker is not None:
            worker.stop()

    app = FastAPI(
        title="closeloop",
        version=__version__,
        description="Self-hosted customer feedback management. 客户反馈管理：收集、分析、行动、回访。",
        lifespan=lifespan,
        dependencies=[Depends(enforce_policy)],
    )
    app.state.settings = settings
    app.state.worker = None
    app.state.engine = engine_for(settings.database_url)
    app.state.session_factory = session_factory(app.state.engine)
    app.include_router(health.router)
    app.include_router(feedback.router)
    app.include_router(privacy.router)
    app.include_router(surveys.router)
    app.include_router(cases.router)
    app.include_router(routing.router)
    app.include_router(action_plans.router)
    app.include_router(alerts.router)
    app.include_router(customers.router)
    app.include_router(labels.router)
    app.include_router(insight.router)
    app.include_router(behaviour.router)
    app.include_router(reports.router)
    app.include_router(webhooks.router)
    app.include_router(accounts.router)
    app.include_router(auth_pages.router)
    app.include_router(pages.router)
    app.include_router(case_pages.router)
    app.include_router(survey_pages.router)
    app.include_router(follow_up_pages.router)
    app.include_router(admin_pages.router)
    app.include_router(dashboard_pages.router)
    app.include_router(behaviour_pages.router)
    app.include_router(report_pages.router)
    app.include_router(topics.router)
    app.include_router(topics_pages.router)
    app.include_router(survey_answers.router)
    app.include_router(community.router)
    app.include_router(community_pages.router)
    app.include_router(capture.router)
    app.include_router(capture_pages.router)
    app.mount("/static", StaticFiles(directory=survey_pages.STATIC_DIR), name="static")
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)

    @app.exception_handler(SignInRequiredError)
    async def sign_in_first(_request: Request, exc: SignInRequiredError) -> RedirectResponse:
        return RedirectResponse(f"/login?next={quote(exc.next_url)}", status_code=303)

    @app.exception_handler(Exception)
    async def unhandled(_request: Request, exc: Exception) -> JSONResponse:
        # Never a traceback to the client; the server log has it. A database fault is the client's
        # cue to retry (nothing of the failed request was written: it ran in one transaction).
        fault = classify(exc)
        if fault is StoreFault.unavailable:
            log.warning("database unavailable: %s", exc)
            return JSONResponse(
                {"detail": "database unavailable; nothing was written, retry shortly"},
                status_code=503,
                headers={"Retry-After": "5"},
            )
        if fault is StoreFault.full:
            log.error("storage full: %s", exc)
            return JSONResponse(
                {"detail": "storage full: the server's disk or database is full; nothing was written"},
                status_code=507,
            )
        if isinstance(exc, DataError):  # a value the database refuses (NUL in text on PostgreSQL …)
            reason = str(exc.orig).splitlines()[0] if exc.orig else "invalid value"
            return JSONResponse({"detail": f"a value was refused by the database: {reason}"}, status_code=422)
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    return app
