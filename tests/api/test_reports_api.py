"""Downloads of every insight view (CSV, xlsx) and the scheduled reports API and page, over real HTTP."""

from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from closeloop.store.models import Analysis, AuditEntry, ReportSubscription, Team

WINDOW = {"since": "2026-09-14", "until": "2026-09-20"}
HOSTILE = "=cmd|' /C calc'!A0"


def post_item(client, **fields) -> int:
    response = client.post("/api/v1/feedback", json=fields)
    assert response.status_code == 201, response.text
    return response.json()["ids"][0]


def analyse(db: sessionmaker[Session], item_id: int, sentiment: str, categories=(), complaint=False) -> None:
    with db() as session:
        session.add(
            Analysis(
                feedback_id=item_id,
                model_version="test-1",
                sentiment=sentiment,
                complaint=complaint,
                categories=list(categories),
                aspects=[{"category": c, "polarity": sentiment} for c in categories],
            )
        )
        session.commit()


def seed(client, db) -> None:
    """Three reviews in the week of 14 Sept, one with a hostile text and product; a team to report to."""
    hostile = post_item(
        client,
        text=HOSTILE,
        channel="taobao",
        product="@SUM(1+1)",
        created_at="2026-09-14T10:00:00+08:00",
        customer={"external_id": "C-1", "tier": "gold", "region": "上海"},
    )
    slow = post_item(client, text="快递太慢了", channel="taobao", created_at="2026-09-16T10:00:00+08:00")
    good = post_item(client, text="很好用", channel="jd", created_at="2026-09-17T10:00:00+08:00")
    analyse(db, hostile, "negative", ["packaging"], complaint=True)
    analyse(db, slow, "negative", ["logistics"], complaint=True)
    analyse(db, good, "positive", ["product_quality"])
    with db() as session:
        session.add(Team(name="logistics", label_zh="物流部", email="logistics@example.com"))
        session.commit()


def download(client, view: str, export_format: str, **params):
    response = client.get(f"/api/v1/insight/{view}", params={**WINDOW, **params, "format": export_format})
    assert response.status_code == 200, response.text
    assert f'filename="closeloop-{view}-' in response.headers["content-disposition"]
    if export_format == "csv":
        assert response.headers["content-type"].startswith("text/csv")
        return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    workbook = load_workbook(io.BytesIO(response.content))
    return {
        name: [list(row) for row in workbook[name].iter_rows(values_only=True)]
        for name in workbook.sheetnames
    }


def test_every_insight_view_downloads_as_csv_and_xlsx_with_the_json_figures(client, db):
    seed(client, db)
    overview = client.get("/api/v1/insight/overview", params={**WINDOW, "granularity": "day"}).json()
    book = download(client, "overview", "xlsx", granularity="day", lang="en")
    assert list(book) == ["Trend", "Categories", "Totals"]
    assert book["Trend"][0][:3] == ["Period", "Volume", "Positive"]
    assert [row[0] for row in book["Trend"][1:]] == overview["periods"]
    assert [row[1] for row in book["Trend"][1:]] == overview["series"]["volume"]
    assert [row[7] for row in book["Trend"][1:]] == overview["series"]["complaint_rate"]
    assert [row[0] for row in book["Categories"][1:]] == [c["id"] for c in overview["categories"]]
    assert book["Totals"][1] == ["Volume", 3, overview["previous"]["volume"], overview["change"]["volume"]]
    table = download(client, "overview", "csv", granularity="day")
    assert table[0][:2] == ["期间", "反馈量"] and [row[1] for row in table[1:]] == [
        str(v) for v in overview["series"]["volume"]
    ]

    segments = client.get("/api/v1/insight/segments", params={**WINDOW, "by": "channel"}).json()
    for rows in (
        download(client, "segments", "csv", by="channel")[1:],
        download(client, "segments", "xlsx", by="channel")["细分"][1:],
    ):
        assert [(row[0], int(row[1])) for row in rows] == [(s["segment"], s["volume"]) for s in segments]

    aspects = client.get("/api/v1/insight/aspects", params={**WINDOW, "by": "product"}).json()
    book = download(client, "aspects", "xlsx", by="product")["方面情感"]
    assert book[0] == ["类别 ID", "类别", "产品", "正面", "负面", "中性", "方面得分"]
    cells = {(row[0], row[2]): row[4] for row in book[1:]}
    assert len(cells) == len(aspects["rows"]) * len(aspects["columns"])
    assert cells[("packaging", "'@SUM(1+1)")] == 1  # the product name is quoted, the count kept
    assert "'@SUM(1+1)" in {row[2] for row in download(client, "aspects", "csv", by="product")[1:]}

    verbatims = client.get("/api/v1/insight/verbatims", params=WINDOW).json()
    for rows in (download(client, "verbatims", "csv")[1:], download(client, "verbatims", "xlsx")["原声"][1:]):
        assert [int(row[0]) for row in rows] == [item["id"] for item in verbatims["items"]]
        assert rows[-1][6] == "'" + HOSTILE  # neutralised, never a formula
        assert rows[-1][8] == "negative" and rows[-1][10] == "packaging"


def test_downloading_verbatims_needs_the_export_permission_and_is_audited(client_as, db):
    analyst = client_as("analyst")
    seed(analyst, db)
    viewer = client_as("viewer")
    assert viewer.get("/api/v1/insight/verbatims", params={**WINDOW, "format": "csv"}).status_code == 403
    assert viewer.get("/api/v1/insight/overview", params={**WINDOW, "format": "csv"}).status_code == 200
    assert analyst.get("/api/v1/insight/verbatims", params={**WINDOW, "format": "xlsx"}).status_code == 200
    assert analyst.get("/api/v1/insight/overview", params={"format": "pdf"}).status_code == 422
    with db() as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "insight.exported")).all()
    assert entry.target == "verbatims" and entry.detail["rows"] == 3 and entry.detail["format"] == "xlsx"


def test_reports_crud_is_for_admins_and_analysts(client_as, db):
    analyst = client_as("analyst")
    seed(analyst, db)
    body = {"team": "logistics", "name": "物流周报", "filter_query": "range=30&channel=taobao&lang=zh"}
    created = analyst.post("/api/v1/reports", json=body)
    assert created.status_code == 201, created.text
    report = created.json()
    assert report | {"id": 0, "created_at": None} == {
        "id": 0,
        "team": "logistics",
        "name": "物流周报",
        "filter_query": "channel=taobao",
        "period": "weekly",
        "language": "zh",
        "recipients": [],
        "active": True,
        "last_period_sent": None,
        "last_sent_at": None,
        "created_by": report["created_by"],
        "created_at": None,
    }
    for role in ("viewer", "agent"):
        assert client_as(role).get("/api/v1/reports").status_code == 403
        assert client_as(role).post("/api/v1/reports", json=body).status_code == 403
    assert analyst.post("/api/v1/reports", json=body | {"team": "nobody"}).status_code == 422
    assert analyst.post("/api/v1/reports", json=body | {"period": "daily"}).status_code == 422
    changed = analyst.patch(
        f"/api/v1/reports/{report['id']}", json={"period": "monthly", "recipients": ["a@example.com"]}
    )
    assert changed.status_code == 200 and changed.json()["period"] == "monthly"
    assert [
        r["id"] for r in client_as("admin").get("/api/v1/reports", params={"team": "logistics"}).json()
    ] == [report["id"]]
    assert analyst.delete(f"/api/v1/reports/{report['id']}").status_code == 204
    assert analyst.get(f"/api/v1/reports/{report['id']}").status_code == 404
    with db() as session:
        assert session.scalars(select(ReportSubscription)).all() == []
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("report.%"))).all()
    assert sorted(actions) == ["report.changed", "report.created", "report.deleted"]


def test_preview_shows_the_figures_of_the_insight_api(client, db):
    seed(client, db)
    report_id = client.post(
        "/api/v1/reports",
        json={"team": "logistics", "name": "周报", "language": "en", "filter_query": "channel=taobao"},
    ).json()["id"]
    preview = client.get(f"/api/v1/reports/{report_id}/preview", params={"period": "2026-09-16"})
    assert preview.status_code == 200 and preview.headers["content-type"].startswith("text/html")
    html = preview.text
    overview = client.get(
        "/api/v1/insight/overview", params={**WINDOW, "channel": "taobao", "granularity": "day"}
    ).json()
    kpis = re.findall(r"<tr><td[^>]*>([^<]+)</td><td[^>]*>([^<]+)</td>", html)
    assert ("Volume", str(overview["totals"]["volume"])) in kpis
    assert ("Complaint rate", f"{overview['totals']['complaint_rate'] * 100:.1f}%") in kpis
    categories = re.search(r'<div id="chart-categories">(.*?)</div>', html).group(1)
    assert categories.count('<rect class="bar"') == len(overview["categories"]) == 2
    assert "2026-09-14 – 2026-09-20" in html and "<script" not in html


def test_send_now_mails_the_report(settings, serve, make_account, db, smtp_server):
    import httpx

    mailing = settings.model_copy(update={"smtp_host": smtp_server.host, "smtp_port": smtp_server.port})
    with serve(mailing) as base_url:
        token = make_account("analyst")
        with httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as client:
            seed(client, db)
            report_id = client.post("/api/v1/reports", json={"team": "logistics", "name": "周报"}).json()[
                "id"
            ]
            sent = client.post(f"/api/v1/reports/{report_id}/send")
            assert sent.status_code == 200, sent.text
            assert sent.json() == {"id": report_id, "status": "sent"}
            assert client.post("/api/v1/reports/999/send").status_code == 404
    [message] = smtp_server.messages
    assert message["To"] == "logistics@example.com" and message["Subject"].startswith(
        "团队报告 · logistics · 周报"
    )
    with db() as session:
        assert session.get(ReportSubscription, report_id).last_period_sent is not None


def test_send_now_without_smtp_says_so(client, db):
    seed(client, db)
    report_id = client.post("/api/v1/reports", json={"team": "logistics", "name": "周报"}).json()["id"]
    refused = client.post(f"/api/v1/reports/{report_id}/send")
    assert refused.status_code == 503 and "SMTP" in refused.json()["detail"]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_reports_page_creates_a_report_from_the_dashboard_filter(browser_as, csrf_of, db, lang):
    browser, csrf = browser_as("analyst"), csrf_of
    with db() as session:
        session.add(Team(name="logistics", label_zh="物流部", label_en="Logistics", email="l@example.com"))
        session.commit()
    page = browser.get(
        "/reports", params={"lang": lang, "filter": "range=30&channel=taobao&category=logistics"}
    )
    assert page.status_code == 200
    assert 'value="channel=taobao&amp;category=logistics"' in page.text
    assert ("定时报告" if lang == "zh" else "Scheduled reports") in page.text
    created = browser.post(
        f"/reports?lang={lang}",
        data={
            "csrf_token": csrf(page),
            "team": "logistics",
            "name": "Weekly logistics",
            "period": "weekly",
            "language": lang,
            "filter_query": "channel=taobao&category=logistics",
            "recipients": "a@example.com, b@example.com",
        },
    )
    assert created.status_code == 303
    with db() as session:
        [report] = session.scalars(select(ReportSubscription)).all()
    assert (report.filter_query, report.recipients) == (
        "channel=taobao&category=logistics",
        ["a@example.com", "b@example.com"],
    )
    listed = browser.get("/reports", params={"lang": lang})
    assert (
        f"/api/v1/reports/{report.id}/preview" in listed.text
        and "a@example.com, b@example.com" in listed.text
    )
    bad = browser.post(
        f"/reports?lang={lang}",
        data={"csrf_token": csrf(listed), "team": "nobody", "name": "x", "filter_query": ""},
    )
    assert bad.status_code == 422 and "nobody" in bad.text
    deleted = browser.post(f"/reports/{report.id}/delete", data={"csrf_token": csrf(listed)})
    assert deleted.status_code == 303
    with db() as session:
        assert session.scalars(select(ReportSubscription)).all() == []


def test_dashboard_offers_the_downloads(browser_as):
    browser = browser_as("analyst")
    page = browser.get("/dashboard", params={"lang": "en"})
    assert page.status_code == 200
    for view in ("overview", "segments", "aspects", "verbatims"):
        assert f'data-view="{view}" data-format="xlsx"' in page.text
    assert 'id="schedule-report"' in page.text
    viewer = browser_as("viewer")
    seen = viewer.get("/dashboard").text
    assert 'data-view="overview"' in seen and 'data-view="verbatims"' not in seen
    assert 'id="schedule-report"' not in seen
