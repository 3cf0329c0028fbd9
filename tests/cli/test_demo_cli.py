"""`closeloop demo`: realistic demo data lands in the store once, through the normal ingestion path."""

from __future__ import annotations

import json

from sqlalchemy import func, select
from typer.testing import CliRunner

from closeloop.cli import app
from closeloop.store.models import Consent, Customer, FeedbackItem


def test_demo_loads_once(settings, db):
    runner = CliRunner()
    first = runner.invoke(app, ["demo", "--items", "800", "--json"])
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert summary["imported"] + summary["duplicates"] == 800 and summary["imported"] > 750
    assert len(summary["stories"]) >= 2
    with db() as session:
        imported = (
            select(func.count()).select_from(FeedbackItem).where(FeedbackItem.import_run_id.is_not(None))
        )
        assert session.scalar(imported) == summary["imported"]  # (survey answers come on top)
        assert session.scalar(select(func.count()).select_from(Customer)) > 100
        assert session.scalar(select(func.count()).select_from(Consent)) > 100
        channels = set(session.scalars(select(FeedbackItem.channel).distinct()))
        assert {"taobao", "jd", "wechat", "weibo", "survey", "ticket"} <= channels
        metadata = session.scalars(select(FeedbackItem.meta)).all()
        assert not any("demo_truth" in m for m in metadata)
    setup = summary["setup"]
    assert setup["surveys"] == 3 and setup["rules"] >= 5 and setup["responses"] > 250
    with db() as session:
        nps = client_results(session)
        assert nps["responses"] == setup["responses"] and -100 <= nps["value"] <= 100
    again = runner.invoke(app, ["demo", "--items", "800", "--json"])
    second = json.loads(again.stdout.strip().splitlines()[-1])
    assert second["already_loaded"] is True and second["setup"]["responses"] == 0


def client_results(session) -> dict:
    from closeloop.ask.results import survey_results
    from closeloop.ask.service import load

    return survey_results(session, load(session, "post-purchase-nps").survey)["questions"]["nps"]["overall"]
