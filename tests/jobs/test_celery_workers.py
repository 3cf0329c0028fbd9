"""Distributed workers: real PostgreSQL, a real Redis broker and two real Celery worker processes.

A reanalysis is split across both workers; one is killed mid-batch; every item still ends up analysed
exactly once for the model version, and re-running the reanalysis sends only what is missing.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from closeloop.collect.ingest import write_batch
from closeloop.collect.records import FeedbackRecord
from closeloop.jobs.analysis import load_engine
from closeloop.jobs.distributed import analysed_count, enqueue_reanalysis, pending_batches
from closeloop.store.models import Analysis, FeedbackItem

REDIS_URL = os.environ.get("CLOSELOOP_TEST_REDIS_URL")
ANALYSED_LINE = re.compile(r"worker (\S+) analysed (\d+) items")


def _store_items(db, count: int, *, emit_event: bool = False) -> list[int]:
    texts = [
        f"第{n}单：物流{'很快' if n % 2 else '太慢'}，包装{'完好' if n % 3 else '破损'}，客服{n % 7}分"
        for n in range(count)
    ]
    with db() as session:
        result = write_batch(
            session, [FeedbackRecord(text=t, channel="api") for t in texts], emit_event=emit_event
        )
        session.commit()
    return list(result.item_ids)


class Worker:
    """A ``closeloop worker --celery`` subprocess whose log goes to a file the test reads."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path, *, beat: bool = False) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        command = [sys.executable, "-m", "closeloop", "worker", "--celery", "--pool", "solo"]
        command += ["--name", f"{name}@closeloop-test"] + (["--beat"] if beat else [])
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def analysed_batches(self) -> list[int]:
        """Item counts of the batches this worker reported as finished."""
        return [int(n) for node, n in ANALYSED_LINE.findall(self.log()) if node.startswith(self.name)]

    def batch_in_hand(self) -> bool:
        """The worker received a batch it has not reported finished."""
        return self.log().count("closeloop.analyse_batch[") > 2 * len(self.analysed_batches())

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while " ready." not in self.log():
            assert self.process.poll() is None, f"worker {self.name} exited:\n{self.log()}"
            assert time.monotonic() < deadline, f"worker {self.name} not ready:\n{self.log()}"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def cluster_env(settings, database_url: str, tmp_path: Path) -> dict[str, str]:
    """Environment of the worker processes and the CLI: the test database, the test broker, emptied."""
    if not database_url.startswith("postgresql"):
        pytest.skip("the distributed topology runs on PostgreSQL")
    if not REDIS_URL:
        pytest.skip("no Redis for this run (scripts/test starts one: set CLOSELOOP_TEST_REDIS_URL)")
    import redis

    broker = redis.Redis.from_url(REDIS_URL)
    broker.flushdb()
    broker.close()
    return {
        **os.environ,
        "CLOSELOOP_DATABASE_URL": database_url,
        "CLOSELOOP_BROKER_URL": REDIS_URL,
        # A dead worker's batch goes to the other one after 3 s (a real deployment waits minutes).
        "CLOSELOOP_BROKER_VISIBILITY_TIMEOUT_SECONDS": "3",
        "CLOSELOOP_ANALYSIS_IN_BACKGROUND": "false",
    }


@pytest.fixture
def workers(cluster_env: dict[str, str], tmp_path: Path) -> Iterator[list[Worker]]:
    started = [Worker("alpha", cluster_env, tmp_path), Worker("beta", cluster_env, tmp_path, beat=True)]
    try:
        for worker in started:
            worker.wait_ready()
        yield started
    finally:
        for worker in started:
            worker.stop()


def _per_item_counts(db, version: str) -> dict[int, int]:
    with db() as session:
        rows = session.execute(
            select(Analysis.feedback_id, func.count())
            .where(Analysis.model_version == version)
            .group_by(Analysis.feedback_id)
        ).all()
    return {item_id: count for item_id, count in rows}


def _reanalyze(env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "closeloop", "reanalyze", "--fast", "--batch-size", "40", *extra]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_reanalysis_is_split_across_workers_and_survives_one_being_killed(db, cluster_env, workers):
    alpha, beta = workers
    ids = _store_items(db, 4000)
    version = load_engine(None, True).version

    cli = _reanalyze(cluster_env)
    deadline = time.monotonic() + 120
    while not (alpha.analysed_batches() and alpha.batch_in_hand()):
        assert time.monotonic() < deadline and cli.poll() is None, alpha.log()
        time.sleep(0.02)
    # No goodbye: the batch in its hands stays unacknowledged and goes to beta after the timeout.
    alpha.process.send_signal(signal.SIGKILL)
    alpha.process.wait()
    at_kill = analysed_count(db, version)
    assert 0 < at_kill < len(ids), "the worker should die mid-reanalysis"

    output, _ = cli.communicate(timeout=300)
    assert cli.returncode == 0, output
    assert "sent 4000 items in 100 batches" in output
    counts = _per_item_counts(db, version)
    assert sorted(counts) == sorted(ids), "every item analysed"
    assert set(counts.values()) == {1}, "and none twice"
    assert alpha.analysed_batches() and beta.analysed_batches(), "both workers did part of the batch"
    assert sum(beta.analysed_batches()) > 0 and beta.process.poll() is None

    # Resumable: lose some analyses (a crash, say); re-running sends only those to the workers.
    lost = ids[1000:1100]
    with db() as session:
        session.execute(
            delete(Analysis).where(Analysis.feedback_id.in_(lost), Analysis.model_version == version)
        )
        session.commit()
    again = _reanalyze(cluster_env)
    output, _ = again.communicate(timeout=300)
    assert again.returncode == 0, output
    assert "sent 100 items in 3 batches" in output
    counts = _per_item_counts(db, version)
    assert len(counts) == len(ids) and set(counts.values()) == {1}


def test_new_feedback_is_analysed_by_the_workers_from_its_event(db, cluster_env, workers):
    """Beat (in the second worker) drains the event outbox every few seconds; the workers analyse."""
    ids = _store_items(db, 3, emit_event=True)
    deadline = time.monotonic() + 180
    while True:
        with db() as session:
            analysed = session.scalar(
                select(func.count(func.distinct(Analysis.feedback_id))).where(Analysis.feedback_id.in_(ids))
            )
        if analysed == len(ids):
            break
        assert time.monotonic() < deadline, "\n".join(w.log()[-3000:] for w in workers)
        time.sleep(0.5)
    with db() as session:
        assert session.scalar(select(func.count()).select_from(FeedbackItem)) == 3


def test_enqueue_sends_only_missing_items_in_batches(settings, db):
    """Without a broker: the plan is computed from the database, so it resumes after any crash."""
    ids = _store_items(db, 25)
    version = load_engine(None, True).version
    sent: list[list[int]] = []
    plan = enqueue_reanalysis(
        db, version, model_dir=None, fast=True, batch_size=10, send=lambda b, d, f: sent.append(b)
    )
    assert (plan.items, plan.batches) == (25, 3) and [len(b) for b in sent] == [10, 10, 5]
    assert [i for batch in sent for i in batch] == sorted(ids)
    from closeloop.jobs.distributed import analyse_batch_now

    assert analyse_batch_now(db, sent[0], None, True) == 10
    assert analyse_batch_now(db, sent[0], None, True) == 0  # a redelivered batch writes nothing
    remaining = list(pending_batches(db, version, batch_size=10))
    assert [i for batch in remaining for i in batch] == sorted(ids)[10:]


def test_celery_is_configured_for_redelivery_from_the_settings(settings):
    from closeloop.jobs.distributed import (
        ANALYSE_BATCH,
        BULK_QUEUE,
        DRAIN_EVENTS,
        RUN_PERIODIC,
        celery_config,
    )

    config = celery_config(
        settings.model_copy(
            update={"broker_url": "redis://broker:6379/0", "broker_visibility_timeout_seconds": 120}
        )
    )
    assert config["broker_url"] == "redis://broker:6379/0"
    assert config["task_acks_late"] and config["task_reject_on_worker_lost"]
    assert config["worker_prefetch_multiplier"] == 1
    assert config["broker_transport_options"]["visibility_timeout"] == 120
    # Bulk reanalysis waits in its own queue: new feedback's events do not queue behind it.
    assert config["task_routes"] == {ANALYSE_BATCH: {"queue": BULK_QUEUE}}
    schedule = config["beat_schedule"]
    assert schedule["drain-events"]["task"] == DRAIN_EVENTS
    assert schedule["job-retention"] == {
        "task": RUN_PERIODIC,
        "schedule": settings.purge_interval_seconds,
        "args": ("retention",),
    }


def test_a_periodic_job_runs_only_under_its_lease(settings, db):
    from closeloop.jobs.distributed import run_periodic_now
    from closeloop.jobs.leases import acquire, release

    assert run_periodic_now(db, settings, "retention") is True
    assert acquire(db, "retention", ttl=timedelta(minutes=5), holder="another-worker")
    assert run_periodic_now(db, settings, "retention") is False  # the other worker runs it
    release(db, "retention", holder="another-worker")
    with pytest.raises(ValueError, match="no periodic job named 'nightly'"):
        run_periodic_now(db, settings, "nightly")


def test_worker_celery_needs_a_broker(settings, monkeypatch):
    from typer.testing import CliRunner

    from closeloop.cli import app

    monkeypatch.delenv("CLOSELOOP_BROKER_URL", raising=False)
    result = CliRunner().invoke(app, ["worker", "--celery"])
    assert result.exit_code == 2
    assert "CLOSELOOP_BROKER_URL" in result.output


def test_waiting_for_a_reanalysis_reports_progress_and_gives_up_when_nothing_moves(settings, db):
    from closeloop.jobs.distributed import StalledError, analyse_batch_now, wait_for_reanalysis

    ids = _store_items(db, 6)
    version = load_engine(None, True).version
    now = [0.0]
    seen: list[int] = []

    def sleep(seconds: float) -> None:  # a worker that analyses two items each poll, then dies
        now[0] += seconds
        if len(seen) < 3:
            start = 2 * (len(seen) - 1)
            analyse_batch_now(db, ids[start : start + 2], None, True)

    with pytest.raises(StalledError, match="no analysis by"):
        wait_for_reanalysis(
            db, version, on_progress=seen.append, stall_seconds=30, clock=lambda: now[0], sleep=sleep
        )
    assert seen == [0, 2, 4]
    analyse_batch_now(db, ids, None, True)
    assert wait_for_reanalysis(db, version, sleep=sleep, clock=lambda: now[0]) == 6
