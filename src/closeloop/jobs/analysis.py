"""Background analysis of stored feedback: new items on ``feedback.created``, and reanalysis by version."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from sqlalchemy import ColumnElement, Select, exists, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from closeloop.analysis.engine import AnalysisResult, Engine
from closeloop.analysis.taxonomy import taxonomy_stamp
from closeloop.collect.customers import refused
from closeloop.collect.ingest import FEEDBACK_CREATED
from closeloop.insight.rollups import mark_items_changed
from closeloop.jobs.events import on_batch
from closeloop.settings import get_settings
from closeloop.store.models import Analysis, Embedding, Event, FeedbackItem, ModelVersion

BATCH = 200
FEEDBACK_ANALYSED = "feedback.analysed"


@lru_cache(maxsize=4)
def load_engine(model_dir: str | None, fast: bool = False, taxonomy: tuple[str, int] | None = None) -> Engine:
    """The engine for a model directory (None = the built-in default), loaded once per process and again
    when ``taxonomy`` (:func:`taxonomy_stamp`: its file and modification time) changes."""
    return Engine.load(Path(model_dir) if model_dir else None, fast=fast)


def active_model_dir(session: Session) -> Path | None:
    """The model that analyses new feedback: the activated version, else CLOSELOOP_MODEL_DIR, else default."""
    path = session.scalars(select(ModelVersion.path).where(ModelVersion.is_active.is_(True))).first()
    if path:
        return Path(path)
    return get_settings().model_dir


def active_engine(session: Session | None = None) -> Engine:
    model_dir = active_model_dir(session) if session is not None else get_settings().model_dir
    # A category added from /topics changes the taxonomy file: every process reloads on its next batch.
    return load_engine(str(model_dir) if model_dir else None, taxonomy=taxonomy_stamp(model_dir))


def _analysis_row(item_id: int, version: str, result: AnalysisResult) -> Analysis:
    return Analysis(
        feedback_id=item_id,
        model_version=version,
        language=result.language,
        sentiment=result.sentiment,
        sentiment_score=result.sentiment_score,
        complaint=result.complaint,
        categories=list(result.categories),
        aspects=[{"category": c, "polarity": p} for c, p in result.aspects],
        confidence=result.confidence,
        needs_review=bool(result.needs_review),
        error=result.error,
    )


def ensure_model_version(session: Session, engine: Engine) -> None:
    if session.get(ModelVersion, engine.version) is None:
        session.add(
            ModelVersion(
                version=engine.version,
                description=getattr(engine, "description", ""),
                path=str(getattr(engine, "model_dir", "") or "") or None,
            )
        )
        session.flush()


def analyse_items(factory: sessionmaker[Session], item_ids: Sequence[int], engine: Engine) -> int:
    """Analyse the given items with ``engine``, skipping those it already analysed; returns how many.

    The slow part (the model) runs between two short transactions, never inside one.
    """
    done = 0
    for start in range(0, len(item_ids), BATCH):
        chunk = list(item_ids[start : start + BATCH])
        with factory() as session:
            rows = session.execute(
                select(FeedbackItem.id, FeedbackItem.text).where(
                    FeedbackItem.id.in_(chunk),
                    FeedbackItem.id.not_in(_analysed_by(engine.version, chunk)),
                    analysable(),
                )
            ).all()
            session.commit()
        if not rows:
            continue
        ids = [item_id for item_id, _ in rows]
        kept = _kept_embeddings(factory, ids) if not engine.fast else {}
        results = engine.analyze([text for _, text in rows], embeddings=[kept.get(i) for i in ids])
        with factory() as session:
            ensure_model_version(session, engine)
            _keep_embeddings(session, ids, results, kept)
            # Another worker may have analysed some of these meanwhile: write only what is still missing.
            already = set(session.scalars(_analysed_by(engine.version, [item_id for item_id, _ in rows])))
            written: list[int] = []
            by_language: dict[str, list[int]] = {}
            for (item_id, _), result in zip(rows, results, strict=True):
                if item_id in already:
                    continue
                written.append(item_id)
                session.add(_analysis_row(item_id, engine.version, result))
                if result.language:
                    by_language.setdefault(result.language, []).append(item_id)
                done += 1
            # Fill the items' language when the source did not say (raw fields otherwise stay untouched);
            # one statement per language, not per item (the per-item round trips halved worker throughput).
            for language, language_ids in by_language.items():
                session.execute(
                    update(FeedbackItem)
                    .where(FeedbackItem.id.in_(language_ids), FeedbackItem.language.is_(None))
                    .values(language=language)
                )
            mark_items_changed(session, written)
            if written:  # routing and alerts react to analysed feedback (same transaction: never lost)
                session.add(
                    Event(type=FEEDBACK_ANALYSED, payload={"ids": written, "model_version": engine.version})
                )
            session.commit()
    return done


# Embeddings are kept per encoder, so a model update that keeps the encoder reuses them.
ENCODER = "multilingual-e5-small-q4"


def _kept_embeddings(factory: sessionmaker[Session], item_ids: list[int]) -> dict[int, np.ndarray]:
    with factory() as session:
        rows = session.execute(
            select(Embedding.feedback_id, Embedding.vector).where(
                Embedding.feedback_id.in_(item_ids), Embedding.encoder == ENCODER
            )
        ).all()
        session.commit()
    return {item_id: np.frombuffer(vector, dtype=np.float16).astype(np.float32) for item_id, vector in rows}


def _keep_embeddings(
    session: Session, item_ids: list[int], results: list[AnalysisResult], kept: dict[int, np.ndarray]
) -> None:
    """Store the embeddings computed in this run (half precision: 768 bytes an item)."""
    stored = set(
        session.scalars(
            select(Embedding.feedback_id).where(
                Embedding.feedback_id.in_(item_ids), Embedding.encoder == ENCODER
            )
        )
    )
    for item_id, result in zip(item_ids, results, strict=True):
        if item_id in stored:
            continue
        vector = result.embedding
        if item_id in kept or vector is None or not np.any(vector):
            continue
        session.add(
            Embedding(feedback_id=item_id, encoder=ENCODER, vector=vector.astype(np.float16).tobytes())
        )


def analysable() -> ColumnElement[bool]:
    """Items whose customer has not objected to analytics (consent withdrawn)."""
    return or_(FeedbackItem.customer_id.is_(None), FeedbackItem.customer_id.not_in(refused("analytics")))


def _analysed_by(version: str, item_ids: Sequence[int]) -> Select:
    return select(Analysis.feedback_id).where(
        Analysis.feedback_id.in_(item_ids), Analysis.model_version == version
    )


@on_batch(FEEDBACK_CREATED)
def analyse_new_feedback(factory: sessionmaker[Session], events: list[Event]) -> None:
    """New items, however many events brought them, analysed in shared model calls."""
    with factory() as session:
        engine = active_engine(session)
    ids = sorted({item_id for event in events for item_id in event.payload.get("ids", [])})
    analyse_items(factory, ids, engine)


def pending_item_ids(session: Session, version: str, *, after_id: int = 0, limit: int = 10_000) -> list[int]:
    """Ids of items without an analysis by ``version``, in id order, after ``after_id``."""
    # NOT EXISTS, not NOT IN: PostgreSQL plans it as an anti-join on the (item, version) unique index;
    # NOT IN over millions of analyses degenerated into a scan of them per item (minutes at 1M items).
    done = exists().where(Analysis.feedback_id == FeedbackItem.id, Analysis.model_version == version)
    stmt = (
        select(FeedbackItem.id)
        .where(FeedbackItem.id > after_id, ~done, analysable())
        .order_by(FeedbackItem.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def reanalyse(
    factory: sessionmaker[Session], engine: Engine, progress: Callable[[int], None] | None = None
) -> int:
    """Analyse every stored item that has no result from ``engine.version``; resumable at any point."""
    total = 0
    after = 0
    while True:
        with factory() as session:
            ids = pending_item_ids(session, engine.version, after_id=after)
        if not ids:
            return total
        for chunk in _chunks(ids, BATCH):
            total += analyse_items(factory, chunk, engine)
            if progress:
                progress(len(chunk))
        after = ids[-1]


def _chunks(values: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
