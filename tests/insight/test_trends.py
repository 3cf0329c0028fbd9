"""Trend alerts on synthetic series: quiet on noise (over-dispersed, strong weekday rhythm), loud on a
planted rise or a one-day spike, de-duplicated from one day's run to the next, silent on too few items.

Every series is drawn from a seeded generator, so each run sees the same numbers.
"""

from __future__ import annotations

import json
import math
from datetime import date, timedelta

import numpy as np
import pytest

from closeloop.insight.trends import (
    Alert,
    Series,
    benjamini_hochberg,
    daily_series,
    dedupe_key,
    detect,
    negative_binomial_dispersion,
    new_alerts,
    normal_equivalent,
    parse_dedupe_key,
    rate_baseline,
    satterthwaite_freedom,
    scan_rate,
    scan_volume,
    upper_tail,
    volume_baseline,
)

START = date(2024, 9, 2)  # a Monday
DAYS = 42
TODAY = START + timedelta(days=DAYS)  # the run date; the series ends the day before
# A strong weekly rhythm, as on Chinese shops: weekends bring 1.5× the feedback of a Monday.
WEEKDAY_RHYTHM = (0.8, 0.8, 0.9, 0.9, 1.0, 1.4, 1.6)


def feedback_series(
    rng: np.random.Generator,
    *,
    items_per_day: float,
    share: float,
    day_noise: float = 20.0,
    share_noise: float = 200.0,
    rise_on: int | None = None,
    share_after: float | None = None,
    volume_after: float = 1.0,
    spike_on: int | None = None,
    spike: float = 1.0,
    days: int = DAYS,
) -> Series:
    """Daily complaints and items of one key: Poisson items around a weekday rhythm times gamma day noise
    (shape ``day_noise``: smaller is noisier), complaints binomial with a beta-distributed daily share
    (concentration ``share_noise``), optionally a rise from day ``rise_on`` and a spike on ``spike_on``."""
    rhythm = np.array([WEEKDAY_RHYTHM[(START + timedelta(days=day)).weekday()] for day in range(days)])
    volume = np.ones(days)
    shares = np.full(days, share)
    if rise_on is not None:
        volume[rise_on:] *= volume_after
        if share_after is not None:
            shares[rise_on:] = share_after
    if spike_on is not None:
        volume[spike_on] *= spike
    items = rng.poisson(items_per_day * rhythm * volume * rng.gamma(day_noise, 1 / day_noise, days))
    daily_shares = rng.beta(shares * share_noise, (1 - shares) * share_noise)
    complaints = rng.binomial(items, daily_shares)
    return Series(start=START, counts=tuple(complaints), totals=tuple(items))


def noisy_keys(seed: int, count: int = 200, *, days: int = DAYS) -> dict[str, Series]:
    """``count`` keys with no change at all: varied volumes, shares and over-dispersion."""
    rng = np.random.default_rng(seed)
    return {
        f"product:SKU-{number}": feedback_series(
            rng,
            items_per_day=float(rng.uniform(20, 400)),
            share=float(rng.uniform(0.03, 0.2)),
            day_noise=float(rng.choice([5.0, 20.0, 100.0])),
            share_noise=float(rng.choice([50.0, 200.0, 2000.0])),
            days=days,
        )
        for number in range(count)
    }


def day_index(day: date) -> int:
    return (day - START).days


# ---------------------------------------------------------------- quiet on noise


def test_noise_across_200_keys_and_a_week_of_runs_raises_at_most_one_alert():
    # Under "nothing rises", BH at alpha bounds P(any alert in one run) by ~alpha = 0.01, so 7 daily runs
    # over 200 keys (2,800 tests) expect at most ~0.07 false alerts; one is allowed for the approximation.
    series = noisy_keys(seed=11)
    alerts = [alert for back in range(7) for alert in detect(series, today=TODAY - timedelta(days=back))]
    assert len(alerts) <= 1, [alert.message_en for alert in alerts]


def test_strongly_over_dispersed_noise_stays_quiet():
    # Day-to-day CV ~45% on volume and a share that wobbles (beta concentration 50): with a normal tail the
    # detector alerted in about a fifth of such runs; the t tail (Satterthwaite degrees of freedom of the
    # estimated dispersion) brings it near alpha.
    rng = np.random.default_rng(5)
    series = {
        f"product:SKU-{number}": feedback_series(
            rng, items_per_day=float(rng.uniform(50, 400)), share=0.1, day_noise=5.0, share_noise=50.0
        )
        for number in range(100)
    }
    alerts = [alert for back in range(5) for alert in detect(series, today=TODAY - timedelta(days=back))]
    assert len(alerts) <= 1, [alert.message_en for alert in alerts]


def test_noise_p_values_are_not_degenerate():
    # Quiet because the p-values are honest, not because they never get small: about the nominal share of
    # noise keys falls below 0.1 (the Bonferroni factor and the log scale make it somewhat fewer).
    series = noisy_keys(seed=12)
    rate = [scan_rate(key, one, today=TODAY) for key, one in series.items()]
    volume = [scan_volume(key, one, today=TODAY) for key, one in series.items()]
    p_values = [finding.p_value for finding in rate + volume if finding is not None]
    below = sum(p < 0.1 for p in p_values) / len(p_values)
    assert len(p_values) == 400
    assert 0.003 < below < 0.15


# ---------------------------------------------------------------- loud on a rise


@pytest.mark.parametrize("days_before_today", [7, 5, 3])
def test_a_planted_complaint_rate_rise_is_flagged_with_its_start(days_before_today):
    rng = np.random.default_rng(100 + days_before_today)
    rise_on = DAYS - days_before_today
    series = noisy_keys(seed=13)
    series["category:packaging"] = feedback_series(
        rng, items_per_day=200, share=0.08, rise_on=rise_on, share_after=0.20
    )
    alerts = detect(series, today=TODAY)
    packaging = [alert for alert in alerts if alert.key == "category:packaging" and alert.signal == "rate"]
    assert len(packaging) == 1
    alert = packaging[0]
    assert abs(day_index(alert.started_on) - rise_on) <= 2
    assert 0.06 < alert.baseline < 0.10
    assert 0.16 < alert.recent < 0.25
    assert alert.ratio == pytest.approx(alert.recent / alert.baseline)
    assert alert.p_value < 0.01
    assert alert.severity in {"high", "medium"}
    assert "投诉率上升" in alert.message_zh and "complaint rate rising" in alert.message_en
    assert alert.dedupe_key == f"category:packaging|rate|{alert.started_on.isoformat()}"
    # BH controls the false *share*: beside two true alerts (rate, volume), one borderline noise key
    # (p ≈ 6e-5) may pass at rank 3; more would be a failure.
    assert len({a.key for a in alerts if a.key != "category:packaging"}) <= 1


def test_a_rise_that_began_three_weeks_ago_is_measured_against_the_weeks_before_it():
    # Like the demo's packaging story: the rise is older than the recent week, so a baseline of the four
    # weeks before the last week would already contain it.
    days = 70
    rng = np.random.default_rng(111)
    rise_on = days - 20
    one = feedback_series(
        rng, items_per_day=200, share=0.04, share_noise=1000.0, rise_on=rise_on, share_after=0.10, days=days
    )
    alerts = detect({"category:packaging": one}, today=START + timedelta(days=days))
    rate = [alert for alert in alerts if alert.signal == "rate"]
    assert len(rate) == 1
    assert abs(day_index(rate[0].started_on) - rise_on) <= 2
    assert rate[0].baseline < 0.06


def test_a_rise_that_has_ended_is_not_news():
    days = 70
    rng = np.random.default_rng(112)
    one = feedback_series(rng, items_per_day=200, share=0.08, rise_on=days - 20, share_after=0.20, days=days)
    ended = Series(
        start=one.start,
        counts=one.counts[: days - 10] + tuple(round(0.08 * n) for n in one.totals[days - 10 :]),
        totals=one.totals,
    )  # the share went back to 8% ten days ago
    assert detect({"category:packaging": one}, today=START + timedelta(days=days)) != []
    rate = scan_rate("category:packaging", ended, today=START + timedelta(days=days))
    assert rate is None or rate.p_value > 0.01


def test_doubled_volume_at_an_unchanged_share_is_a_volume_alert_only():
    rng = np.random.default_rng(21)
    rise_on = DAYS - 7
    series = noisy_keys(seed=14)
    series["product:ZY-KT10"] = feedback_series(
        rng, items_per_day=400, share=0.10, day_noise=50.0, rise_on=rise_on, volume_after=2.0
    )
    alerts = [alert for alert in detect(series, today=TODAY) if alert.key == "product:ZY-KT10"]
    assert [alert.signal for alert in alerts] == ["volume"]
    assert abs(day_index(alerts[0].started_on) - rise_on) <= 2
    assert 1.6 < alerts[0].ratio < 2.5
    assert "投诉量上升" in alerts[0].message_zh


def test_a_one_day_spike_like_11_11_is_a_volume_alert_not_a_rate_alert():
    rng = np.random.default_rng(31)
    spike_on = DAYS - 1  # 11.11 was yesterday
    series = noisy_keys(seed=15)
    series["category:delivery"] = feedback_series(
        rng, items_per_day=300, share=0.10, day_noise=50.0, spike_on=spike_on, spike=6.0
    )
    alerts = [alert for alert in detect(series, today=TODAY) if alert.key == "category:delivery"]
    assert [alert.signal for alert in alerts] == ["volume"]
    assert day_index(alerts[0].started_on) == spike_on
    assert alerts[0].evidence["window"] == [alerts[0].started_on.isoformat()] * 2


def test_a_spike_day_left_out_of_the_baseline_does_not_mute_the_next_weeks():
    # 11.11 three weeks ago inflates the baseline's over-dispersion unless it is skipped.
    rng = np.random.default_rng(41)
    spike_on, rise_on = DAYS - 21, DAYS - 7
    spike_day = START + timedelta(days=spike_on)
    one = feedback_series(
        rng, items_per_day=300, share=0.10, day_noise=50.0, spike_on=spike_on, spike=8.0,
        rise_on=rise_on, volume_after=2.5,
    )  # fmt: skip
    with_spike = scan_volume("k", one, today=TODAY)
    without_spike = scan_volume("k", one, today=TODAY, skip_days={spike_day})
    assert with_spike is not None and without_spike is not None
    assert without_spike.p_value < with_spike.p_value
    assert with_spike.p_value > 10 * without_spike.p_value  # the spike in the baseline mutes the rise
    assert without_spike.p_value < 1e-3  # t tail: the dispersion comes from 27 baseline days


# ---------------------------------------------------------------- de-duplication


def test_running_daily_does_not_alert_again_while_the_episode_continues():
    rng = np.random.default_rng(51)
    rise_on = DAYS - 12
    series = noisy_keys(seed=16, count=50)
    series["category:packaging"] = feedback_series(
        rng, items_per_day=200, share=0.08, rise_on=rise_on, share_after=0.22
    )
    runs = [detect(series, today=START + timedelta(days=day)) for day in range(rise_on + 2, rise_on + 10)]
    previous: list[str] = []
    sent: list[Alert] = []
    for alerts in runs:
        sent += new_alerts(previous, alerts)
        previous = [alert.dedupe_key for alert in alerts]
    packaging_runs = sum(any(a.key == "category:packaging" for a in alerts) for alerts in runs)
    assert packaging_runs >= 6  # it alerted on most of 8 days …
    assert [(alert.key, alert.signal) for alert in sent if alert.key == "category:packaging"].count(
        ("category:packaging", "rate")
    ) == 1  # … and was sent once


def test_new_alerts_keeps_a_new_episode_and_a_new_signal():
    alert = _alert("category:packaging", "rate", date(2024, 11, 5))
    same_episode = [dedupe_key("category:packaging", "rate", date(2024, 11, 3))]
    old_episode = [dedupe_key("category:packaging", "rate", date(2024, 9, 1))]
    other_signal = [dedupe_key("category:packaging", "volume", date(2024, 11, 5))]
    assert new_alerts(same_episode, [alert]) == []
    assert new_alerts(old_episode, [alert]) == [alert]
    assert new_alerts(other_signal, [alert]) == [alert]
    assert new_alerts([], [alert]) == [alert]


def test_dedupe_keys_round_trip_even_when_the_key_holds_a_bar():
    text = dedupe_key("topic:a|b", "volume", date(2024, 11, 11))
    assert parse_dedupe_key(text) == ("topic:a|b", "volume", date(2024, 11, 11))


# ---------------------------------------------------------------- too little to say


def test_too_few_items_never_alert_even_when_the_share_jumps():
    rng = np.random.default_rng(61)
    rise_on = DAYS - 7
    tiny = feedback_series(rng, items_per_day=1.0, share=0.1, rise_on=rise_on, share_after=0.6)
    assert sum(tiny.counts[rise_on:]) < 10
    assert detect({"product:rare": tiny}, today=TODAY) == []


def test_a_key_without_enough_history_is_not_tested():
    rng = np.random.default_rng(62)
    short = feedback_series(rng, items_per_day=300, share=0.1, days=DAYS)
    new = Series(
        start=START + timedelta(days=DAYS - 10), counts=short.counts[-10:], totals=short.totals[-10:]
    )
    assert scan_rate("product:new", new, today=TODAY) is None
    assert scan_volume("product:new", new, today=TODAY) is None


def test_volume_only_series_are_scanned_for_volume_alone():
    rng = np.random.default_rng(63)
    one = feedback_series(rng, items_per_day=300, share=0.1)
    counts_only = Series(start=one.start, counts=one.counts)
    assert scan_rate("k", counts_only, today=TODAY) is None
    assert scan_volume("k", counts_only, today=TODAY) is not None


# ---------------------------------------------------------------- building blocks


@pytest.mark.parametrize(
    ("p_values", "rejected"),
    [
        ([0.001, 0.2, 0.04], [True, False, False]),  # 0.04 > 0.05·2/3
        ([0.01, 0.02, 0.03], [True, True, True]),  # step-up: the largest passes, so all do
        ([0.5, 0.6], [False, False]),
        ([], []),
    ],
)
def test_benjamini_hochberg(p_values, rejected):
    assert benjamini_hochberg(p_values, 0.05) == rejected


def test_an_estimated_variance_gets_a_heavier_t_tail():
    stats = pytest.importorskip("scipy.stats")
    assert satterthwaite_freedom(10.0, 0.0, 20) == math.inf  # nothing estimated: normal
    assert satterthwaite_freedom(10.0, 10.0, 20) == pytest.approx(20.0)  # all estimated: its own freedom
    assert satterthwaite_freedom(10.0, 5.0, 20) == pytest.approx(80.0)  # half: more freedom
    assert normal_equivalent(4.0, math.inf) == 4.0
    equivalent = normal_equivalent(4.0, 20.0)
    assert equivalent < 4.0
    assert upper_tail(equivalent) == pytest.approx(stats.t.sf(4.0, 20), rel=1e-6)
    assert normal_equivalent(-1.0, 20.0) == -1.0  # falls are never tested


def test_upper_tail_matches_the_normal_distribution():
    assert upper_tail(0.0) == pytest.approx(0.5)
    assert upper_tail(1.959964) == pytest.approx(0.025, rel=1e-5)
    assert upper_tail(-1.959964) == pytest.approx(0.975, rel=1e-5)


def test_a_constant_share_has_no_between_day_variance_and_a_wobbly_one_has_some():
    steady = rate_baseline([10] * 28, [100] * 28)
    wobbly = rate_baseline([2, 18] * 14, [100] * 28)
    assert steady.share == pytest.approx(280.5 / 2801)
    assert steady.between_variance == 0.0
    assert wobbly.between_variance == pytest.approx(0.0064 - 0.09 / 100, rel=0.1)


def test_dispersion_is_zero_for_poisson_counts_and_recovers_a_negative_binomial_one():
    rng = np.random.default_rng(71)
    poisson = rng.poisson(50, 2000)
    assert negative_binomial_dispersion(list(poisson), [50.0] * 2000, parameters=1) < 0.003
    alpha = 0.1
    overdispersed = rng.poisson(50 * rng.gamma(1 / alpha, alpha, 2000))
    assert negative_binomial_dispersion(list(overdispersed), [50.0] * 2000, parameters=1) == pytest.approx(
        alpha, rel=0.2
    )


def test_volume_baseline_follows_the_weekday_rhythm():
    weekdays = [day % 7 for day in range(28)]
    counts = [int(20 * WEEKDAY_RHYTHM[day]) for day in weekdays]
    baseline = volume_baseline(counts, weekdays)
    assert len(baseline.expected) == 7
    assert baseline.expected[6] > 1.8 * baseline.expected[0]
    assert baseline.dispersion == 0.0
    assert len(volume_baseline(counts[:10], weekdays[:10]).expected) == 1  # too short for a rhythm


def test_evidence_is_json_ready_and_covers_baseline_and_recent_days():
    rng = np.random.default_rng(81)
    one = feedback_series(rng, items_per_day=300, share=0.08, rise_on=DAYS - 7, share_after=0.25)
    alerts = detect({"category:packaging": one}, today=TODAY)
    assert {alert.signal for alert in alerts} >= {"rate"}
    for alert in alerts:
        evidence = json.loads(json.dumps(alert.evidence))
        assert len(evidence["periods"]) == len(evidence["counts"]) == 35
        assert evidence["periods"][-1] == (TODAY - timedelta(days=1)).isoformat()
        assert math.isfinite(evidence["statistic"])


def test_daily_series_fills_missing_days_with_zero():
    series = daily_series({date(2024, 11, 1): (2, 10), date(2024, 11, 3): (1, 4)}, start=date(2024, 11, 1),
                          end=date(2024, 11, 3))  # fmt: skip
    assert series.counts == (2, 0, 1)
    assert series.totals == (10, 0, 4)


@pytest.mark.parametrize(
    ("counts", "totals", "period_days"),
    [((1, -1), None, 1), ((1, 2), (1,), 1), ((3,), (2,), 1), ((1,), None, 0)],
)
def test_series_refuses_impossible_counts(counts, totals, period_days):
    with pytest.raises(ValueError):
        Series(start=START, counts=counts, totals=totals, period_days=period_days)


def test_weekly_series_work_with_longer_windows():
    rng = np.random.default_rng(91)
    weekly = [int(x) for x in rng.poisson(70, 20)] + [150]
    series = Series(start=START, counts=tuple(weekly), period_days=7)
    today = START + timedelta(days=7 * len(weekly))
    alerts = detect({"category:packaging": series}, today=today, baseline_days=7 * 12, recent_days=7)
    assert [alert.signal for alert in alerts] == ["volume"]
    assert alerts[0].started_on == START + timedelta(days=7 * 20)


def _alert(key: str, signal: str, started_on: date) -> Alert:
    return Alert(
        key=key,
        signal=signal,  # type: ignore[arg-type]
        started_on=started_on,
        baseline=0.08,
        recent=0.2,
        ratio=2.5,
        p_value=1e-6,
        statistic=6.0,
        severity="high",
        evidence={},
        message_zh="",
        message_en="",
        dedupe_key=dedupe_key(key, signal, started_on),
    )
