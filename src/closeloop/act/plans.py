"""Action plans: an improvement initiative ("new packaging supplier") linked to a theme of feedback, and
whether it worked, read from the theme's volume and sentiment before and after the plan shipped.

A theme is a dict: ``{"category": "packaging"}`` (the newest analysis lists that category),
``{"topic": ["包装破损", "盒子压坏"]}`` (the text contains any of a topic's key phrases: topics are found on
the fly by ``analysis.topics`` and not stored, so a plan keeps the phrases that name its topic) or
``{"query": "漏水"}`` (the text contains it, case-insensitive), optionally narrowed by ``"channel"`` and
``"product"``. Several keys all have to match.

``effect`` compares the window before ``shipped_at`` with the window after it (same length; the after
window may still be running, then per-day rates are compared). The theme's *share* of all feedback is
tested as well as its count, so a general rise or fall in feedback does not pass for an effect.
Functions work in the caller's transaction; a clock (``now``) is passed in wherever time matters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, cast, exists, func, literal, select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session, aliased

from closeloop.ask.abtest import two_proportion_z_test
from closeloop.store.models import ActionPlan, Analysis, FeedbackItem, Team, User, utcnow

PLAN_STATES = ("planned", "in_progress", "shipped", "dropped")
# A plan may be recorded after the fact, so planned → shipped is allowed; shipped and dropped are final.
TRANSITIONS: dict[str, frozenset[str]] = {
    "planned": frozenset({"in_progress", "shipped", "dropped"}),
    "in_progress": frozenset({"shipped", "dropped"}),
    "shipped": frozenset(),
    "dropped": frozenset(),
}
THEME_KINDS = ("category", "topic", "query")
THEME_NARROWING = ("channel", "product")
MAX_THEME_TEXT = 200
MAX_TOPIC_PHRASES = 20

# --- how the verdict is reached -------------------------------------------------------------------------
# Two tests (negative share, share of volume) at a family-wise 5 %: each at ALPHA / 2 (Bonferroni).
ALPHA = 0.05
# A test counts only with at least this many theme items in a window (analysed ones for the negative share;
# before-window items and after-window feedback for the share of volume): fewer, and the normal
# approximation of the z-test, and the team's trust in it, are both poor.
MIN_THEME_ITEMS = 20
# Nothing is concluded before the after window has run a week (weekday patterns in feedback volume).
MIN_AFTER_DAYS = 7.0
WEEK = timedelta(days=7)

VERDICTS = {
    "improved": ("已改善", "improved"),
    "worse": ("变差了", "worse"),
    "no_clear_change": ("尚无明显变化", "no clear change yet"),
}


class PlanError(ValueError):
    """A plan or a change to it that is not allowed (message in en / zh)."""


class PlanStateError(PlanError):
    """Not allowed in the plan's current state: a status change, a ship date, an effect before shipping."""


# --- plans ----------------------------------------------------------------------------------------------


def validate_theme(theme: Mapping[str, Any]) -> dict[str, Any]:
    """The theme cleaned up (strings stripped, a topic as a list of phrases); raises PlanError when it has
    no category, topic or query, an unknown key, or an empty or overlong value."""
    unknown = sorted(set(theme) - set(THEME_KINDS) - set(THEME_NARROWING))
    if unknown:
        raise PlanError(
            f"unknown theme key(s) {', '.join(unknown)}; known: {', '.join(THEME_KINDS + THEME_NARROWING)} / "
            f"未知的主题字段：{', '.join(unknown)}"
        )
    cleaned: dict[str, Any] = {}
    for key in (*THEME_KINDS, *THEME_NARROWING):
        if key not in theme or theme[key] is None:
            continue
        value = theme[key]
        if key == "topic":
            phrases = [value] if isinstance(value, str) else value
            if not isinstance(phrases, list) or not 1 <= len(phrases) <= MAX_TOPIC_PHRASES:
                raise PlanError(
                    f"theme.topic: a phrase or a list of 1–{MAX_TOPIC_PHRASES} phrases / "
                    f"主题词须为 1–{MAX_TOPIC_PHRASES} 个短语"
                )
            cleaned[key] = [_theme_text(key, phrase) for phrase in phrases]
        else:
            cleaned[key] = _theme_text(key, value)
    if not any(kind in cleaned for kind in THEME_KINDS):
        raise PlanError(
            "a theme needs a category, a topic or a query"
            " / 主题须指定类别（category）、话题（topic）或关键词（query）"
        )
    return cleaned


def _theme_text(key: str, value: Any) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text or len(text) > MAX_THEME_TEXT:
        raise PlanError(
            f"theme.{key}: a non-empty text of at most {MAX_THEME_TEXT} characters / "
            f"theme.{key} 须为不超过 {MAX_THEME_TEXT} 字的非空文本"
        )
    return text


def create_plan(
    session: Session,
    *,
    title: str,
    theme: Mapping[str, Any],
    description: str = "",
    owner: User | None = None,
    team: str | None = None,
    starts_on: datetime | None = None,
    due_on: datetime | None = None,
    status: str = "planned",
    shipped_at: datetime | None = None,
    now: datetime | None = None,
) -> ActionPlan:
    """A new plan (flushed, so it has an id). A plan recorded after the fact may start as ``shipped``;
    its ``shipped_at`` defaults to ``now``."""
    now = now or utcnow()
    if status not in ("planned", "in_progress", "shipped"):
        raise PlanError(f"a new plan cannot be {status!r} / 新建计划的状态不能是 {status!r}")
    plan = ActionPlan(
        title=_title(title),
        description=description,
        theme=validate_theme(theme),
        owner_id=owner.id if owner else None,
        team=_team(session, team),
        status="planned",
        created_at=now,
        updated_at=now,
    )
    _check_dates(starts_on, due_on)
    plan.starts_on, plan.due_on = starts_on, due_on
    if status != "planned":
        _move(plan, status, shipped_at=shipped_at, now=now)
    elif shipped_at is not None:
        raise PlanStateError("shipped_at needs status shipped / 只有已上线（shipped）的计划才有上线时间")
    session.add(plan)
    session.flush()
    return plan


UPDATABLE = frozenset(
    {"title", "description", "theme", "owner", "team", "starts_on", "due_on", "status", "shipped_at"}
)


def update_plan(
    session: Session, plan: ActionPlan, changes: Mapping[str, Any], *, now: datetime | None = None
) -> dict[str, Any]:
    """Apply ``changes`` (keys from ``UPDATABLE``; ``owner`` is a User or None); returns what changed as
    ``{field: [before, after]}`` (JSON-ready) for the audit log. Moving to ``shipped`` sets ``shipped_at``
    (given, or ``now``); a shipped plan's ``shipped_at`` may be corrected."""
    now = now or utcnow()
    unknown = sorted(set(changes) - UPDATABLE)
    if unknown:
        raise PlanError(f"cannot change {', '.join(unknown)} / 不能修改 {', '.join(unknown)}")
    before = _snapshot(plan)
    if "title" in changes:
        plan.title = _title(changes["title"])
    if "description" in changes:
        plan.description = changes["description"] or ""
    if "theme" in changes:
        plan.theme = validate_theme(changes["theme"])
    if "owner" in changes:
        plan.owner_id = changes["owner"].id if changes["owner"] else None
    if "team" in changes:
        plan.team = _team(session, changes["team"])
    if "starts_on" in changes or "due_on" in changes:
        starts_on = changes.get("starts_on", plan.starts_on)
        due_on = changes.get("due_on", plan.due_on)
        _check_dates(starts_on, due_on)
        plan.starts_on, plan.due_on = starts_on, due_on
    status = changes.get("status")
    if status is not None and status != plan.status:
        _move(plan, status, shipped_at=changes.get("shipped_at"), now=now)
        if status == "shipped":
            from closeloop.act.follow_up import plan_action_plan_follow_ups  # (builds on this module)

            session.flush()
            plan_action_plan_follow_ups(session, plan, now=now)
    elif changes.get("shipped_at") is not None:
        if plan.status != "shipped":
            raise PlanStateError("shipped_at needs status shipped / 只有已上线（shipped）的计划才有上线时间")
        plan.shipped_at = _shipped_at(changes["shipped_at"], now)
    after = _snapshot(plan)
    diff = {key: [before[key], after[key]] for key in before if before[key] != after[key]}
    if diff:
        plan.updated_at = now
    session.flush()
    return diff


def _move(plan: ActionPlan, status: str, *, shipped_at: datetime | None, now: datetime) -> None:
    if status not in PLAN_STATES:
        raise PlanError(f"unknown status {status!r}; known: {', '.join(PLAN_STATES)} / 未知状态 {status!r}")
    if status not in TRANSITIONS[plan.status]:
        raise PlanStateError(
            f"a {plan.status} plan cannot become {status} / 计划不能从 {plan.status} 变为 {status}"
        )
    if shipped_at is not None and status != "shipped":
        raise PlanStateError("shipped_at needs status shipped / 只有已上线（shipped）的计划才有上线时间")
    plan.status = status
    if status == "shipped":
        plan.shipped_at = _shipped_at(shipped_at, now) if shipped_at is not None else now


def _shipped_at(shipped_at: datetime, now: datetime) -> datetime:
    if shipped_at > now:
        raise PlanStateError("shipped_at is in the future / 上线时间不能晚于现在")
    return shipped_at


def _title(title: str) -> str:
    cleaned = (title or "").strip()
    if not cleaned or len(cleaned) > 256:
        raise PlanError("a title of 1–256 characters / 标题须为 1–256 字")
    return cleaned


def _team(session: Session, team: str | None) -> str | None:
    if team and session.get(Team, team) is None:
        raise PlanError(f"no team {team!r} / 没有团队 {team!r}")
    return team or None


def _check_dates(starts_on: datetime | None, due_on: datetime | None) -> None:
    if starts_on is not None and due_on is not None and due_on < starts_on:
        raise PlanError("due_on is before starts_on / 截止日期早于开始日期")


def _snapshot(plan: ActionPlan) -> dict[str, Any]:
    fields = ("title", "description", "theme", "owner_id", "team", "status")
    shot: dict[str, Any] = {name: getattr(plan, name) for name in fields}
    for name in ("starts_on", "due_on", "shipped_at"):
        value = getattr(plan, name)
        shot[name] = value.isoformat() if value else None
    return shot


# --- theme matching -------------------------------------------------------------------------------------


def _is_newest_analysis() -> ColumnElement[bool]:
    """No analysis of the same item has a higher id. An anti-join, which PostgreSQL and SQLite both plan
    well; a correlated ``= (SELECT max(id) …)`` in the join took minutes on PostgreSQL at 100k items."""
    newer = aliased(Analysis)
    return ~exists(
        select(literal(1)).where(newer.feedback_id == Analysis.feedback_id, newer.id > Analysis.id)
    )


def category_condition(dialect: str, category: str) -> ColumnElement[bool]:
    """``Analysis.categories`` (a JSON list) contains ``category``, exactly, on SQLite and PostgreSQL.

    Done in SQL so only the theme's rows leave the database: PostgreSQL's jsonb containment (``@>``) and
    SQLite's ``json_each``. A LIKE on the JSON text would also hit "packaging-eco" for "packaging" and
    depends on how the list was serialised (ensure_ascii turns 包装 into ``\\u5305\\u88c5``).
    """
    if dialect == "postgresql":
        return cast(Analysis.categories, JSONB).contains([category])
    listed = func.json_each(Analysis.categories).table_valued("value")
    return exists(select(literal(1)).select_from(listed).where(listed.c.value == category))


def _contains(phrase: str) -> ColumnElement[bool]:
    # A bound parameter with % and _ escaped: the user's text never becomes part of the pattern syntax.
    return FeedbackItem.text.icontains(phrase, autoescape=True)


def theme_conditions(dialect: str, theme: Mapping[str, Any]) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a (validated) theme over FeedbackItem joined with its newest Analysis."""
    conditions: list[ColumnElement[bool]] = []
    if "category" in theme:
        conditions.append(category_condition(dialect, theme["category"]))
    if "topic" in theme:
        phrases = [theme["topic"]] if isinstance(theme["topic"], str) else theme["topic"]
        conditions.append(_any(phrases))
    if "query" in theme:
        conditions.append(_contains(theme["query"]))
    conditions.extend(_narrowing(theme))
    return conditions


def _any(phrases: Sequence[str]) -> ColumnElement[bool]:
    condition = _contains(phrases[0])
    for phrase in phrases[1:]:
        condition = condition | _contains(phrase)
    return condition


def _narrowing(theme: Mapping[str, Any]) -> list[ColumnElement[bool]]:
    """The channel / product narrowing: it applies to the theme and to the "all feedback" it is a share of."""
    conditions: list[ColumnElement[bool]] = []
    if theme.get("channel"):
        conditions.append(FeedbackItem.channel == theme["channel"])
    if theme.get("product"):
        conditions.append(FeedbackItem.product == theme["product"])
    return conditions


def theme_items(
    session: Session,
    theme: Mapping[str, Any],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Select[tuple[FeedbackItem]]:
    """A statement selecting the feedback items of ``theme`` created in [since, until) (e.g. the customers
    behind a shipped plan, for follow-up)."""
    return _theme_select(session, theme, (FeedbackItem,), since=since, until=until)


def _theme_select(
    session: Session,
    theme: Mapping[str, Any],
    columns: Sequence[Any],
    *,
    since: datetime | None,
    until: datetime | None,
) -> Select[Any]:
    dialect = session.get_bind().dialect.name
    stmt = (
        select(*columns)
        .select_from(FeedbackItem)
        .outerjoin(Analysis, and_(Analysis.feedback_id == FeedbackItem.id, _is_newest_analysis()))
        .where(*theme_conditions(dialect, validate_theme(theme)))
    )
    if since is not None:
        stmt = stmt.where(FeedbackItem.created_at >= since)
    if until is not None:
        stmt = stmt.where(FeedbackItem.created_at < until)
    return stmt


# --- effect ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThemeRow:
    """One theme item as the effect needs it: when, and what its newest analysis said (None: not analysed)."""

    created_at: datetime
    sentiment: str | None
    sentiment_score: float | None
    complaint: bool | None


@dataclass(frozen=True, slots=True)
class WindowFigures:
    """The theme in one window: volume, its share of all feedback, sentiment and complaints."""

    start: datetime
    end: datetime
    days: float
    partial: bool
    items: int
    all_items: int
    analysed: int  # items with a sentiment
    negative: int
    complaints: int
    complaint_known: int
    score_sum: float
    scored: int

    @property
    def items_per_day(self) -> float | None:
        return self.items / self.days if self.days > 0 else None

    @property
    def share(self) -> float | None:
        return self.items / self.all_items if self.all_items else None

    @property
    def negative_share(self) -> float | None:
        return self.negative / self.analysed if self.analysed else None

    @property
    def complaint_share(self) -> float | None:
        return self.complaints / self.complaint_known if self.complaint_known else None

    @property
    def mean_sentiment_score(self) -> float | None:
        return self.score_sum / self.scored if self.scored else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days": round(self.days, 3),
            "partial": self.partial,
            "items": self.items,
            "items_per_day": _round(self.items_per_day),
            "all_items": self.all_items,
            "share": _round(self.share),
            "analysed": self.analysed,
            "negative": self.negative,
            "negative_share": _round(self.negative_share),
            "mean_sentiment_score": _round(self.mean_sentiment_score),
            "complaints": self.complaints,
            "complaint_share": _round(self.complaint_share),
        }


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def window_figures(
    rows: Sequence[ThemeRow], *, all_items: int, start: datetime, end: datetime, full_days: float
) -> WindowFigures:
    """Count the theme ``rows`` (already limited to the window) against ``all_items`` in [start, end)."""
    days = max(0.0, (end - start).total_seconds() / 86400)
    analysed = [r for r in rows if r.sentiment is not None]
    known = [r for r in rows if r.complaint is not None]
    scores = [r.sentiment_score for r in rows if r.sentiment_score is not None]
    return WindowFigures(
        start=start,
        end=end,
        days=days,
        partial=days < full_days,
        items=len(rows),
        all_items=all_items,
        analysed=len(analysed),
        negative=sum(r.sentiment == "negative" for r in analysed),
        complaints=sum(bool(r.complaint) for r in known),
        complaint_known=len(known),
        score_sum=math.fsum(scores),
        scored=len(scores),
    )


@dataclass(frozen=True, slots=True)
class ShareTest:
    """A two-proportion z-test of one share, after against before (z > 0: the share went up)."""

    name: str
    before: float | None
    after: float | None
    z: float
    p: float
    enough_data: bool
    significant: bool
    missing: str | None = None  # why it does not count, when it does not (zh / en joined)

    @property
    def direction(self) -> str:
        """'down', 'up' or 'flat' (significant or not)."""
        return "up" if self.z > 0 else "down" if self.z < 0 else "flat"


def share_test(
    name: str,
    successes_before: int,
    trials_before: int,
    successes_after: int,
    trials_after: int,
    *,
    enough_data: bool,
    missing: str | None,
    alpha: float,
) -> ShareTest:
    """Test one share; it is ``significant`` only with enough data and p below ``alpha``."""
    z, p = two_proportion_z_test(successes_before, trials_before, successes_after, trials_after)
    return ShareTest(
        name=name,
        before=successes_before / trials_before if trials_before else None,
        after=successes_after / trials_after if trials_after else None,
        z=z,
        p=p,
        enough_data=enough_data,
        significant=enough_data and p < alpha,
        missing=None if enough_data else missing,
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    code: str  # improved | worse | no_clear_change
    reasons: list[dict[str, str]] = field(default_factory=list)  # [{"zh": ..., "en": ...}]

    @property
    def zh(self) -> str:
        return VERDICTS[self.code][0]

    @property
    def en(self) -> str:
        return VERDICTS[self.code][1]


def compare_windows(
    before: WindowFigures,
    after: WindowFigures,
    *,
    alpha: float = ALPHA,
    min_items: int = MIN_THEME_ITEMS,
    min_after_days: float = MIN_AFTER_DAYS,
) -> tuple[ShareTest, ShareTest, Verdict]:
    """The negative-share and share-of-volume tests and the plain verdict.

    A lower share is better for both (a plan targets a problem theme). Each test runs at ``alpha / 2``;
    "improved" needs at least one significant fall and no significant rise, "worse" the reverse; anything
    else (no significant change, too little data, a mixed result) is "no clear change yet".
    """
    per_test = alpha / 2
    too_early = after.days < min_after_days
    early = (
        f"售后窗口仅 {after.days:.1f} 天（至少 {min_after_days:g} 天）"
        f" / the after window has run {after.days:.1f} days (needs {min_after_days:g})"
    )
    negative_ok = before.analysed >= min_items and after.analysed >= min_items
    negative = share_test(
        "negative_share",
        before.negative,
        before.analysed,
        after.negative,
        after.analysed,
        enough_data=negative_ok and not too_early,
        missing=early
        if too_early
        else (
            f"已分析的主题反馈前 {before.analysed} 条、后 {after.analysed} 条（每个窗口至少 {min_items} 条）"
            f" / analysed theme items {before.analysed} before, {after.analysed} after"
            f" (needs {min_items} in each window)"
        ),
        alpha=per_test,
    )
    volume_ok = before.items >= min_items and after.all_items >= min_items
    volume = share_test(
        "volume_share",
        before.items,
        before.all_items,
        after.items,
        after.all_items,
        enough_data=volume_ok and not too_early,
        missing=early
        if too_early
        else (
            f"上线前主题反馈 {before.items} 条、上线后全部反馈 {after.all_items} 条（各至少 {min_items} 条）"
            f" / theme items before {before.items}, all feedback after {after.all_items}"
            f" (needs {min_items} each)"
        ),
        alpha=per_test,
    )
    tests = (negative, volume)
    better = [t for t in tests if t.significant and t.z < 0]
    worse = [t for t in tests if t.significant and t.z > 0]
    if better and not worse:
        code = "improved"
    elif worse and not better:
        code = "worse"
    else:
        code = "no_clear_change"
    reasons = [_reason(t, per_test) for t in tests]
    if better and worse:
        reasons.append(
            {"zh": "两项检验方向相反，结论不明", "en": "the two tests point in opposite directions"}
        )
    return negative, volume, Verdict(code, reasons)


_TEST_NAMES = {
    "negative_share": ("负面占比", "negative share"),
    "volume_share": ("占全部反馈的比例", "share of all feedback"),
}


def _reason(test: ShareTest, alpha: float) -> dict[str, str]:
    zh_name, en_name = _TEST_NAMES[test.name]
    shares = f"{_percent(test.before)} → {_percent(test.after)}"
    if not test.enough_data:
        zh, en = (test.missing or " / ").split(" / ", 1)
        return {
            "zh": f"{zh_name} {shares}：数据不足，不计入结论（{zh}）",
            "en": f"{en_name} {shares}: too little data, not counted ({en})",
        }
    if test.significant:
        zh_way, en_way = ("下降", "fell") if test.z < 0 else ("上升", "rose")
        return {
            "zh": f"{zh_name} {shares}，显著{zh_way}（p={test.p:.3g} < {alpha:g}）",
            "en": f"{en_name} {shares}, significantly {en_way} (p={test.p:.3g} < {alpha:g})",
        }
    return {
        "zh": f"{zh_name} {shares}，变化不显著（p={test.p:.3g} ≥ {alpha:g}）",
        "en": f"{en_name} {shares}, no significant change (p={test.p:.3g} ≥ {alpha:g})",
    }


def _percent(share: float | None) -> str:
    return "–" if share is None else f"{share:.1%}"


def week_buckets(shipped_at: datetime, window_days: int, end: datetime) -> list[tuple[datetime, datetime]]:
    """7-day buckets counted from ``shipped_at`` both ways, so no bucket straddles the change; cut to the
    windows and to ``end`` (now)."""
    start = shipped_at - timedelta(days=window_days)
    stop = min(shipped_at + timedelta(days=window_days), end)
    weeks_each_side = math.ceil(window_days / 7)
    buckets = []
    for k in range(-weeks_each_side, weeks_each_side):
        low = max(shipped_at + k * WEEK, start)
        high = min(shipped_at + (k + 1) * WEEK, stop)
        if k < 0:  # the last week before the change ends at it even when window_days is no multiple of 7
            high = min(high, shipped_at)
        if high > low:
            buckets.append((low, high))
    return buckets


def _count_all(
    session: Session, theme: Mapping[str, Any], spans: Sequence[tuple[datetime, datetime]]
) -> list[int]:
    """All feedback the theme is a share of, in each span, in one query: with the theme's channel / product
    narrowing, and for a category theme only analysed items (a backlog of items not yet analysed would
    otherwise pass for a fall in the category's share)."""
    if not spans:
        return []
    created = FeedbackItem.created_at
    sums = [
        func.coalesce(func.sum(case((and_(created >= low, created < high), 1), else_=0)), 0)
        for low, high in spans
    ]
    lowest, highest = min(s[0] for s in spans), max(s[1] for s in spans)
    stmt = select(*sums).where(created >= lowest, created < highest, *_narrowing(theme))
    if "category" in theme:
        stmt = stmt.where(exists(select(Analysis.id).where(Analysis.feedback_id == FeedbackItem.id)))
    return [int(n) for n in session.execute(stmt).one()]


def effect(
    session: Session,
    plan: ActionPlan,
    *,
    window_days: int = 28,
    now: datetime | None = None,
    alpha: float = ALPHA,
    min_items: int = MIN_THEME_ITEMS,
) -> dict[str, Any]:
    """The theme before and after ``plan.shipped_at``: figures per window, the two tests, the verdict in
    zh + en with its reasons, and a weekly series for a chart. Raises PlanError for a plan not shipped."""
    if plan.shipped_at is None:
        raise PlanStateError("the plan has not shipped yet / 计划尚未上线，无法比较前后效果")
    if window_days < 1:
        raise PlanError("window_days must be at least 1 / 窗口至少 1 天")
    now = now or utcnow()
    shipped = plan.shipped_at
    span = timedelta(days=window_days)
    before_span = (shipped - span, max(shipped - span, min(shipped, now)))
    after_span = (shipped, max(shipped, min(shipped + span, now)))
    columns = (FeedbackItem.created_at, Analysis.sentiment, Analysis.sentiment_score, Analysis.complaint)
    rows = [
        ThemeRow(*row)
        for row in session.execute(
            _theme_select(session, plan.theme, columns, since=before_span[0], until=after_span[1])
        )
    ]
    weeks = week_buckets(shipped, window_days, now)
    counts = _count_all(session, plan.theme, [before_span, after_span, *weeks])
    before, after = (
        window_figures(
            [r for r in rows if low <= r.created_at < high],
            all_items=all_items,
            start=low,
            end=high,
            full_days=window_days,
        )
        for (low, high), all_items in zip((before_span, after_span), counts[:2], strict=True)
    )
    negative, volume, verdict = compare_windows(before, after, alpha=alpha, min_items=min_items)
    return {
        "plan_id": plan.id,
        "theme": plan.theme,
        "shipped_at": shipped.isoformat(),
        "window_days": window_days,
        "now": now.isoformat(),
        "partial": before.partial or after.partial,
        "before": before.as_dict(),
        "after": after.as_dict(),
        "change": _change(before, after),
        "tests": {t.name: _test_dict(t) for t in (negative, volume)},
        "alpha": alpha,
        "min_items": min_items,
        "verdict": verdict.code,
        "verdict_zh": verdict.zh,
        "verdict_en": verdict.en,
        "reasons": verdict.reasons,
        "weekly": [
            _week(low, high, all_items, [r for r in rows if low <= r.created_at < high], shipped)
            for (low, high), all_items in zip(weeks, counts[2:], strict=True)
        ],
    }


def _change(before: WindowFigures, after: WindowFigures) -> dict[str, float | None]:
    """After minus before, per figure (per-day rate, not counts, since the after window may be partial)."""

    def minus(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else _round(a - b)

    return {
        "items_per_day": minus(after.items_per_day, before.items_per_day),
        "share": minus(after.share, before.share),
        "negative_share": minus(after.negative_share, before.negative_share),
        "mean_sentiment_score": minus(after.mean_sentiment_score, before.mean_sentiment_score),
        "complaint_share": minus(after.complaint_share, before.complaint_share),
    }


def _test_dict(test: ShareTest) -> dict[str, Any]:
    found = asdict(test)
    found.update(
        before=_round(test.before), after=_round(test.after), z=round(test.z, 4), p=_round(test.p, 6)
    )
    found["direction"] = test.direction
    return found


def _week(
    low: datetime, high: datetime, all_items: int, rows: Sequence[ThemeRow], shipped: datetime
) -> dict[str, Any]:
    analysed = [r for r in rows if r.sentiment is not None]
    negative = sum(r.sentiment == "negative" for r in analysed)
    return {
        "start": low.isoformat(),
        "end": high.isoformat(),
        "side": "before" if high <= shipped else "after",
        "items": len(rows),
        "all_items": all_items,
        "share": _round(len(rows) / all_items) if all_items else None,
        "analysed": len(analysed),
        "negative_share": _round(negative / len(analysed)) if analysed else None,
    }
