"""Faults: the database away for a while, a full disk, a worker killed mid-batch. Each is reported
clearly, nothing accepted is lost, and work resumes once the fault is gone."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import event, func, select, text

from closeloop.collect.ingest import write_batch
from closeloop.collect.records import FeedbackRecord
from closeloop.jobs.events import LEASE, process_pending
from closeloop.store.models import Analysis, Event, FeedbackItem, utcnow
from closeloop.store.session import engine_for


class TcpProxy:
    """A loopback TCP relay in front of the database that the test can cut and restore."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        """The database "goes away": no new connections, and every open one is cut."""
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread (Linux)
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._open:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                    sock.close()
                except OSError:
                    pass
            self._open.clear()


def _count(db) -> int:
    with db() as session:
        return session.scalar(select(func.count()).select_from(FeedbackItem)) or 0


def test_database_outage_is_reported_and_nothing_accepted_is_lost(
    settings, db, database_url, serve, make_account
):
    if not database_url.startswith("postgresql"):
        pytest.skip("the outage is simulated on the network path to PostgreSQL")
    url = engine_for(database_url).url
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    token = make_account("analyst")
    accepted: list[str] = []
    with serve(settings.model_copy(update={"database_url": proxied})) as base:
        http = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30)

        def post(n: int) -> httpx.Response:
            response = http.post(
                "/api/v1/feedback", json={"channel": "api", "external_id": f"o-{n}", "text": f"第{n}条"}
            )
            if response.status_code in (200, 201):
                accepted.append(f"o-{n}")
            return response

        assert [post(n).status_code for n in range(5)] == [201] * 5
        proxy.stop()
        during = post(5)
        assert during.status_code == 503, during.text
        assert "database unavailable" in during.json()["detail"] and during.headers["retry-after"]
        ready = http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["database"]["ok"] is False
        proxy.start()
        # The client retries what was refused; the app reconnects by itself.
        assert post(5).status_code == 201
        assert [post(n).status_code for n in range(6, 10)] == [201] * 4
        assert http.get("/readyz").status_code == 200
        http.close()
    proxy.stop()
    engine_for(proxied).dispose()
    with db() as session:
        stored = set(session.scalars(select(FeedbackItem.external_id)))
    assert stored == set(accepted) == {f"o-{n}" for n in range(10)}


def test_a_briefly_locked_sqlite_database_makes_writes_wait_not_fail(client, db):
    with db() as holder:
        if holder.get_bind().dialect.name != "sqlite":
            pytest.skip("SQLite locking")
        holder.execute(text("UPDATE channels SET label_en = label_en WHERE name = 'api'"))  # takes the lock
        results: list[int] = []
        poster = threading.Thread(
            target=lambda: results.append(
                client.post("/api/v1/feedback", json={"channel": "api", "text": "锁住时提交"}).status_code
            )
        )
        poster.start()
        time.sleep(1.0)
        assert results == []  # waiting for the lock
        holder.commit()
    poster.join(30)
    assert results == [201] and _count(db) == 1


def test_a_full_disk_refuses_the_write_clearly_and_writes_nothing(client, db, settings):
    engine = engine_for(settings.database_url)
    if engine.dialect.name != "sqlite":
        pytest.skip("the full disk is simulated with SQLite's page limit")
    client.post("/api/v1/feedback", json={"channel": "api", "text": "先存一条"})

    def cap(dbapi_connection, _record) -> None:
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 2}")

    event.listen(engine, "connect", cap)
    engine.dispose()
    try:
        big = [{"channel": "api", "text": f"第{n}条：" + "很长的反馈" * 400} for n in range(60)]
        response = client.post("/api/v1/feedback/batch", json={"items": big})
        assert response.status_code == 507, response.text
        assert "storage full" in response.json()["detail"]
    finally:
        event.remove(engine, "connect", cap)
        engine.dispose()
    assert _count(db) == 1  # the batch is all or nothing
    assert client.post("/api/v1/feedback/batch", json={"items": big}).status_code == 201
    assert _count(db) == 61


def test_a_worker_killed_mid_batch_leaves_its_work_to_the_next(settings, db):
    texts = [
        f"第{n}单：物流{'很快' if n % 2 else '太慢'}，包装{'完好' if n % 3 else '破损'}" for n in range(400)
    ]
    with db() as session:
        result = write_batch(session, [FeedbackRecord(text=t, channel="api") for t in texts])
        session.commit()
    ids = result.item_ids
    env = {**os.environ, "CLOSELOOP_DATABASE_URL": settings.database_url}
    child = subprocess.Popen(
        [sys.executable, "-m", "closeloop", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def analysed() -> int:
        with db() as session:
            return session.scalar(select(func.count()).select_from(Analysis)) or 0

    deadline = time.monotonic() + 300
    while analysed() == 0 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    done_by_first = analysed()
    assert 0 < done_by_first < len(ids), "the worker should die mid-batch"

    def created_event() -> Event:
        with db() as session:
            return session.scalars(select(Event).where(Event.type == "feedback.created")).one()

    # Its lease still holds: another worker leaves the event alone until it expires ...
    process_pending(db)  # (handles the "analysed" event of the batch the first worker finished)
    assert created_event().processed_at is None and created_event().claimed_until is not None
    # ... then takes it up and finishes the work, without repeating what was done.
    process_pending(db, now=utcnow() + LEASE + timedelta(seconds=1))
    assert created_event().processed_at is not None
    process_pending(db)  # the "analysed" event of the second half
    with db() as session:
        per_item = session.execute(
            select(Analysis.feedback_id, func.count()).group_by(Analysis.feedback_id)
        ).all()
        pending = session.scalars(select(Event).where(Event.processed_at.is_(None))).all()
    assert sorted(item for item, _ in per_item) == sorted(ids)
    assert {n for _, n in per_item} == {1} and pending == []
