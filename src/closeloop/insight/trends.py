"""Trend alerts: which category, product or topic has a complaint rate or volume rising beyond its normal
variation. Pure functions on per-period counts; no database, no clock (``today`` is passed in).

Input, per key (``category:packaging``, ``product:ZY-CW11``, ``topic:…``): a :class:`Series` of ``counts``
(items with the property: complaints, negatives …) and optionally ``totals`` (all items of the key, or all
feedback) per day (or per week, ``period_days=7``), oldest first, without gaps.

Windows. ``today`` is the run date and is not examined (it is incomplete). A rise may have started any
day in the last ``episode_days`` (28); each candidate start is compared with the ``baseline_days`` (28)
before it, so a rise that began three weeks ago is measured against the weeks before it, not against its
own first weeks. Days in ``skip_days`` (known promotions: 11.11, 6.18, 618 …) are left out of baselines
and windows alike: pass them to hear nothing about an expected promotion spike, leave them out to be told.

Two signals, both one-sided (only rises alert):

* **rate** — the share ``counts / totals``. Baseline share ``p0 = (X + 0.5) / (N + 1)``. Real feedback
  varies more from day to day than a binomial allows, so the between-day variance of the true share
  ``tau²`` is estimated from the baseline days by the DerSimonian–Laird moment estimator. Under "no
  change", a window's count ``X_w`` has expectation ``N_w·p0`` and variance
  ``Σ n_t·p0(1−p0) + Σ n_t²·tau² + N_w²·Var(p0)``.
* **volume** — the ``counts`` themselves. The expected count of a day is the baseline mean of its day of
  the week (daily series with at least 14 baseline days; otherwise one mean), and counts are modelled as
  negative binomial, variance ``mu + alpha·mu²``, with ``alpha`` from the baseline by the Pearson equation
  ``Σ (c − mu)² / (mu + alpha·mu²) = T − parameters``. The uncertainty of the baseline means is added
  to the variance of the expected window count.

Both statistics are log ratios ``log((observed + ½) / (expected + ½))`` over their standard deviation
(the variance above carried to the log scale by the delta method), referred to the normal distribution.
The log scale matters: over-dispersed daily noise is right-skewed, and a normal tail on the raw excess
gave 5–15× the nominal false alarms on synthetic over-dispersed series. On the log scale p-values are
at or below nominal down to 0.01. Further into the tail the over-dispersion (``tau²``, ``alpha``) matters:
it is estimated from only 28 days, so the statistic is referred to a Student t whose degrees of freedom
come from the Satterthwaite approximation (infinite when the variance is all Poisson/binomial, the
baseline's own freedom when it is all estimated dispersion). With a normal tail, strongly over-dispersed
noise (day-to-day CV ~45%) gave per-key p-values below 1e-4 25 times too often and an alert in 22.5% of
daily runs over 200 keys; with the t tail 0 and 5% (``benchmarks/trends.py``), for some loss of power on
noisy keys (volume ×2 at 400/day, medium noise, found within 14 days: 0.88 → 0.62).

Candidate windows: every suffix "since day s" for s in the last ``episode_days``, and for volume also
every single day of the last ``recent_days`` (a spike such as 11.11). The window with the largest
statistic gives ``started_on`` (for a step change the expected statistic peaks at the true start). A
window longer than ``recent_days`` counts only if its last ``recent_days`` are still at least one standard
deviation above its baseline (a rise that has ended is not news). A window needs ``min_count`` items with
the property and a full ``baseline_days`` of history before it. The best window's one-sided p-value is
multiplied by the number of candidate windows (Bonferroni within a key, conservative: the windows
overlap). Across keys and signals, Benjamini–Hochberg at ``alpha`` decides which tests alert; when nothing
is rising that bounds the chance of *any* false alert in a run by about ``alpha`` (approximately: the
statistics are approximately normal; ``benchmarks/trends.py`` measures it).

Known limits: no trend term (a key growing steadily is compared with the four weeks before each window),
no weekday pattern in shares, and a rise older than ``episode_days`` becomes the new normal and stops
alerting.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from scipy import special

Signal = Literal["rate", "volume"]
Severity = Literal["high", "medium", "low"]

SEVERITY_ZH: dict[str, str] = {"high": "高", "medium": "中", "low": "低"}
SEVERITY_EN: dict[str, str] = {"high": "high", "medium": "medium", "low": "low"}
WEEKDAYS = 7
MIN_WEEKDAY_BASELINE_DAYS = 14  # fewer baseline days than this: one mean for all days of the week
STILL_RISING = 1.0  # a long window alerts only if its last recent_days are still this many sd above baseline


@dataclass(frozen=True, slots=True)
class Series:
    """Counts per period for one key, oldest first and without gaps: period ``i`` starts on
    ``start + i * period_days``. ``totals`` (the denominator of the rate) is optional."""

    start: date
    counts: tuple[int, ...]
    totals: tuple[int, ...] | None = None
    period_days: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", tuple(int(count) for count in self.counts))
        if self.totals is not None:
            object.__setattr__(self, "totals", tuple(int(total) for total in self.totals))
        if self.period_days < 1:
            raise ValueError("period_days must be at least 1")
        if any(count < 0 for count in self.counts):
            raise ValueError("counts must not be negative")
        if self.totals is not None:
            if len(self.totals) != len(self.counts):
                raise ValueError("counts and totals must have the same length")
            if any(count > total for count, total in zip(self.counts, self.totals, strict=True)):
                raise ValueError("a count cannot exceed its total")

    def period_start(self, index: int) -> date:
        """The first day of period ``index``."""
        return self.start + timedelta(days=index * self.period_days)

    def index_of(self, day: date) -> int:
        """The index of the period containing ``day`` (negative before the series starts)."""
        return (day - self.start).days // self.period_days


def daily_series(
    by_day: Mapping[date, tuple[int, int]], *, start: date, end: date, with_totals: bool = True
) -> Series:
    """A daily :class:`Series` from ``{day: (count, total)}`` for ``start`` … ``end`` inclusive; missing
    days count as zero."""
    if end < start:
        raise ValueError("end must not be before start")
    days = [start + timedelta(days=offset) for offset in range((end - start).days + 1)]
    counts = tuple(by_day.get(day, (0, 0))[0] for day in days)
    totals = tuple(by_day.get(day, (0, 0))[1] for day in days) if with_totals else None
    return Series(start=start, counts=counts, totals=totals)


# ---------------------------------------------------------------- statistics


def upper_tail(statistic: float) -> float:
    """One-sided p-value of a standard normal statistic: P(Z ≥ statistic)."""
    return 0.5 * math.erfc(statistic / math.sqrt(2.0))


def satterthwaite_freedom(total: float, estimated: float, freedom: int) -> float:
    """Effective degrees of freedom of a variance ``total`` of which the part ``estimated`` was estimated
    from data with ``freedom`` degrees of freedom (the rest is known: Poisson or binomial noise).
    Infinite when nothing was estimated or ``freedom`` is not positive (then the normal tail applies)."""
    if estimated <= 0.0 or freedom <= 0 or total <= 0.0:
        return math.inf
    return total * total / (estimated * estimated / freedom)


def normal_equivalent(statistic: float, freedom: float) -> float:
    """The standard normal score with the same upper tail as a Student t ``statistic`` with ``freedom``
    degrees of freedom: a variance estimated from four weeks is itself uncertain, and a normal tail
    ignores that (it alerted on a fifth of the runs over strongly over-dispersed noise)."""
    if math.isinf(freedom) or statistic <= 0.0:
        return statistic
    return float(-special.ndtri(special.stdtr(freedom, -statistic)))


def benjamini_hochberg(p_values: Sequence[float], alpha: float) -> list[bool]:
    """Which hypotheses the Benjamini–Hochberg step-up procedure rejects at false discovery rate ``alpha``."""
    order = sorted(range(len(p_values)), key=lambda index: p_values[index])
    cutoff = 0
    for rank, index in enumerate(order, start=1):
        if p_values[index] <= alpha * rank / len(p_values):
            cutoff = rank
    rejected = set(order[:cutoff])
    return [index in rejected for index in range(len(p_values))]


@dataclass(frozen=True, slots=True)
class RateBaseline:
    """The normal share of a key and how much it varies between periods beyond binomial noise."""

    share: float  # p0
    between_variance: float  # tau², variance of the true share from period to period
    share_variance: float  # Var(p0), the uncertainty of the baseline share itself
    items: int
    count: int
    periods: int = 0  # baseline periods with items: tau² is estimated from them
    between_share_variance: float = 0.0  # the part of Var(p0) that comes from tau²


def rate_baseline(counts: Sequence[int], totals: Sequence[int]) -> RateBaseline:
    """Baseline share (with ½ pseudo-count) and DerSimonian–Laird between-period variance."""
    count, items = sum(counts), sum(totals)
    share = (count + 0.5) / (items + 1.0)
    binomial = share * (1.0 - share)
    observed = [(c, n) for c, n in zip(counts, totals, strict=True) if n > 0]
    weights = [n / binomial for _, n in observed]
    q = sum(w * (c / n - share) ** 2 for (c, n), w in zip(observed, weights, strict=True))
    spread = sum(weights) - sum(w * w for w in weights) / sum(weights) if weights else 0.0
    between = max(0.0, (q - (len(observed) - 1)) / spread) if spread > 0 else 0.0
    share_variance = (
        sum(n * binomial + n * n * between for _, n in observed) / items**2 if items else binomial
    )
    between_share = sum(n * n * between for _, n in observed) / items**2 if items else 0.0
    return RateBaseline(share, between, share_variance, items, count, len(observed), between_share)


def rate_statistic(baseline: RateBaseline, counts: Sequence[int], totals: Sequence[int]) -> float:
    """Standardized log ratio of the window's count to ``share × items`` (0 when the window is empty).

    On the log scale, as for volume: day-to-day variation of a share is right-skewed, and a normal tail
    on the raw excess alerts too often; the variance reaches the log scale by the delta method."""
    count, items = sum(counts), sum(totals)
    if items == 0:
        return 0.0
    binomial = baseline.share * (1.0 - baseline.share)
    between = sum(n * n * baseline.between_variance for n in totals)
    variance = sum(n * binomial for n in totals) + between + items * items * baseline.share_variance
    expected = items * baseline.share
    statistic = (math.log(count + 0.5) - math.log(expected + 0.5)) / (math.sqrt(variance) / (expected + 0.5))
    estimated = between + items * items * baseline.between_share_variance
    return normal_equivalent(statistic, satterthwaite_freedom(variance, estimated, baseline.periods - 1))


@dataclass(frozen=True, slots=True)
class VolumeBaseline:
    """The expected count per period (by day of the week, or one value) and the over-dispersion."""

    expected: tuple[float, ...]  # 7 values (Monday … Sunday) or 1
    expected_variance: tuple[float, ...]  # Var of each expected value
    dispersion: float  # alpha: variance = mu + alpha·mu²
    freedom: int = 0  # degrees of freedom of the dispersion estimate (periods − expected values)
    days: tuple[int, ...] = ()  # baseline periods behind each expected value

    def slot(self, weekday: int) -> int:
        """Which entry of ``expected`` applies to a period on ``weekday`` (0 = Monday)."""
        return weekday if len(self.expected) == WEEKDAYS else 0


def negative_binomial_dispersion(counts: Sequence[int], expected: Sequence[float], parameters: int) -> float:
    """``alpha`` solving the Pearson equation ``Σ (c − mu)² / (mu + alpha·mu²) = n − parameters``, ≥ 0."""
    freedom = len(counts) - parameters
    if freedom <= 0:
        return 0.0

    def pearson(alpha: float) -> float:
        return sum((c - mu) ** 2 / (mu + alpha * mu * mu) for c, mu in zip(counts, expected, strict=True))

    if pearson(0.0) <= freedom:
        return 0.0
    low, high = 0.0, 1.0
    while pearson(high) > freedom and high < 1e6:
        low, high = high, high * 4
    while high - low > 1e-4 * high:
        middle = (low + high) / 2
        low, high = (middle, high) if pearson(middle) > freedom else (low, middle)
    return high


def volume_baseline(counts: Sequence[int], weekdays: Sequence[int] | None = None) -> VolumeBaseline:
    """Expected counts from baseline periods; by day of the week when ``weekdays`` is given and there are
    at least 14 periods, with the negative-binomial dispersion of the counts around them."""
    by_weekday = weekdays is not None and len(counts) >= MIN_WEEKDAY_BASELINE_DAYS
    slots = list(weekdays) if by_weekday and weekdays is not None else [0] * len(counts)
    size = WEEKDAYS if by_weekday else 1
    sums, days = [0.0] * size, [0] * size
    for count, slot in zip(counts, slots, strict=True):
        sums[slot] += count
        days[slot] += 1
    overall = (sum(counts) + 0.5) / max(1, len(counts))
    # a weekday with no baseline day borrows the overall mean; ½ pseudo-count keeps zero series testable
    expected = [(sums[s] + 0.5) / days[s] if days[s] else overall for s in range(size)]
    fitted = [expected[slot] for slot in slots]
    dispersion = negative_binomial_dispersion(counts, fitted, parameters=sum(1 for d in days if d))
    variance = [
        (expected[s] + dispersion * expected[s] ** 2) / days[s] if days[s] else overall for s in range(size)
    ]
    parameters = sum(1 for d in days if d)
    return VolumeBaseline(tuple(expected), tuple(variance), dispersion, len(counts) - parameters, tuple(days))


def volume_statistic(baseline: VolumeBaseline, counts: Sequence[int], weekdays: Sequence[int]) -> float:
    """Standardized log ratio of the window's count to its expected count.

    On the log scale because daily noise is multiplicative and right-skewed (a normal tail on the raw
    count alerts far too often); the variance is the negative-binomial variance plus the uncertainty of
    the baseline means, carried to the log scale by the delta method."""
    slots = [baseline.slot(weekday) for weekday in weekdays]
    expected = sum(baseline.expected[slot] for slot in slots)
    noise = sum(baseline.expected[s] + baseline.dispersion * baseline.expected[s] ** 2 for s in slots)
    uses = [slots.count(slot) for slot in range(len(baseline.expected))]
    estimation = sum(used * used * var for used, var in zip(uses, baseline.expected_variance, strict=True))
    spread = math.sqrt(noise + estimation) / (expected + 0.5)
    statistic = (math.log(sum(counts) + 0.5) - math.log(expected + 0.5)) / spread
    over_dispersion = baseline.dispersion * sum(baseline.expected[s] ** 2 for s in slots) + sum(
        used * used * baseline.dispersion * mu * mu / days
        for used, mu, days in zip(uses, baseline.expected, baseline.days, strict=False)
        if days
    )
    freedom = satterthwaite_freedom(noise + estimation, over_dispersion, baseline.freedom)
    return normal_equivalent(statistic, freedom)


# ---------------------------------------------------------------- scanning one key


@dataclass(frozen=True, slots=True)
class Finding:
    """The most unusual candidate window of one key and signal, before the decision across keys."""

    key: str
    signal: Signal
    first: int  # index of the window's first period in the series
    last: int  # index of its last period (inclusive)
    statistic: float
    p_value: float  # one-sided, times the number of candidate windows
    baseline_periods: tuple[int, ...]  # the periods the window was compared with
    window_periods: tuple[int, ...]  # the periods of the window (skipped days left out)


def candidate_windows(end: int, *, episode_length: int, spike_length: int) -> list[tuple[int, int]]:
    """``(first, last)`` windows before period ``end``: every suffix starting in the last ``episode_length``
    periods, then each single period of the last ``spike_length`` (but the last, already a suffix)."""
    suffixes = [(first, end - 1) for first in range(end - 1, end - 1 - episode_length, -1)]
    singles = [(period, period) for period in range(end - 2, end - 1 - spike_length, -1)]
    return suffixes + singles


def baseline_before(
    series: Series, first: int, *, baseline_length: int, skipped: Collection[int]
) -> list[int]:
    """The ``baseline_length`` periods before ``first`` that the series holds, skipped periods left out."""
    return [
        i for i in range(first - baseline_length, first) if 0 <= i < len(series.counts) and i not in skipped
    ]


def _periods(series: Series, days: int) -> int:
    return max(1, days // series.period_days)


def _scan(
    key: str,
    signal: Signal,
    series: Series,
    score: Callable[[tuple[int, ...], list[int]], float],
    *,
    today: date,
    baseline_days: int,
    recent_days: int,
    episode_days: int,
    min_count: int,
    skip_days: Collection[date],
) -> Finding | None:
    """The candidate window with the largest ``score(baseline, window)``, each window compared with the
    ``baseline_days`` before it; None when no window has ``min_count`` items and a full baseline span."""
    baseline_length = _periods(series, baseline_days)
    recent_length = _periods(series, recent_days)
    end = min(series.index_of(today), len(series.counts))  # today's period is incomplete
    windows = [
        (first, last)
        for first, last in candidate_windows(
            end,
            episode_length=_periods(series, max(episode_days, recent_days)),
            spike_length=recent_length if signal == "volume" else 0,
        )
        if first >= baseline_length  # a full baseline span of history before the window
    ]
    skipped = {series.index_of(day) for day in skip_days}
    best: tuple[float, list[int], tuple[int, ...]] | None = None
    for first, last in windows:
        window = [i for i in range(first, last + 1) if i not in skipped]
        baseline = tuple(baseline_before(series, first, baseline_length=baseline_length, skipped=skipped))
        if not window or len(baseline) < 3 or sum(series.counts[i] for i in window) < min_count:
            continue
        statistic = score(baseline, window)
        tail = [i for i in window if i > last - recent_length]
        if len(tail) < len(window) and score(baseline, tail) < STILL_RISING:
            continue  # a rise that has already ended is not news
        if best is None or statistic > best[0]:
            best = (statistic, window, baseline)
    if best is None:
        return None
    statistic, window, baseline = best
    p_value = min(1.0, upper_tail(statistic) * len(windows))
    return Finding(key, signal, window[0], window[-1], statistic, p_value, baseline, tuple(window))


def scan_rate(
    key: str,
    series: Series,
    *,
    today: date,
    baseline_days: int = 28,
    recent_days: int = 7,
    episode_days: int = 28,
    min_count: int = 10,
    skip_days: Collection[date] = (),
) -> Finding | None:
    """The window (a suffix starting in the last ``episode_days``) whose share most exceeds the share of the
    ``baseline_days`` before it; None without totals or enough data."""
    totals = series.totals
    if totals is None:
        return None
    references: dict[tuple[int, ...], RateBaseline] = {}

    def score(baseline: tuple[int, ...], window: list[int]) -> float:
        if baseline not in references:
            references[baseline] = rate_baseline(
                [series.counts[i] for i in baseline], [totals[i] for i in baseline]
            )
        return rate_statistic(
            references[baseline], [series.counts[i] for i in window], [totals[i] for i in window]
        )

    return _scan(
        key, "rate", series, score, today=today, baseline_days=baseline_days, recent_days=recent_days,
        episode_days=episode_days, min_count=min_count, skip_days=skip_days,
    )  # fmt: skip


def scan_volume(
    key: str,
    series: Series,
    *,
    today: date,
    baseline_days: int = 28,
    recent_days: int = 7,
    episode_days: int = 28,
    min_count: int = 10,
    skip_days: Collection[date] = (),
) -> Finding | None:
    """The window (a suffix starting in the last ``episode_days``, or one day of the last ``recent_days``)
    whose count most exceeds its expected count from the ``baseline_days`` before it; None without data."""
    references: dict[tuple[int, ...], VolumeBaseline] = {}

    def score(baseline: tuple[int, ...], window: list[int]) -> float:
        if baseline not in references:
            references[baseline] = volume_baseline(
                [series.counts[i] for i in baseline], [weekday_of(series, i) for i in baseline]
            )
        counts = [series.counts[i] for i in window]
        return volume_statistic(references[baseline], counts, [weekday_of(series, i) for i in window])

    return _scan(
        key, "volume", series, score, today=today, baseline_days=baseline_days, recent_days=recent_days,
        episode_days=episode_days, min_count=min_count, skip_days=skip_days,
    )  # fmt: skip


def weekday_of(series: Series, index: int) -> int:
    """Day of the week (0 = Monday) of a daily period; 0 for longer periods (no weekly rhythm to model)."""
    return series.period_start(index).weekday() if series.period_days == 1 else 0


# ---------------------------------------------------------------- alerts


@dataclass(frozen=True, slots=True)
class Alert:
    """A key whose rate or volume is rising beyond its normal variation, with the figures behind it.

    ``baseline`` and ``recent`` are shares for ``rate`` and counts per period for ``volume``; ``ratio`` is
    ``recent / baseline``; ``p_value`` is the key's p-value (already corrected for the windows scanned);
    ``evidence`` holds the per-period figures for a chart (JSON-ready)."""

    key: str
    signal: Signal
    started_on: date
    baseline: float
    recent: float
    ratio: float
    p_value: float
    statistic: float
    severity: Severity
    evidence: dict[str, Any] = field(hash=False, compare=False)
    message_zh: str
    message_en: str
    dedupe_key: str


def dedupe_key(key: str, signal: str, started_on: date) -> str:
    """``key|signal|YYYY-MM-DD``: one alert episode of one key and signal."""
    return f"{key}|{signal}|{started_on.isoformat()}"


def parse_dedupe_key(text: str) -> tuple[str, str, date]:
    """``(key, signal, started_on)`` from :func:`dedupe_key` (keys may contain ``|``)."""
    key, signal, started = text.rsplit("|", 2)
    return key, signal, date.fromisoformat(started)


def new_alerts(
    previous_keys: Iterable[str], alerts: Iterable[Alert], *, tolerance_days: int = 7
) -> list[Alert]:
    """The alerts that are not a continuation of an episode already alerted.

    ``previous_keys`` are the ``dedupe_key`` of every alert of the previous run(s), new or not. An alert
    continues an episode when a previous key has the same key and signal and a start at most
    ``tolerance_days`` away: the estimated start of a running episode moves a little from day to day (and
    with the recent window, when the rise began before it), so exact key equality alone would re-alert.
    """
    known: dict[tuple[str, str], list[date]] = {}
    for text in previous_keys:
        key, signal, started = parse_dedupe_key(text)
        known.setdefault((key, signal), []).append(started)
    fresh = []
    for alert in alerts:
        starts = known.get((alert.key, alert.signal), [])
        if not any(abs((alert.started_on - start).days) <= tolerance_days for start in starts):
            fresh.append(alert)
    return fresh


def severity_of(ratio: float) -> Severity:
    """``high`` at twice the baseline or more, ``medium`` from 1.5×, else ``low``."""
    if ratio >= 2.0:
        return "high"
    if ratio >= 1.5:
        return "medium"
    return "low"


def alert_from(
    finding: Finding, series: Series, *, what_zh: str = "投诉", what_en: str = "complaint"
) -> Alert:
    """The :class:`Alert` for a finding that passed the decision across keys, with evidence and messages."""
    window = finding.window_periods
    first_shown = min(finding.baseline_periods, default=finding.first)
    periods = list(range(first_shown, finding.last + 1))  # contiguous for the chart, skipped days included
    started_on = series.period_start(finding.first)
    days = len(window) * series.period_days
    count = sum(series.counts[i] for i in window)
    evidence: dict[str, Any] = {
        "periods": [series.period_start(i).isoformat() for i in periods],
        "counts": [series.counts[i] for i in periods],
        "baseline_periods": [series.period_start(i).isoformat() for i in finding.baseline_periods],
        "window": [
            series.period_start(finding.first).isoformat(),
            series.period_start(finding.last).isoformat(),
        ],
        "period_days": series.period_days,
        "statistic": finding.statistic,
        "p_value": finding.p_value,
    }
    baseline_counts = [series.counts[i] for i in finding.baseline_periods]
    if finding.signal == "rate":
        assert series.totals is not None
        totals = series.totals
        reference = rate_baseline(baseline_counts, [totals[i] for i in finding.baseline_periods])
        items = sum(totals[i] for i in window)
        baseline, recent = reference.share, count / items
        evidence |= {
            "totals": [totals[i] for i in periods],
            "baseline_share": reference.share,
            "between_period_variance": reference.between_variance,
            "window_count": count,
            "window_items": items,
        }
        ratio = recent / baseline
        message_zh = (
            f"{finding.key}：{what_zh}率上升。自 {started_on} 起 {days} 天为 {recent:.1%}"
            f"（{count}/{items}），基线 {baseline:.1%}，为基线的 {ratio:.1f} 倍；"
            f"严重程度：{SEVERITY_ZH[severity_of(ratio)]}。"
        )
        message_en = (
            f"{finding.key}: {what_en} rate rising — {recent:.1%} ({count}/{items}) over {days} days since "
            f"{started_on} vs {baseline:.1%} baseline ({ratio:.1f}×); severity: {severity_of(ratio)}."
        )
    else:
        reference_volume = volume_baseline(
            baseline_counts, [weekday_of(series, i) for i in finding.baseline_periods]
        )

        def expected_at(index: int) -> float:
            return reference_volume.expected[reference_volume.slot(weekday_of(series, index))]

        expected = sum(expected_at(i) for i in window)
        baseline, recent = expected / len(window), count / len(window)
        ratio = recent / baseline
        evidence |= {
            "expected": [expected_at(i) for i in periods],
            "dispersion": reference_volume.dispersion,
            "window_count": count,
            "window_expected": expected,
        }
        message_zh = (
            f"{finding.key}：{what_zh}量上升。自 {started_on} 起 {days} 天共 {count} 条，"
            f"预期约 {expected:.0f} 条，为预期的 {ratio:.1f} 倍；"
            f"严重程度：{SEVERITY_ZH[severity_of(ratio)]}。"
        )
        message_en = (
            f"{finding.key}: {what_en} volume rising — {count} over {days} days since {started_on}, "
            f"about {expected:.0f} expected ({ratio:.1f}×); severity: {severity_of(ratio)}."
        )
    return Alert(
        key=finding.key,
        signal=finding.signal,
        started_on=started_on,
        baseline=baseline,
        recent=recent,
        ratio=ratio,
        p_value=finding.p_value,
        statistic=finding.statistic,
        severity=severity_of(ratio),
        evidence=evidence,
        message_zh=message_zh,
        message_en=message_en,
        dedupe_key=dedupe_key(finding.key, finding.signal, started_on),
    )


def detect(
    series: Mapping[str, Series],
    *,
    today: date,
    baseline_days: int = 28,
    recent_days: int = 7,
    episode_days: int = 28,
    alpha: float = 0.01,
    min_count: int = 10,
    skip_days: Collection[date] = (),
    what_zh: str = "投诉",
    what_en: str = "complaint",
) -> list[Alert]:
    """Alerts for every key and signal rising beyond normal variation, most significant first.

    Each key is scanned for a rate rise (when it has totals) and a volume rise; Benjamini–Hochberg at
    ``alpha`` across all the tests decides. ``what_zh`` / ``what_en`` name the counted property in the
    messages (投诉/complaint, 差评/negative review …).
    """
    findings: list[Finding] = []
    for key, one in series.items():
        for scan in (scan_rate, scan_volume):
            finding = scan(
                key,
                one,
                today=today,
                baseline_days=baseline_days,
                recent_days=recent_days,
                episode_days=episode_days,
                min_count=min_count,
                skip_days=skip_days,
            )
            if finding is not None:
                findings.append(finding)
    decisions = benjamini_hochberg([finding.p_value for finding in findings], alpha)
    alerts = [
        alert_from(finding, series[finding.key], what_zh=what_zh, what_en=what_en)
        for finding, rejected in zip(findings, decisions, strict=True)
        if rejected
    ]
    return sorted(alerts, key=lambda alert: (alert.p_value, -alert.statistic, alert.key, alert.signal))
