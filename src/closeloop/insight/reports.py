"""Scheduled team reports: the dashboard's figures for a saved filter over the last full week or month, as
a self-contained HTML e-mail (inline CSS, inline SVG charts, no JavaScript: it renders in mail clients
and browsers alike) with the figures attached as an Excel workbook, in Chinese or English.

A ``ReportSubscription`` names the team, the filter (the dashboard URL's query string; its time range is
replaced by the report's period), the period (weekly: Monday–Sunday, monthly: calendar month, both in
Asia/Shanghai time), the language and the recipients (empty: the team's e-mail address).

Sending is once per period and subscription, also across restarts and several workers: the job first
*claims* the period with a conditional UPDATE of ``last_period_sent`` (only one claimer can win), commits,
then sends; a refused delivery gives the claim back so the next run retries. A crash between claim and
delivery loses that one report rather than sending it twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from html import escape
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from closeloop.accounts import audit
from closeloop.insight import aggregates, export
from closeloop.insight.aggregates import ZONE, Granularity, InsightFilter
from closeloop.notify.mailer import Attachment, Mail, MailError, SmtpMailer
from closeloop.store.models import ReportSubscription, Team, utcnow

Period = Literal["weekly", "monthly"]
PERIODS: tuple[Period, ...] = ("weekly", "monthly")
LANGUAGES = ("zh", "en")
# Dashboard filters a report keeps; the time range (range, since, until) is the report's own period.
REPORT_FILTER_KEYS = ("channel", "product", "category", "sentiment", "tier", "region", "language")
GRANULARITY: dict[str, Granularity] = {"weekly": "day", "monthly": "week"}
SEGMENTS_SHOWN = ("channel", "tier")
TOP_SHOWN = 8
COLOURS = {"positive": "#2f9e5b", "neutral": "#a0aec0", "negative": "#d64545", "unanalysed": "#e4e7eb"}
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

TEXTS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "团队报告",
        "weekly": "周报",
        "monthly": "月报",
        "period": "统计期间",
        "filters": "筛选条件",
        "no_filters": "全部反馈",
        "metric": "指标",
        "current": "本期",
        "previous": "上期",
        "change": "变化",
        "volume": "反馈量",
        "negative_share": "负面占比",
        "complaint_rate": "投诉率",
        "nps": "NPS",
        "csat": "CSAT",
        "volume_chart": "反馈量（按情感）",
        "complaint_chart": "投诉率趋势",
        "categories_chart": "主要问题类别（与上期相比）",
        "segments_chart": "细分",
        "category": "类别",
        "segment": "细分",
        "channel": "渠道",
        "tier": "会员等级",
        "positive": "正面",
        "neutral": "中性",
        "negative": "负面",
        "unanalysed": "未分析",
        "new": "新出现",
        "none": "本期没有反馈。",
        "open_dashboard": "在仪表盘中查看",
        "attachment": "附件为本报告的数据（Excel）。",
        "pp": "个百分点",
    },
    "en": {
        "title": "Team report",
        "weekly": "weekly",
        "monthly": "monthly",
        "period": "Period",
        "filters": "Filters",
        "no_filters": "all feedback",
        "metric": "Metric",
        "current": "This period",
        "previous": "Previous",
        "change": "Change",
        "volume": "Volume",
        "negative_share": "Negative share",
        "complaint_rate": "Complaint rate",
        "nps": "NPS",
        "csat": "CSAT",
        "volume_chart": "Volume by sentiment",
        "complaint_chart": "Complaint rate",
        "categories_chart": "Top categories (change against the previous period)",
        "segments_chart": "Segments",
        "category": "Category",
        "segment": "Segment",
        "channel": "Channel",
        "tier": "Tier",
        "positive": "Positive",
        "neutral": "Neutral",
        "negative": "Negative",
        "unanalysed": "Not analysed",
        "new": "new",
        "none": "No feedback in this period.",
        "open_dashboard": "Open in the dashboard",
        "attachment": "The figures of this report are attached (Excel).",
        "pp": "pp",
    },
}


# ---------------------------------------------------------------------------------------------- periods


def last_full_period(period: str, now: datetime) -> tuple[date, date]:
    """The local [first day, day after the last) of the last complete week (Monday–Sunday) or calendar
    month before ``now`` (Asia/Shanghai)."""
    today = now.astimezone(ZONE).date()
    if period == "weekly":
        end = today - timedelta(days=today.weekday())
        return end - timedelta(days=7), end
    if period == "monthly":
        end = today.replace(day=1)
        return (end - timedelta(days=1)).replace(day=1), end
    raise ValueError(f"period must be weekly or monthly, got {period!r}")


def period_containing(period: str, day: date) -> tuple[date, date]:
    """The local [first day, day after the last) of the week or month holding ``day``."""
    if period == "weekly":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    if period == "monthly":
        start = day.replace(day=1)
        return start, aggregates.next_period(start, "month")
    raise ValueError(f"period must be weekly or monthly, got {period!r}")


def local_window(start: date, end: date) -> tuple[datetime, datetime]:
    """The aware UTC [since, until) of local days [start, end)."""
    return (
        datetime.combine(start, time(), ZONE).astimezone(UTC),
        datetime.combine(end, time(), ZONE).astimezone(UTC),
    )


# ---------------------------------------------------------------------------------------------- filters


def report_filter(filter_query: str, since: datetime, until: datetime) -> InsightFilter:
    """The dashboard filters of a saved query string (``channel=app&category=logistics…``) over the
    window [since, until); unknown keys and the dashboard's own time range are ignored."""
    params = parse_qs(filter_query.lstrip("?"), keep_blank_values=False)

    def one(key: str) -> str | None:
        values = [v.strip() for v in params.get(key, []) if v.strip()]
        return values[0] if values else None

    sentiment = one("sentiment")
    return InsightFilter(
        since=since,
        until=until,
        channels=tuple(dict.fromkeys(v.strip() for v in params.get("channel", []) if v.strip())),
        product=one("product"),
        categories=tuple(dict.fromkeys(v.strip() for v in params.get("category", []) if v.strip())),
        sentiment=sentiment if sentiment in aggregates.SENTIMENTS else None,
        tier=one("tier"),
        region=one("region"),
        language=one("language"),
    )


def clean_filter_query(filter_query: str) -> str:
    """Only the filters a report keeps, in a stable order (a dashboard URL's query may carry more)."""
    params = parse_qs(filter_query.strip().lstrip("?"), keep_blank_values=False)
    return urlencode([(key, value) for key in REPORT_FILTER_KEYS for value in params.get(key, [])])


# ---------------------------------------------------------------------------------------------- content


@dataclass(slots=True)
class Report:
    """What one report shows: the overview of its period and the one before, and segment breakdowns."""

    subscription_id: int
    name: str
    team: str
    period: str
    language: str
    start: date
    end: date  # the day after the last
    filter_query: str
    overview: dict[str, Any]
    previous_categories: dict[str, int] = field(default_factory=dict)
    segments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def period_key(self) -> str:
        return self.start.isoformat()


def build_report(
    session: Session,
    subscription: ReportSubscription,
    *,
    start: date | None = None,
    now: datetime | None = None,
) -> Report:
    """The report of the period starting on ``start`` (default: the last full period before ``now``),
    computed by the same aggregates as the dashboard and the insight API."""
    if start is None:
        start, end = last_full_period(subscription.period, now or utcnow())
    else:
        start, end = period_containing(subscription.period, start)
    since, until = local_window(start, end)
    flt = report_filter(subscription.filter_query, since, until)
    granularity = GRANULARITY[subscription.period]
    overview = aggregates.overview(session, flt, granularity)
    before = replace(flt, since=since - (until - since), until=since)
    previous = aggregates.overview(session, before, granularity)
    return Report(
        subscription_id=subscription.id,
        name=subscription.name,
        team=subscription.team,
        period=subscription.period,
        language=subscription.language if subscription.language in LANGUAGES else "zh",
        start=start,
        end=end,
        filter_query=subscription.filter_query,
        overview=overview,
        previous_categories={row["id"]: row["volume"] for row in previous["categories"]},
        segments={by: aggregates.segments(session, flt, by) for by in SEGMENTS_SHOWN},  # type: ignore[arg-type]
    )


# ---------------------------------------------------------------------------------------------- numbers


def share_text(value: float | None) -> str:
    """A fraction 0–1 as a percentage with one decimal (``—`` when there is none)."""
    return "—" if value is None else f"{value * 100:.1f}%"


def score_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def change_text(key: str, value: float | None, lang: str) -> str:
    """A change against the previous period: counts as ``+12``, shares in percentage points."""
    if value is None:
        return "—"
    if key in ("negative_share", "complaint_rate"):
        return f"{value * 100:+.1f} {TEXTS[lang]['pp']}"
    if key == "volume":
        return f"{int(value):+d}"
    return f"{value:+.1f}"


def value_text(key: str, value: float | None) -> str:
    if key in ("negative_share", "complaint_rate"):
        return share_text(value)
    if key == "volume":
        return "—" if value is None else str(int(value))
    return score_text(value)


# ---------------------------------------------------------------------------------------------- charts


def _axis_label(period: str) -> str:
    return period[5:] if len(period) == 10 else period  # MM-DD


def svg_stacked_bars(
    periods: Sequence[str],
    stacks: Sequence[tuple[str, str, Sequence[int]]],
    *,
    width: int = 640,
    height: int = 220,
) -> str:
    """A column per period, stacked bottom-up by ``stacks`` of (name, colour, counts); one
    ``<rect class="bar">`` per non-empty piece, with a ``<title>`` giving the figure."""
    left, bottom, top = 36, 22, 10
    plot_w, plot_h = width - left - 8, height - bottom - top
    totals = [sum(values[n] for _, _, values in stacks) for n in range(len(periods))]
    peak = max(totals, default=0) or 1
    step = plot_w / max(len(periods), 1)
    bar_w = max(step * 0.7, 1.0)
    every = max(1, len(periods) // 10)
    parts = [_svg_open(width, height), _y_axis(left, top, plot_h, width, str(peak))]
    for n, period in enumerate(periods):
        x = left + n * step + (step - bar_w) / 2
        y = top + plot_h
        for name, colour, values in stacks:
            if values[n] <= 0:
                continue
            h = plot_h * values[n] / peak
            y -= h
            parts.append(
                f'<rect class="bar" data-series="{escape(name)}" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                f'height="{h:.1f}" fill="{colour}">'
                f"<title>{escape(period)} {escape(name)}: {values[n]}</title></rect>"
            )
        if n % every == 0:
            parts.append(_text(x + bar_w / 2, height - 6, _axis_label(period), anchor="middle"))
    parts.append("</svg>")
    return "".join(parts)


def svg_line(
    periods: Sequence[str],
    values: Sequence[float | None],
    *,
    colour: str,
    width: int = 640,
    height: int = 180,
) -> str:
    """A line of fractions 0–1 per period (gaps where there is no value), a dot per point, the highest
    value on the axis."""
    left, bottom, top = 44, 22, 10
    plot_w, plot_h = width - left - 8, height - bottom - top
    known = [v for v in values if v is not None]
    peak = max(known, default=0.0) or 1.0
    step = plot_w / max(len(periods), 1)
    every = max(1, len(periods) // 10)
    parts = [_svg_open(width, height), _y_axis(left, top, plot_h, width, share_text(peak))]
    segment: list[str] = []
    for n, period in enumerate(periods):
        x = left + n * step + step / 2
        value = values[n]
        if value is None:
            if len(segment) > 1:
                parts.append(_polyline(segment, colour))
            segment = []
        else:
            y = top + plot_h - plot_h * value / peak
            segment.append(f"{x:.1f},{y:.1f}")
            parts.append(
                f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                f"<title>{escape(period)}: {share_text(value)}</title></circle>"
            )
        if n % every == 0:
            parts.append(_text(x, height - 6, _axis_label(period), anchor="middle"))
    if len(segment) > 1:
        parts.append(_polyline(segment, colour))
    parts.append("</svg>")
    return "".join(parts)


def svg_hbars(rows: Sequence[tuple[str, int, str]], *, colour: str, width: int = 640) -> str:
    """A horizontal bar per row of (label, value, note): one ``<rect class="bar">`` each, longest first as
    given, the value and the note after the bar."""
    row_h, label_w, note_w = 24, 150, 150
    height = max(len(rows), 1) * row_h + 6
    peak = max((value for _, value, _ in rows), default=0) or 1
    plot_w = width - label_w - note_w
    parts = [_svg_open(width, height)]
    for n, (label, value, note) in enumerate(rows):
        y = 3 + n * row_h
        w = max(plot_w * value / peak, 1.0)
        parts.append(_text(label_w - 6, y + 16, label, anchor="end"))
        parts.append(
            f'<rect class="bar" data-label="{escape(label)}" x="{label_w}" y="{y + 3}" width="{w:.1f}" '
            f'height="{row_h - 8}" fill="{colour}"><title>{escape(label)}: {value}</title></rect>'
        )
        parts.append(_text(label_w + w + 6, y + 16, f"{value}  {note}".rstrip(), anchor="start"))
    parts.append("</svg>")
    return "".join(parts)


def _svg_open(width: int, height: int) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        'style="max-width:100%;height:auto;font-family:sans-serif">'
    )


def _y_axis(left: int, top: int, plot_h: int, width: int, peak_label: str) -> str:
    base = top + plot_h
    return (
        f'<line x1="{left}" y1="{base}" x2="{width - 8}" y2="{base}" stroke="#9aa5b1" stroke-width="1"/>'
        f'<line x1="{left}" y1="{top}" x2="{width - 8}" y2="{top}" stroke="#e4e7eb" stroke-width="1"/>'
        + _text(left - 4, top + 4, peak_label, anchor="end")
        + _text(left - 4, base, "0", anchor="end")
    )


def _text(x: float, y: float, content: str, *, anchor: str) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="11" fill="#52606d" text-anchor="{anchor}">'
        f"{escape(content)}</text>"
    )


def _polyline(points: list[str], colour: str) -> str:
    return f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" stroke-width="2"/>'


# ---------------------------------------------------------------------------------------------- HTML


CELL = "padding:4px 8px;border-bottom:1px solid #e4e7eb;text-align:left;font-size:13px"
HEAD = CELL + ";background:#eef1f5"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    cells = "".join(f'<th style="{HEAD}">{escape(h)}</th>' for h in head)
    body = "".join(
        "<tr>" + "".join(f'<td style="{CELL}">{escape(value)}</td>' for value in row) + "</tr>"
        for row in rows
    )
    return (
        f'<table style="border-collapse:collapse;width:100%;margin:6px 0 14px"><tr>{cells}</tr>{body}</table>'
    )


def _section(title: str, body: str, section_id: str) -> str:
    return f'<h2 id="{section_id}" style="font-size:16px;margin:18px 0 6px">{escape(title)}</h2>{body}'


def report_title(report: Report) -> str:
    t = TEXTS[report.language]
    last = report.end - timedelta(days=1)
    span = f"{report.start:%Y-%m-%d} – {last:%Y-%m-%d}"
    return f"{t['title']} · {report.team} · {report.name} · {t[report.period]} {span}"


def filter_description(report: Report) -> str:
    """The saved filters in words (``channel: app; category: 物流``)."""
    t = TEXTS[report.language]
    params = parse_qs(report.filter_query.lstrip("?"))
    parts = []
    for key in REPORT_FILTER_KEYS:
        values = params.get(key, [])
        if key == "category":
            values = [_category_label(v, report.language) for v in values]
        if values:
            parts.append(f"{export.header(key, report.language)}: {', '.join(values)}")
    return "; ".join(parts) or t["no_filters"]


def _category_label(category_id: str, lang: str) -> str:
    zh, en = aggregates.category_names(category_id)
    return en if lang == "en" else zh


def category_rows(report: Report) -> list[tuple[str, int, str]]:
    """The top categories as (name, volume, change against the previous period) for the bar chart."""
    t = TEXTS[report.language]
    rows = []
    for row in report.overview["categories"][:TOP_SHOWN]:
        before = report.previous_categories.get(row["id"])
        change = t["new"] if before is None else f"{row['volume'] - before:+d}"
        rows.append((_category_label(row["id"], report.language), row["volume"], change))
    return rows


def render_html(report: Report, *, dashboard_url: str | None = None) -> str:
    """The report as one self-contained HTML document: inline styles and SVG, no scripts, no images."""
    t = TEXTS[report.language]
    overview = report.overview
    periods, series = overview["periods"], overview["series"]
    title = report_title(report)
    kpi_rows = [
        [t[key], value_text(key, overview["totals"][key]), value_text(key, overview["previous"][key]),
         change_text(key, overview["change"][key], report.language)]
        for key in ("volume", "negative_share", "complaint_rate", "nps", "csat")
    ]  # fmt: skip
    body = [
        f'<h1 style="font-size:20px;margin:0 0 4px">{escape(title)}</h1>',
        f'<p style="color:#52606d;font-size:13px;margin:0 0 10px">{escape(t["filters"])}: '
        f"{escape(filter_description(report))}</p>",
        _table([t["metric"], t["current"], t["previous"], t["change"]], kpi_rows),
    ]
    if overview["totals"]["volume"] == 0:
        body.append(f'<p id="empty">{escape(t["none"])}</p>')
    unanalysed = [
        max(v - p - u - n, 0)
        for v, p, u, n in zip(
            series["volume"], series["positive"], series["neutral"], series["negative"], strict=True
        )
    ]
    stacks = [(t[key], COLOURS[key], series[key]) for key in ("positive", "neutral", "negative")]
    stacks.append((t["unanalysed"], COLOURS["unanalysed"], unanalysed))
    legend = " ".join(
        f'<span style="display:inline-block;width:10px;height:10px;background:{colour}"></span> '
        f"{escape(name)}"
        for name, colour, _ in stacks
    )
    body.append(
        _section(
            t["volume_chart"],
            f'<div id="chart-volume">{svg_stacked_bars(periods, stacks)}</div>'
            f'<p style="font-size:12px">{legend}</p>',
            "volume",
        )
    )
    body.append(
        _section(
            t["complaint_chart"],
            '<div id="chart-complaints">'
            + svg_line(periods, series["complaint_rate"], colour=COLOURS["negative"])
            + "</div>",
            "complaints",
        )
    )
    categories = category_rows(report)
    category_table = _table(
        [t["category"], t["volume"], t["change"], t["negative_share"], t["complaint_rate"]],
        [
            [name, str(volume), change, share_text(row["negative_share"]), share_text(row["complaint_rate"])]
            for (name, volume, change), row in zip(categories, overview["categories"], strict=False)
        ],
    )
    body.append(
        _section(
            t["categories_chart"],
            f'<div id="chart-categories">{svg_hbars(categories, colour="#3e7cb1")}</div>{category_table}',
            "categories",
        )
    )
    for by, rows in report.segments.items():
        segment_rows = [
            (
                str(row["segment"] or "—"),
                row["volume"],
                f"{t['negative']} {share_text(row['negative_share'])}",
            )
            for row in rows
        ]
        table = _table(
            [t[by], t["volume"], t["negative_share"], t["complaint_rate"], t["nps"]],
            [
                [str(row["segment"] or "—"), str(row["volume"]), share_text(row["negative_share"]),
                 share_text(row["complaint_rate"]), score_text(row["nps"])]
                for row in rows
            ],
        )  # fmt: skip
        body.append(
            _section(
                f"{t['segments_chart']} · {t[by]}",
                f'<div id="chart-segments-{by}">{svg_hbars(segment_rows, colour="#7b8794")}</div>{table}',
                f"segments-{by}",
            )
        )
    if dashboard_url:
        body.append(f'<p><a href="{escape(dashboard_url)}">{escape(t["open_dashboard"])}</a></p>')
    lang_attr = "zh-CN" if report.language == "zh" else "en"
    return (
        f'<!doctype html><html lang="{lang_attr}"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head>"
        '<body style="margin:0;padding:16px;background:#f7f8fa;color:#1f2933;'
        "font-family:-apple-system,'PingFang SC','Microsoft YaHei',sans-serif\">"
        '<div style="max-width:680px;margin:0 auto;background:#fff;padding:16px;border:1px solid #e4e7eb">'
        + "".join(body)
        + "</div></body></html>"
    )


def render_text(report: Report) -> str:
    """A plain-text summary for mail clients that show no HTML."""
    t = TEXTS[report.language]
    overview = report.overview
    lines = [report_title(report), f"{t['filters']}: {filter_description(report)}", ""]
    for key in ("volume", "negative_share", "complaint_rate", "nps", "csat"):
        lines.append(
            f"{t[key]}: {value_text(key, overview['totals'][key])} "
            f"({t['change']} {change_text(key, overview['change'][key], report.language)})"
        )
    lines += ["", f"{t['categories_chart']}:"]
    lines += [f"- {name}: {volume} ({change})" for name, volume, change in category_rows(report)]
    lines += ["", t["attachment"]]
    return "\n".join(lines) + "\n"


def report_sheets(report: Report) -> dict[str, export.Sheet]:
    """The report's figures as workbook sheets: the overview's and one per segment breakdown."""
    sheets = export.overview_sheets(report.overview, report.language)
    for by, rows in report.segments.items():
        (name, sheet), *_ = export.segments_sheets(rows, by, report.language).items()
        sheets[f"{name} {export.header(by, report.language)}"] = sheet
    return sheets


def dashboard_link(report: Report, public_url: str) -> str:
    last = report.end - timedelta(days=1)
    query = clean_filter_query(report.filter_query)
    window = urlencode({"lang": report.language, "range": "custom", "since": report.start, "until": last})
    return f"{public_url.rstrip('/')}/dashboard?{window}" + (f"&{query}" if query else "")


def compose_report(report: Report, *, to: str, public_url: str) -> Mail:
    """The report e-mail: HTML with a text alternative and the figures as an .xlsx attachment."""
    filename = f"closeloop-report-{report.subscription_id}-{report.period_key}.xlsx"
    return Mail(
        to=to,
        subject=report_title(report),
        text=render_text(report),
        html=render_html(report, dashboard_url=dashboard_link(report, public_url)),
        headers={"X-Closeloop-Report": f"{report.subscription_id}:{report.period_key}"},
        attachments=(Attachment(filename, export.rows_to_xlsx(report_sheets(report)), XLSX_TYPE),),
    )


# ---------------------------------------------------------------------------------------------- sending


def recipients_of(session: Session, subscription: ReportSubscription) -> list[str]:
    """The explicit recipients, or else the team's e-mail address (empty when there is neither)."""
    if subscription.recipients:
        return list(subscription.recipients)
    team = session.get(Team, subscription.team)
    return [team.email] if team is not None and team.email else []


def _claim(session: Session, subscription_id: int, key: str, now: datetime) -> bool:
    """Mark the period ``key`` as sent unless it (or a later one) already is; True for the one winner."""
    claimed = session.execute(
        update(ReportSubscription)
        .where(
            ReportSubscription.id == subscription_id,
            or_(ReportSubscription.last_period_sent.is_(None), ReportSubscription.last_period_sent < key),
        )
        .values(last_period_sent=key, last_sent_at=now)
    )
    session.commit()
    return claimed.rowcount == 1  # type: ignore[attr-defined]


def _give_back(session: Session, subscription_id: int, key: str, previous: str | None) -> None:
    session.execute(
        update(ReportSubscription)
        .where(ReportSubscription.id == subscription_id, ReportSubscription.last_period_sent == key)
        .values(last_period_sent=previous)
    )
    session.commit()


def send_reports(
    factory: sessionmaker[Session],
    mailer: SmtpMailer,
    *,
    public_url: str,
    now: datetime | None = None,
    team: str | None = None,
    ids: Sequence[int] | None = None,
    force: bool = False,
    actor: str = "system",
) -> dict[int, str]:
    """Send each active subscription's report of its last full period (of ``team`` / ``ids`` only when
    given) once per period; with ``force`` even when already sent (a manual "send now", which also counts
    as the period's report). Returns {subscription id: "sent" | "already sent" | "no recipients" | error}."""
    now = now or utcnow()
    query = select(ReportSubscription.id).order_by(ReportSubscription.id)
    if not force:
        query = query.where(ReportSubscription.active.is_(True))
    if team is not None:
        query = query.where(ReportSubscription.team == team)
    if ids is not None:
        query = query.where(ReportSubscription.id.in_(list(ids)))
    with factory() as session:
        chosen = list(session.scalars(query))
    return {
        subscription_id: _send_one(
            factory, mailer, subscription_id, public_url=public_url, now=now, force=force, actor=actor
        )
        for subscription_id in chosen
    }


def _send_one(
    factory: sessionmaker[Session],
    mailer: SmtpMailer,
    subscription_id: int,
    *,
    public_url: str,
    now: datetime,
    force: bool,
    actor: str,
) -> str:
    with factory() as session:
        subscription = session.get(ReportSubscription, subscription_id)
        if subscription is None:
            return "not found"
        to = recipients_of(session, subscription)
        if not to:
            return "no recipients"
        start, _ = last_full_period(subscription.period, now)
        key, previous = start.isoformat(), subscription.last_period_sent
        if not force and not _claim(session, subscription_id, key, now):
            return "already sent"
        try:
            report = build_report(session, subscription, start=start)
            session.rollback()  # end the read transaction before the (slow) delivery
            mailer.send(compose_report(report, to=", ".join(to), public_url=public_url))
        except BaseException as exc:  # nothing was delivered: the next run tries this period again
            session.rollback()
            if not force:
                _give_back(session, subscription_id, key, previous)
            if isinstance(exc, MailError):
                return str(exc)
            raise
        if force:
            subscription = session.get(ReportSubscription, subscription_id)
            if subscription is not None:
                subscription.last_sent_at = now
                if (subscription.last_period_sent or "") < key:
                    subscription.last_period_sent = key
        audit.record(
            session,
            "report.sent",
            actor=actor,
            target=f"report:{subscription_id}:{key}",
            detail={"to": to, "forced": force},
        )
        session.commit()
        return "sent"


# ---------------------------------------------------------------------------------------------- subscriptions


class SubscriptionError(ValueError):
    """A subscription that cannot be saved (unknown team, bad period, language or recipient)."""


def check_subscription(session: Session, values: dict[str, Any]) -> dict[str, Any]:
    """``values`` cleaned for a ``ReportSubscription``; raises SubscriptionError saying what is wrong."""
    cleaned = dict(values)
    if "team" in cleaned and session.get(Team, cleaned["team"]) is None:
        raise SubscriptionError(f"unknown team {cleaned['team']!r} / 没有这个团队")
    if "period" in cleaned and cleaned["period"] not in PERIODS:
        raise SubscriptionError(f"period must be weekly or monthly, got {cleaned['period']!r}")
    if "language" in cleaned and cleaned["language"] not in LANGUAGES:
        raise SubscriptionError(f"language must be zh or en, got {cleaned['language']!r}")
    if "filter_query" in cleaned:
        cleaned["filter_query"] = clean_filter_query(cleaned["filter_query"] or "")
    if "recipients" in cleaned:
        addresses = [address.strip() for address in cleaned["recipients"] or [] if address.strip()]
        bad = [address for address in addresses if "@" not in address or any(c in address for c in " ,;<>")]
        if bad:
            raise SubscriptionError(f"not an e-mail address: {', '.join(bad)} / 邮箱地址无效")
        cleaned["recipients"] = list(dict.fromkeys(addresses))
    return cleaned


def create_subscription(
    session: Session, *, created_by: str | None, ip: str | None = None, **values: Any
) -> ReportSubscription:
    """A new report subscription, audited as ``report.created`` (flushed, not committed)."""
    subscription = ReportSubscription(created_by=created_by, **check_subscription(session, values))
    session.add(subscription)
    session.flush()
    audit.record(
        session,
        "report.created",
        actor=created_by,
        target=f"report:{subscription.id}",
        ip=ip,
        detail={"team": subscription.team, "period": subscription.period},
    )
    return subscription


def update_subscription(session: Session, subscription: ReportSubscription, **values: Any) -> None:
    """Change the given fields (a new period or filter does not resend the current period)."""
    for name, value in check_subscription(session, values).items():
        setattr(subscription, name, value)
    session.flush()
