"""Stored feedback is analysed in the background with the model version kept; reanalysis is resumable."""

from __future__ import annotations

import time

from sqlalchemy import func, select
from typer.testing import CliRunner

from closeloop.cli import app
from closeloop.jobs.analysis import active_engine, analyse_items, reanalyse
from closeloop.jobs.events import process_pending
from closeloop.store.models import Analysis, Event, FeedbackItem, ModelVersion

ITEMS = [
    {"text": "物流太慢了，一个星期才到，包装还破了，要求退款", "channel": "taobao", "external_id": "1"},
    {"text": "质量很好，客服态度也很热情，会回购", "channel": "taobao", "external_id": "2"},
    {
        "text": "The app keeps crashing when I try to pay. Fix it or I'm leaving.",
        "channel": "app_store",
        "external_id": "3",
    },
]


def test_new_feedback_is_analysed_from_its_event(client, db):
    assert client.post("/api/v1/feedback/batch", json={"items": ITEMS}).status_code == 201
    handled = process_pending(db)
    assert handled == 1
    engine = active_engine()
    with db() as session:
        analyses = session.scalars(select(Analysis).order_by(Analysis.feedback_id)).all()
        assert len(analyses) == 3 and {a.model_version for a in analyses} == {engine.version}
        assert session.get(ModelVersion, engine.version) is not None
        created = select(Event.processed_at).where(Event.type == "feedback.created")
        assert session.scalars(created).one() is not None
        assert analyses[0].sentiment == "negative" and analyses[1].sentiment == "positive"
        assert analyses[2].language == "en" and analyses[0].language == "zh"
        assert all(set(a.categories) <= set(engine.category_detector.taxonomy.ids()) for a in analyses)
        assert (
            session.scalars(select(FeedbackItem.language).where(FeedbackItem.external_id == "3")).one()
            == "en"
        )
    # The API shows the analysis beside the raw item.
    got = client.get("/api/v1/feedback", params={"with_analysis": "true"}).json()["items"]
    assert {i["analysis"]["model_version"] for i in got} == {engine.version}


def test_analysis_is_never_repeated_for_a_version(client, db):
    ids = client.post("/api/v1/feedback/batch", json={"items": ITEMS}).json()["ids"]
    engine = active_engine()
    assert analyse_items(db, ids, engine) == 3
    assert analyse_items(db, ids, engine) == 0
    assert reanalyse(db, engine) == 0
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Analysis)) == 3


def test_reanalyze_cli_analyses_what_is_missing(client, db):
    client.post("/api/v1/feedback/batch", json={"items": ITEMS})
    result = CliRunner().invoke(app, ["reanalyze"])
    assert result.exit_code == 0, result.output
    assert "analysed 3 items" in result.output
    again = CliRunner().invoke(app, ["reanalyze"])
    assert "analysed 0 items" in again.output


def test_the_app_analyses_in_the_background(background_server, admin_token):
    """With the embedded worker on, an item posted over HTTP gets its analysis without anyone asking."""
    import httpx

    auth = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=background_server, timeout=30, headers=auth) as http:
        item_id = http.post("/api/v1/feedback", json=ITEMS[0]).json()["ids"][0]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            analysis = http.get(f"/api/v1/feedback/{item_id}").json()["analysis"]
            if analysis:
                break
            time.sleep(0.2)
        assert analysis and analysis["sentiment"] == "negative"


def test_embeddings_are_computed_once_and_kept(client, db, monkeypatch):
    """A later model version reuses the stored e5 embeddings instead of embedding the texts again."""
    import numpy as np

    from closeloop.analysis import sentiment_model
    from closeloop.analysis.text import normalize_text
    from closeloop.jobs.analysis import ENCODER
    from closeloop.store.models import Embedding

    ids = client.post("/api/v1/feedback/batch", json={"items": ITEMS}).json()["ids"]
    engine = active_engine()
    assert analyse_items(db, ids, engine) == 3
    with db() as session:
        kept = session.scalars(select(Embedding)).all()
        assert {e.feedback_id for e in kept} == set(ids) and {e.encoder for e in kept} == {ENCODER}
        first = {e.feedback_id: np.frombuffer(e.vector, dtype=np.float16) for e in kept}
        assert all(abs(float(np.linalg.norm(v)) - 1) < 0.01 for v in first.values())
        first_scores = {a.feedback_id: a.sentiment_score for a in session.scalars(select(Analysis))}

    embedded: list[str] = []
    real_embed = sentiment_model.embed
    monkeypatch.setattr(sentiment_model, "embed", lambda texts: embedded.extend(texts) or real_embed(texts))
    monkeypatch.setattr(engine, "version", engine.version + "-next")  # as if a new model version came
    assert analyse_items(db, ids, engine) == 3
    with db() as session:
        assert session.scalar(select(func.count()).select_from(Embedding)) == 3
        again = {
            a.feedback_id: a.sentiment_score
            for a in session.scalars(select(Analysis).where(Analysis.model_version == engine.version))
        }
    assert again == first_scores  # same texts, same kept embeddings, same scores
    # Only clauses the aspect step scores may be embedded now; the whole texts are not embedded again.
    assert embedded == [] or not {normalize_text(t["text"]) for t in ITEMS} & set(embedded)
