"""The /topics page without a browser: signed-out people go to the sign-in form, viewers read the themes
but get no forms, analysts post the forms (CSRF checked; refusals re-render the page with the reason), and the
dashboard's alerts panel lists open alerts with links to their verbatims."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from closeloop.collect.ingest import write_batch
from closeloop.collect.records import FeedbackRecord
from closeloop.store.models import Alert, Analysis, RoutingRuleRecord, Team

POINTS = [
    "会员积分怎么一直不到账",
    "积分兑换失败好几次了",
    "积分清零了也没通知",
    "我的积分兑换一直显示失败",
    "积分到底什么时候到账",
    "会员积分一直不到账，好几天了",
]


def seed(db) -> None:
    now = datetime.now(UTC)
    records = [
        FeedbackRecord(text=text, channel="jd", created_at=now - timedelta(hours=n + 1))
        for n, text in enumerate(POINTS)
    ]
    with db() as session:
        for item_id in write_batch(session, records, emit_event=False, redact_pii=False).item_ids:
            session.add(Analysis(feedback_id=item_id, model_version="test-fixed", sentiment="negative"))
        session.add(Team(name="membership", label_zh="会员部", label_en="Membership"))
        session.commit()


def test_signed_out_people_are_sent_to_sign_in(live_server):
    import httpx

    with httpx.Client(base_url=live_server, follow_redirects=False) as anonymous:
        response = anonymous.get("/topics")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_a_viewer_reads_themes_without_forms(browser_as, db):
    seed(db)
    page = browser_as("viewer").get("/topics", params={"lang": "en"})
    assert page.status_code == 200
    assert "Emerging topics and duplicates" in page.text
    assert "积分" in page.text and 'class="theme"' in page.text
    assert "/topics/categories" not in page.text and "/topics/routing-rules" not in page.text


def test_analyst_forms_post_with_csrf_and_refusals_say_why(browser_as, csrf_of, db, monkeypatch):
    monkeypatch.delenv("CLOSELOOP_TAXONOMY_PATH", raising=False)
    seed(db)
    analyst = browser_as("analyst")
    page = analyst.get("/topics")
    assert 'class="make-rule"' in page.text
    assert 'class="make-category"' not in page.text and 'id="not-editable"' in page.text  # built-in model
    token = csrf_of(page)
    form = {
        "team": "membership",
        "keywords": "积分，会员积分",
        "name_zh": "会员积分",
        "name_en": "Loyalty points",
    }

    assert analyst.post("/topics/routing-rules", data=form).status_code == 403  # no CSRF token
    made = analyst.post("/topics/routing-rules", data={**form, "csrf_token": token})
    assert made.status_code == 303 and "made=rule" in made.headers["location"]
    shown = analyst.get(made.headers["location"])
    assert "topic-loyalty_points" in shown.text
    with db() as session:
        first = session.scalars(select(RoutingRuleRecord).order_by(RoutingRuleRecord.position)).first()
        assert first.definition["when"] == {"keywords_any": ["积分", "会员积分"]}

    unknown = analyst.post("/topics/routing-rules", data={**form, "team": "nobody", "csrf_token": token})
    assert unknown.status_code == 422 and 'id="topics-error"' in unknown.text and "nobody" in unknown.text
    refused = analyst.post(
        "/topics/categories", data={"name_zh": "会员积分", "keywords": "积分", "csrf_token": token}
    )
    assert refused.status_code == 409 and "CLOSELOOP_MODEL_DIR" in refused.text
    with db() as session:
        assert session.scalar(select(func.count()).select_from(RoutingRuleRecord)) == 1


def test_the_dashboard_lists_open_alerts_most_severe_first(browser_as, db):
    started = date.today() - timedelta(days=5)
    with db() as session:
        for number, (key, severity, state) in enumerate(
            [
                ("channel:jd", "medium", "open"),
                ("category:packaging", "high", "open"),
                ("product:kettle", "low", "acknowledged"),
            ]
        ):
            session.add(
                Alert(
                    dedupe_key=f"{key}:{number}",
                    key=key,
                    signal="volume" if number else "rate",
                    started_on=started,
                    severity=severity,
                    baseline=0.05,
                    recent=0.2,
                    ratio=4.0,
                    p_value=0.001,
                    evidence={},
                    message_zh=f"{key} 上升",
                    message_en=f"{key} rising",
                    status=state,
                )
            )
        session.commit()
    page = browser_as("viewer").get("/dashboard", params={"lang": "en"}).text
    panel = page[page.index('id="alerts"') : page.index('id="kpis"')]
    assert panel.index('data-key="category:packaging"') < panel.index('data-key="channel:jd"')
    assert "product:kettle" not in panel  # acknowledged
    assert "Packaging" in panel and "complaints per day" in panel and "complaint share" in panel
    assert '<span class="baseline">5.0%</span>' in panel and '<span class="current">20.0%</span>' in panel
    assert f"since={started.isoformat()}" in panel and "category=packaging" in panel and "#drill" in panel
