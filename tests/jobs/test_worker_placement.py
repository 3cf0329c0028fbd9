"""Where background work runs: in the web process by default, in the Celery workers when a broker is set."""

from __future__ import annotations

import asyncio

from closeloop.app import create_app


def started_worker(settings) -> object | None:
    """Run the app's lifespan start-up and shut-down; return the worker it started (None: none)."""
    app = create_app(settings)

    async def run() -> object | None:
        async with app.router.lifespan_context(app):
            return app.state.worker

    return asyncio.run(run())


def test_the_embedded_worker_runs_in_the_web_process_without_a_broker(settings):
    assert started_worker(settings.model_copy(update={"analysis_in_background": True})) is not None


def test_web_processes_leave_the_work_to_celery_when_a_broker_is_set(settings):
    configured = settings.model_copy(
        update={"analysis_in_background": True, "broker_url": "redis://127.0.0.1:1/0"}
    )
    assert started_worker(configured) is None
