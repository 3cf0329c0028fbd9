"""Scheduled team reports: periods, filters, charts, the dashboard's figures, sent once per period."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from typer.testing import CliRunner

from closeloop.cli import app
from closeloop.collect.ingest import write_batch
from closeloop.collect.records import FeedbackRecord
from closeloop.insight import aggregates, export, reports
from closeloop.insight.aggregates import InsightFilter
from closeloop.notify.mailer import SmtpMailer
from closeloop.settings import get_settings
from closeloop.store.models import Analysis, AuditEntry, ReportSubscription, Team
from closeloop.store.session import engine_for, session_factory

NOW = datetime(2026, 9, 22, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Shanghai; last full week: 14–20 Sept
HOSTILE = "=cmd|' /C calc'!A0"


# ---------------------------------------------------------------------------------------------- pure parts


@pytest.mark.parametrize(
    ("period", "now", "expected"),
    [
        ("weekly", NOW, (date(2026, 9, 14), date(2026, 9, 21))),
        # Sunday 23:30 UTC is Monday 07:30 in Shanghai: the week just ended is complete.
        ("weekly", datetime(2026, 9, 20, 23, 30, tzinfo=UTC), (date(2026, 9, 14), date(2026, 9, 21))),
        ("weekly", datetime(2026, 9, 20, 15, 0, tzinfo=UTC), (date(2026, 9, 7), date(2026, 9, 14))),
        ("monthly", NOW, (date(2026, 8, 1), date(2026, 9, 1))),
        ("monthly", datetime(2026, 1, 5, tzinfo=UTC), (date(2025, 12, 1), date(2026, 1, 1))),
    ],
)
def test_last_full_period_is_in_shanghai_time(period, now, expected):
    assert reports.last_full_period(period, now) == expected


@pytest.mark.parametrize(
    ("period", "day", "expected"),
    [
        ("weekly", date(2026, 9, 17), (date(2026, 9, 14), date(2026, 9, 21))),
        ("monthly", date(2026, 2, 17), (date(2026, 2, 1), date(2026, 3, 1))),
    ],
)
def test_period_containing_a_day(period, day, expected):
    assert reports.period_containing(period, day) == expected


def test_report_filter_keeps_the_dashboard_filters_but_not_its_time_range():
    since, until = reports.local_window(date(2026, 9, 14), date(2026, 9, 21))
    flt = reports.report_filter(
        "lang=en&range=30&since=2020-01-01&channel=taobao&channel=jd&category=logistics&tier=gold&sentiment=bad",
        since,
        until,
    )
    assert flt.window() == (since, until)
    assert flt.channels == ("taobao", "jd") and flt.categories == ("logistics",) and flt.tier == "gold"
    assert flt.sentiment is None  # not a sentiment: ignored rather than failing the report
    assert reports.clean_filter_query("?range=30&lang=en&tier=gold&channel=jd") == "channel=jd&tier=gold"


def test_charts_draw_one_bar_per_row_and_escape_labels():
    svg = reports.svg_hbars([("物流 <b>", 5, "+2"), ("包装", 3, "new"), ("质量", 0, "")], colour="#333")
    assert svg.count('<rect class="bar"') == 3
    assert "<b>" not in svg and "物流 &lt;b&gt;" in svg
    stacked = reports.svg_stacked_bars(
        ["2026-09-14", "2026-09-15"], [("正面", "#0f0", [1, 0]), ("负面", "#f00", [2, 3])]
    )
    assert stacked.count('<rect class="bar"') == 3  # empty pieces are not drawn
    line = reports.svg_line(["a", "b", "c"], [0.5, None, 0.25], colour="#f00")
    assert line.count("<circle") == 2 and "<script" not in line


def test_writers_quote_formulas_in_csv_and_xlsx():
    sheets = {"原声": (["原文", "评分"], [[HOSTILE, 5], ["+1 好评", -1.5]])}
    text = export.export_bytes(sheets, "csv").decode("utf-8")
    assert text.startswith("\ufeff原文,评分")
    assert "'=cmd|" in text and "\n=cmd" not in text and "'+1 好评" in text and "-1.5" in text
    workbook = load_workbook(io.BytesIO(export.export_bytes(sheets, "xlsx")))
    rows = list(workbook["原声"].iter_rows(values_only=True))
    assert rows == [("原文", "评分"), ("'" + HOSTILE, 5), ("'+1 好评", -1.5)]
    assert all(cell.data_type != "f" for row in workbook["原声"].iter_rows() for cell in row)


def test_sheet_titles_are_valid_and_unique():
    taken: set[str] = set()
    assert reports.export.sheet_title("a/b:c" * 10, taken) == ("a_b_c" * 10)[:31]
    assert reports.export.sheet_title("a/b:c" * 10, taken).endswith(" (2)")


# ---------------------------------------------------------------------------------------------- with a store


def seed(session) -> None:
    """Last week (14–20 Sept): four reviews, two complaints; the week before: two reviews."""
    session.add(Team(name="logistics", label_zh="物流部", email="logistics@example.com"))
    rows = [
        ("箱子压坏了", "taobao", "2026-09-14T09:00:00+08:00", "negative", ["packaging", "logistics"], True),
        ("快递太慢", "taobao", "2026-09-16T12:00:00+08:00", "negative", ["logistics"], True),
        ("很好用", "jd", "2026-09-17T12:00:00+08:00", "positive", ["product_quality"], False),
        ("还行", "jd", "2026-09-20T23:30:00+08:00", "neutral", [], False),
        ("上周的快递也慢", "taobao", "2026-09-09T12:00:00+08:00", "negative", ["logistics"], True),
        ("上周很好", "jd", "2026-09-10T12:00:00+08:00", "positive", [], False),
        ("本周的不算", "jd", "2026-09-21T00:30:00+08:00", "negative", ["logistics"], True),
    ]
    records = [
        FeedbackRecord(text=text, channel=channel, created_at=datetime.fromisoformat(at))
        for text, channel, at, *_ in rows
    ]
    ids = write_batch(session, records).item_ids
    for item_id, (*_, sentiment, categories, complaint) in zip(ids, rows, strict=True):
        session.add(
            Analysis(
                feedback_id=item_id,
                model_version="t",
                sentiment=sentiment,
                categories=categories,
                complaint=complaint,
            )
        )
    session.commit()


def subscribe(session, **values) -> int:
    subscription = reports.create_subscription(
        session, created_by="analyst@example.com", **{"team": "logistics", "name": "物流周报", **values}
    )
    session.commit()
    return subscription.id


def test_report_figures_equal_the_dashboard_aggregates(db):
    with db() as session:
        seed(session)
        report_id = subscribe(session, filter_query="range=30&channel=taobao&channel=jd")
        report = reports.build_report(session, session.get(ReportSubscription, report_id), now=NOW)
        since, until = reports.local_window(date(2026, 9, 14), date(2026, 9, 21))
        same = aggregates.overview(
            session, InsightFilter(since=since, until=until, channels=("taobao", "jd")), "day"
        )
    assert (report.start, report.end) == (date(2026, 9, 14), date(2026, 9, 21))
    assert report.overview == same
    assert report.overview["totals"]["volume"] == 4 and report.overview["totals"]["complaint_rate"] == 0.5
    assert report.overview["previous"]["volume"] == 2
    assert report.previous_categories == {"logistics": 1}
    html = reports.render_html(report)
    assert "<script" not in html.lower() and "<svg" in html
    assert ">50.0%<" in html and ">4<" in html  # complaint rate and volume as the API gives them
    categories = re.search(r'<div id="chart-categories">(.*?)</div>', html).group(1)
    assert categories.count('<rect class="bar"') == len(report.overview["categories"]) == 3
    volume_chart = re.search(r'<div id="chart-volume">(.*?)</div>', html).group(1)
    assert volume_chart.count("<title>") == 4  # one bar piece per analysed item on four different days
    assert "+1" in categories and "新出现" in categories  # logistics 2 against 1; packaging is new


def test_report_in_english_and_chinese(db):
    with db() as session:
        seed(session)
        english = reports.build_report(
            session, session.get(ReportSubscription, subscribe(session, language="en")), now=NOW
        )
        chinese = reports.build_report(
            session, session.get(ReportSubscription, subscribe(session, period="monthly")), now=NOW
        )
    assert reports.render_html(english).startswith('<!doctype html><html lang="en">')
    assert "Team report · logistics" in reports.render_html(english)
    assert "Complaint rate" in reports.render_html(english) and "投诉率" not in reports.render_html(english)
    assert "团队报告" in reports.render_html(chinese) and "月报" in reports.render_html(chinese)
    assert (chinese.start, chinese.end) == (date(2026, 8, 1), date(2026, 9, 1))
    assert chinese.overview["totals"]["volume"] == 0 and 'id="empty"' in reports.render_html(chinese)


def test_subscriptions_are_checked(db):
    with db() as session:
        seed(session)
        with pytest.raises(reports.SubscriptionError, match="unknown team"):
            subscribe(session, team="nobody")
        with pytest.raises(reports.SubscriptionError, match="e-mail"):
            subscribe(session, recipients=["not an address"])
        session.rollback()
        report_id = subscribe(session, recipients=[" a@example.com", "a@example.com", "b@example.com "])
        assert session.get(ReportSubscription, report_id).recipients == ["a@example.com", "b@example.com"]


def test_report_is_sent_once_per_period_even_when_run_twice_or_after_a_restart(db, settings, smtp_server):
    with db() as session:
        seed(session)
        report_id = subscribe(session, filter_query="channel=taobao")
    mailer = SmtpMailer(host=smtp_server.host, port=smtp_server.port)
    url = "https://feedback.example.com"
    assert reports.send_reports(db, mailer, public_url=url, now=NOW) == {report_id: "sent"}
    assert reports.send_reports(db, mailer, public_url=url, now=NOW + timedelta(hours=1)) == {
        report_id: "already sent"
    }
    restarted = session_factory(engine_for(settings.database_url))  # a new process: nothing in memory
    assert reports.send_reports(restarted, mailer, public_url=url, now=NOW + timedelta(days=1)) == {
        report_id: "already sent"
    }
    [message] = smtp_server.messages
    assert message["To"] == "logistics@example.com"
    assert message["Subject"] == "团队报告 · logistics · 物流周报 · 周报 2026-09-14 – 2026-09-20"
    assert message["X-Closeloop-Report"] == f"{report_id}:2026-09-14"
    html = message.get_body(("html",)).get_content()
    assert "渠道: taobao" in html and "feedback.example.com/dashboard?" in html
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == f"closeloop-report-{report_id}-2026-09-14.xlsx"
    workbook = load_workbook(io.BytesIO(attachment.get_content()))
    totals = {row[0]: row[1:] for row in workbook["汇总"].iter_rows(min_row=2, values_only=True)}
    assert totals["反馈量"] == (2, 1, 1) and totals["投诉率"] == (1.0, 1.0, 0.0)

    # The next week is a new period: sent again, once.
    next_week = NOW + timedelta(days=7)
    assert reports.send_reports(db, mailer, public_url=url, now=next_week) == {report_id: "sent"}
    assert reports.send_reports(db, mailer, public_url=url, now=next_week) == {report_id: "already sent"}
    assert len(smtp_server.messages) == 2
    with db() as session:
        sent = session.scalars(select(AuditEntry.target).where(AuditEntry.action == "report.sent")).all()
    assert sorted(sent) == [f"report:{report_id}:2026-09-14", f"report:{report_id}:2026-09-21"]


def test_a_refused_delivery_is_retried_on_the_next_run(db, smtp_server):
    with db() as session:
        seed(session)
        report_id = subscribe(session, recipients=["boss@example.com", "ops@example.com"])
        quiet = reports.create_subscription(session, created_by=None, team="logistics", name="off")
        quiet.active = False
        session.commit()
    mailer = SmtpMailer(host=smtp_server.host, port=smtp_server.port, timeout=5)
    smtp_server.stop()
    [(failed_id, outcome)] = reports.send_reports(db, mailer, public_url="http://x", now=NOW).items()
    assert failed_id == report_id and "SMTP" in outcome
    with db() as session:
        assert session.get(ReportSubscription, report_id).last_period_sent is None
    smtp_server.start()
    assert reports.send_reports(db, mailer, public_url="http://x", now=NOW) == {report_id: "sent"}
    [message] = smtp_server.messages
    assert message["To"] == "boss@example.com, ops@example.com"


def test_a_team_without_an_address_gets_nothing(db, smtp_server):
    with db() as session:
        seed(session)
        session.add(Team(name="quiet"))
        session.commit()
        report_id = subscribe(session, team="quiet")
    mailer = SmtpMailer(host=smtp_server.host, port=smtp_server.port)
    assert reports.send_reports(db, mailer, public_url="http://x", now=NOW) == {report_id: "no recipients"}
    assert smtp_server.messages == []


def test_cli_lists_and_sends_reports(db, smtp_server, monkeypatch):
    with db() as session:
        seed(session)
        report_id = subscribe(session)
    runner = CliRunner()
    listed = runner.invoke(app, ["report", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output)[0] | {"id": 0} == {
        "id": 0,
        "team": "logistics",
        "name": "物流周报",
        "period": "weekly",
        "language": "zh",
        "filter_query": "",
        "recipients": [],
        "active": True,
        "last_period_sent": None,
    }
    without_smtp = runner.invoke(app, ["report", "send"])
    assert without_smtp.exit_code == 2 and "SMTP" in without_smtp.output
    monkeypatch.setenv("CLOSELOOP_SMTP_HOST", smtp_server.host)
    monkeypatch.setenv("CLOSELOOP_SMTP_PORT", str(smtp_server.port))
    get_settings.cache_clear()
    first = runner.invoke(app, ["report", "send", "--team", "logistics", "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.output) == {str(report_id): "sent"}
    again = runner.invoke(app, ["report", "send"])
    assert again.exit_code == 0 and f"#{report_id}: already sent" in again.output
    assert len(smtp_server.messages) == 1
    get_settings.cache_clear()


def test_a_failure_while_building_gives_the_period_back(db, smtp_server, monkeypatch):
    with db() as session:
        seed(session)
        report_id = subscribe(session)

    def broken(*_args, **_kwargs):
        raise RuntimeError("database went away")

    working = reports.build_report
    monkeypatch.setattr(reports, "build_report", broken)
    mailer = SmtpMailer(host=smtp_server.host, port=smtp_server.port)
    with pytest.raises(RuntimeError, match="went away"):
        reports.send_reports(db, mailer, public_url="http://x", now=NOW)
    with db() as session:
        assert session.get(ReportSubscription, report_id).last_period_sent is None
    monkeypatch.setattr(reports, "build_report", working)
    assert reports.send_reports(db, mailer, public_url="http://x", now=NOW) == {report_id: "sent"}
    assert len(smtp_server.messages) == 1
