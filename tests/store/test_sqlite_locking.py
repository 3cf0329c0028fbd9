"""Embedded SQLite under concurrent use: reads never wait for a writer; read-then-write never fails."""

from __future__ import annotations

import threading

from sqlalchemy import select, text

from closeloop.store.models import Channel


def test_reads_answer_while_a_long_write_holds_the_lock(client, db):
    client.post("/api/v1/feedback", json={"text": "第一条", "channel": "jd"})
    assert client.get("/api/v1/feedback").status_code == 200  # the token's use is recorded now
    with db() as writer:
        if writer.get_bind().dialect.name != "sqlite":
            return
        writer.execute(
            text(
                "INSERT INTO channels (name, label_zh, label_en, default_kind, direction, created_at) "
                "VALUES ('held', '', '', 'review', 'direct', '2026-01-01')"
            )
        )
        # The write lock is held until this transaction ends; a GET must not wait for it.
        response = client.get("/api/v1/feedback", timeout=5)
        assert response.status_code == 200 and response.json()["items"][0]["text"] == "第一条"
        writer.rollback()


def test_read_then_write_transactions_do_not_fail_when_others_commit(db):
    """Two writers that each read, then write: the second waits instead of failing with 'locked'."""
    errors: list[Exception] = []
    started = threading.Event()

    def slow_writer() -> None:
        try:
            with db() as session:
                session.scalars(select(Channel)).all()
                started.set()
                session.add(
                    Channel(name="slow", label_zh="", label_en="", default_kind="review", direction="direct")
                )
                threading.Event().wait(0.5)
                session.commit()
        except Exception as exc:  # pragma: no cover - the assertion below reports it
            errors.append(exc)

    thread = threading.Thread(target=slow_writer)
    thread.start()
    started.wait(5)
    with db() as session:
        session.scalars(select(Channel)).all()
        session.add(Channel(name="fast", label_zh="", label_en="", default_kind="review", direction="direct"))
        session.commit()
    thread.join(10)
    assert errors == []
    with db() as session:
        assert {"slow", "fast"} <= set(session.scalars(select(Channel.name)))
