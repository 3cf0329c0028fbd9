"""Trend alerts from the store: daily series per category, product and channel, the statistical detector
(``closeloop.insight.trends``), one stored :class:`~closeloop.store.models.Alert` per episode, and the
notification of the insight team.

What is counted (two passes of :func:`~closeloop.insight.trends.detect`, each at ``alpha``):

* ``category:<id>`` and ``product:<name>`` — complaints. An item counts when its newest analysis (the one
  with the highest id, without an error) has ``complaint`` true; the total is the key's analysed items.
  The *rate* signal is the complaint rate, the *volume* signal the number of complaints (more praise is
  not an alert). Complaint, not negative sentiment: a complaint asks for action, a negative review of a
  product may just be a poor fit.
* ``channel:<name>`` — the volume of all feedback arriving through the channel (analysed or not).

Days are local days of ``timezone`` (default Asia/Shanghai) at its UTC offset on ``today``; a daylight
saving change inside the window moves at most an hour of items across midnight. Each family is one
GROUP BY query over the last ``HISTORY_DAYS`` days. ``today`` itself is incomplete and not examined.

Episodes: :func:`~closeloop.insight.trends.new_alerts` drops an alert whose key and signal were already
alerted with a start within a week, so the hourly job alerts once per episode, however often it runs.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, and_, case, cast, exists, func, literal, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from closeloop.insight import trends
from closeloop.settings import Settings
from closeloop.store.models import Alert, Analysis, FeedbackItem, Team, utcnow

log = logging.getLogger("closeloop.alerts")

DEFAULT_TIMEZONE = "Asia/Shanghai"
HISTORY_DAYS = 70  # 28 baseline days before a start up to 28 days back, and two weeks to spare
NOTIFY_WITHIN = timedelta(days=7)  # an alert not delivered yet is retried this long
ALERT_STATES = ("open", "acknowledged", "closed")
ALERT_EVENT = "alert.opened"
COMPLAINTS_ZH, COMPLAINTS_EN = "投诉", "complaint"
FEEDBACK_ZH, FEEDBACK_EN = "反馈", "feedback"

DailyCounts = dict[date, tuple[int, int]]  # day -> (items with the property, all items)


@dataclass(frozen=True, slots=True)
class Window:
    """The days read for one run: ``start`` … ``today − 1`` (local), and those bounds in UTC."""

    start: date
    today: date
    since: datetime  # start of ``start``, UTC
    until: datetime  # start of ``today``, UTC
    offset_minutes: int

    @property
    def last(self) -> date:
        return self.today - timedelta(days=1)


def history_window(today: date, *, timezone: str = DEFAULT_TIMEZONE, days: int = HISTORY_DAYS) -> Window:
    """The ``days`` complete local days before ``today`` in ``timezone`` (offset taken at noon of today)."""
    zone = ZoneInfo(timezone)
    offset = datetime.combine(today, time(12), tzinfo=zone).utcoffset() or timedelta(0)
    start = today - timedelta(days=days)

    def utc_start(day: date) -> datetime:
        return (datetime.combine(day, time(0)) - offset).replace(tzinfo=UTC)

    return Window(start, today, utc_start(start), utc_start(today), int(offset.total_seconds() // 60))


def local_today(now: datetime, timezone: str = DEFAULT_TIMEZONE) -> date:
    """The date of ``now`` in ``timezone``: the ``today`` of a run."""
    return now.astimezone(ZoneInfo(timezone)).date()


# ---------------------------------------------------------------- reading the store


def _local_day(dialect: str, offset_minutes: int) -> ColumnElement[Any]:
    """``FeedbackItem.created_at`` as a local date (SQLite: ISO text; PostgreSQL: a date)."""
    if dialect == "postgresql":
        shifted = func.timezone("UTC", FeedbackItem.created_at) + timedelta(minutes=offset_minutes)
        return cast(shifted, Date)
    return func.date(FeedbackItem.created_at, f"{offset_minutes:+d} minutes")


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _is_newest_analysis() -> ColumnElement[bool]:
    """No analysis of the same item has a higher id (the anti-join ``act.plans`` uses, for the same reason:
    PostgreSQL and SQLite both plan it well)."""
    newer = aliased(Analysis)
    return ~exists(
        select(literal(1)).where(newer.feedback_id == Analysis.feedback_id, newer.id > Analysis.id)
    )


def _collect(rows: Iterable[Any], prefix: str) -> dict[str, DailyCounts]:
    """``{prefix + name: {day: (count, total)}}`` from rows of (day, name, count, total)."""
    found: dict[str, DailyCounts] = defaultdict(dict)
    for day, name, count, total in rows:
        if name is None or name == "":
            continue
        found[f"{prefix}{name}"][_as_date(day)] = (int(count or 0), int(total or 0))
    return dict(found)


def complaint_counts(session: Session, window: Window, family: str) -> dict[str, DailyCounts]:
    """Complaints and analysed items per day for every ``category`` or ``product`` in the window: one
    GROUP BY over items joined with their newest analysis (categories unnested in SQL)."""
    dialect = session.get_bind().dialect.name
    day = _local_day(dialect, window.offset_minutes).label("day")
    complaints = func.sum(case((Analysis.complaint.is_(True), 1), else_=0))
    stmt = (
        select()
        .select_from(FeedbackItem)
        .join(Analysis, and_(Analysis.feedback_id == FeedbackItem.id, _is_newest_analysis()))
        .where(
            FeedbackItem.created_at >= window.since,
            FeedbackItem.created_at < window.until,
            Analysis.error.is_(None),
        )
    )
    if family == "category":
        unnest = func.json_array_elements_text if dialect == "postgresql" else func.json_each
        listed = unnest(Analysis.categories).table_valued("value")
        name: Any = listed.c.value
        stmt = stmt.join(listed, true())
    elif family == "product":
        name = FeedbackItem.product
        stmt = stmt.where(FeedbackItem.product.is_not(None))
    else:
        raise ValueError(f"unknown key family {family!r}; expected category or product")
    stmt = stmt.add_columns(day, name.label("name"), complaints, func.count()).group_by(day, name)
    return _collect(session.execute(stmt), f"{family}:")


def channel_volumes(session: Session, window: Window) -> dict[str, DailyCounts]:
    """Items per day for every channel in the window (analysed or not): one GROUP BY."""
    day = _local_day(session.get_bind().dialect.name, window.offset_minutes).label("day")
    stmt = (
        select(day, FeedbackItem.channel, func.count(), func.count())
        .where(FeedbackItem.created_at >= window.since, FeedbackItem.created_at < window.until)
        .group_by(day, FeedbackItem.channel)
    )
    return _collect(session.execute(stmt), "channel:")


def build_series(
    counts: Mapping[str, DailyCounts], window: Window, *, with_totals: bool, min_count: int, recent_days: int
) -> dict[str, trends.Series]:
    """A daily series per key; keys with fewer than ``min_count`` counted items in the last ``recent_days``
    are left out (no window of theirs could alert, so the decision across keys is the same)."""
    recent_from = window.today - timedelta(days=recent_days)
    series = {}
    for key, by_day in sorted(counts.items()):
        if sum(count for day, (count, _) in by_day.items() if day >= recent_from) < min_count:
            continue
        series[key] = trends.daily_series(
            by_day, start=window.start, end=window.last, with_totals=with_totals
        )
    return series


# ---------------------------------------------------------------- detecting and storing


def detect_alerts(
    session: Session,
    *,
    today: date,
    timezone: str = DEFAULT_TIMEZONE,
    alpha: float = 0.01,
    min_count: int = 10,
    skip_days: Collection[date] = (),
) -> list[trends.Alert]:
    """Every rising complaint rate or volume (categories, products) and feedback volume (channels) as of
    ``today``, most significant first. Reads only."""
    window = history_window(today, timezone=timezone)
    episode = 28  # trends' default episode_days: windows start at most this long ago
    options: dict[str, Any] = {"today": today, "alpha": alpha, "min_count": min_count, "skip_days": skip_days}
    complaints = {
        **complaint_counts(session, window, "category"),
        **complaint_counts(session, window, "product"),
    }
    complaint_series = build_series(
        complaints, window, with_totals=True, min_count=min_count, recent_days=episode
    )
    volume_series = build_series(
        channel_volumes(session, window), window, with_totals=False, min_count=min_count, recent_days=episode
    )
    found = trends.detect(complaint_series, what_zh=COMPLAINTS_ZH, what_en=COMPLAINTS_EN, **options)
    found += trends.detect(volume_series, what_zh=FEEDBACK_ZH, what_en=FEEDBACK_EN, **options)
    return sorted(found, key=lambda alert: (alert.p_value, -alert.statistic, alert.key, alert.signal))


def _finite(value: Any) -> Any:
    """JSON-safe evidence: non-finite floats become None (PostgreSQL's json refuses NaN and Infinity)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


def record_of(alert: trends.Alert, *, detected_at: datetime) -> Alert:
    """The store row of a detected alert (status open)."""
    return Alert(
        dedupe_key=alert.dedupe_key,
        key=alert.key,
        signal=alert.signal,
        started_on=alert.started_on,
        detected_at=detected_at,
        severity=alert.severity,
        baseline=alert.baseline,
        recent=alert.recent,
        ratio=alert.ratio,
        p_value=alert.p_value,
        evidence=_finite({**alert.evidence, "statistic": alert.statistic}),
        message_zh=alert.message_zh,
        message_en=alert.message_en,
        status="open",
    )


def store_new_alerts(
    session: Session, alerts: Sequence[trends.Alert], *, now: datetime | None = None
) -> list[Alert]:
    """Store the alerts that do not continue an episode already stored; returns the new rows (flushed,
    not committed)."""
    if not alerts:
        return []
    keys = sorted({alert.key for alert in alerts})
    previous = session.scalars(select(Alert.dedupe_key).where(Alert.key.in_(keys))).all()
    fresh = trends.new_alerts(previous, alerts)
    now = now or utcnow()
    rows = [record_of(alert, detected_at=now) for alert in fresh]
    session.add_all(rows)
    session.flush()
    return rows


def run_detection(
    session: Session,
    *,
    today: date,
    timezone: str = DEFAULT_TIMEZONE,
    alpha: float = 0.01,
    min_count: int = 10,
    skip_days: Collection[date] = (),
    now: datetime | None = None,
) -> list[Alert]:
    """Detect as of ``today`` and store what is new (flushed, the caller commits); returns the new rows.
    Idempotent: a second run the same day (or the next days of the same episode) adds nothing."""
    found = detect_alerts(
        session, today=today, timezone=timezone, alpha=alpha, min_count=min_count, skip_days=skip_days
    )
    return store_new_alerts(session, found, now=now)


# ---------------------------------------------------------------- notifying


def alert_payload(alert: Alert) -> dict[str, Any]:
    """An alert as JSON for webhooks (the evidence's chart series left out: the API has them)."""
    return {
        "id": alert.id,
        "key": alert.key,
        "signal": alert.signal,
        "started_on": alert.started_on.isoformat(),
        "severity": alert.severity,
        "baseline": alert.baseline,
        "recent": alert.recent,
        "ratio": alert.ratio,
        "p_value": alert.p_value,
        "message_zh": alert.message_zh,
        "message_en": alert.message_en,
        "status": alert.status,
    }


def notify_alerts(session: Session, alerts: Sequence[Alert], *, settings: Settings) -> bool:
    """Send ``alerts`` in one message to the insight team (``CLOSELOOP_ALERT_TEAM``): its webhook (signed)
    and its e-mail when SMTP is configured. Sets ``notified_at`` when either got through (the caller
    commits). Failures are logged, never raised; returns whether anything got through."""
    from closeloop.notify.mailer import Mail, MailError, mailer_from_settings
    from closeloop.notify.webhooks import Notification, WebhookTarget, send

    if not alerts:
        return False
    team = session.get(Team, settings.alert_team)
    if team is None:
        log.info("no team %r to tell about %d trend alert(s)", settings.alert_team, len(alerts))
        return False
    url = f"{settings.public_url.rstrip('/')}/api/v1/alerts?status=open"
    title = f"趋势预警 Trend alert: {alerts[0].key}" + (f" (+{len(alerts) - 1})" if len(alerts) > 1 else "")
    text = "\n".join(f"{alert.message_zh}\n{alert.message_en}" for alert in alerts)
    delivered = False
    if team.webhook_url:
        try:
            target = WebhookTarget(team.webhook_url, team.webhook_kind or "generic", team.webhook_secret)  # type: ignore[arg-type]
        except ValueError as exc:
            log.warning("team %s has an unusable webhook: %s", team.name, exc)
        else:
            first = alerts[0]
            notification = Notification(
                title=title,
                text=text,
                url=url,
                fields={"key": first.key, "signal": first.signal, "severity": first.severity},
                event=ALERT_EVENT,
                payload={"alerts": [alert_payload(alert) for alert in alerts]},
            )
            result = send(target, notification, attempts=2, backoff=0.5)
            delivered = result.ok
            if not result.ok:
                log.warning("alert webhook to team %s failed: %s", team.name, result.error)
    mailer = mailer_from_settings(settings)
    if mailer is not None and team.email:
        try:
            mailer.send(
                Mail(
                    to=team.email,
                    subject=title,
                    text=f"{text}\n{url}\n",
                    headers={"X-Closeloop-Event": ALERT_EVENT},
                )
            )
            delivered = True
        except MailError as exc:
            log.warning("alert e-mail to %s failed: %s", team.email, exc)
    if delivered:
        now = utcnow()
        for alert in alerts:
            alert.notified_at = now
    return delivered


def pending_notifications(session: Session, *, now: datetime) -> list[Alert]:
    """Open alerts not delivered yet, detected within the last week, oldest first."""
    stmt = (
        select(Alert)
        .where(Alert.status == "open", Alert.notified_at.is_(None), Alert.detected_at >= now - NOTIFY_WITHIN)
        .order_by(Alert.p_value, Alert.id)
    )
    return list(session.scalars(stmt))


def run_alert_job(
    factory: sessionmaker[Session],
    settings: Settings,
    *,
    now: datetime | None = None,
    today: date | None = None,
    notify: bool = True,
) -> list[int]:
    """The periodic job: detect as of today (local, Asia/Shanghai), store new alerts, tell the insight
    team about every open alert not delivered yet (this run's and earlier failures). Returns the new
    alerts' ids."""
    now = now or utcnow()
    with factory() as session:
        try:
            ids = [alert.id for alert in run_detection(session, today=today or local_today(now), now=now)]
            session.commit()
        except IntegrityError:  # another runner stored the same episode first; it notifies
            session.rollback()
            return []
        if notify:
            pending = pending_notifications(session, now=now)
            if notify_alerts(session, pending, settings=settings):
                session.commit()
    return ids


def acknowledge(alert: Alert, *, by: str, now: datetime | None = None) -> bool:
    """Mark an open alert acknowledged by ``by`` (an e-mail); False (and unchanged) when it is not open."""
    if alert.status != "open":
        return False
    alert.status = "acknowledged"
    alert.acknowledged_by = by
    alert.acknowledged_at = now or utcnow()
    return True
