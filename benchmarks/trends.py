"""Trend alerts, measured on SYNTHETIC series (and on the synthetic demo data); no real feedback.

    .venv/bin/python benchmarks/trends.py [--part calibration|false-alarms|detection|demo|all] [--seed N]

* calibration: per-key p-values of 2,000 noise keys (no change) per noise level: the share below 0.01,
  0.001 and 1e-4, against those nominal values.
* false-alarms: ``detect`` over 200 noise keys, one run per day for 20 days, twice: alerts per run and
  the share of runs with any alert (Benjamini–Hochberg at alpha bounds it by about alpha).
* detection: one key with a planted rise (rate 8%→20% or 8%→12%, volume ×2 or ×1.5) or a one-day
  spike (×3, ×6) at several daily volumes; the detector runs every day from the day after the rise and
  must beat the threshold alpha / m (m = 400 tests, 200 keys × 2 signals: what Benjamini–Hochberg asks
  of the smallest p-value when only one key rises). Prints detection within 7 and 14 days, the median
  delay (days from the first risen day to the first alert, 1 = the day after) and how often
  ``started_on`` is within ±2 days of the truth.
* demo: series from ``generate_demo()`` built from its answer key (``demo_truth``), not from the analysis
  engine: negative mentions per aspect over all items per day, negative items per SKU; the alerts on the
  last day.

Noise model: items per day Poisson around a weekday rhythm (weekend 1.5–2× Monday) times gamma day noise
(shape 5 = CV 45%, 20 = 22%, 100 = 10%); complaints binomial with a beta daily share (concentration 50,
200, 2000).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np

from closeloop.insight.trends import Series, detect, scan_rate, scan_volume

START = date(2024, 9, 2)  # a Monday
WEEKDAY_RHYTHM = (0.8, 0.8, 0.9, 0.9, 1.0, 1.4, 1.6)
NOISE_LEVELS = {"low": (100.0, 2000.0), "medium": (20.0, 200.0), "high": (5.0, 50.0)}
HISTORY_DAYS = 56  # baseline 28 + episode 28 before the first run
ALPHA = 0.01
TESTS = 400
CHINA_TZ = timezone(timedelta(hours=8))


def feedback_series(
    rng: np.random.Generator,
    days: int,
    *,
    items_per_day: float,
    share: float,
    day_noise: float,
    share_noise: float,
    rise_on: int | None = None,
    share_after: float | None = None,
    volume_after: float = 1.0,
    spike: float = 1.0,
) -> Series:
    """Daily complaints and items of one key (see the module docstring); a step from ``rise_on`` on, or a
    one-day spike on ``rise_on`` when ``spike`` is not 1."""
    rhythm = np.array([WEEKDAY_RHYTHM[(START + timedelta(days=day)).weekday()] for day in range(days)])
    volume = np.ones(days)
    shares = np.full(days, share)
    if rise_on is not None:
        volume[rise_on:] *= volume_after
        volume[rise_on] *= spike
        if share_after is not None:
            shares[rise_on:] = share_after
    items = rng.poisson(items_per_day * rhythm * volume * rng.gamma(day_noise, 1 / day_noise, days))
    daily_shares = rng.beta(shares * share_noise, (1 - shares) * share_noise)
    return Series(start=START, counts=tuple(rng.binomial(items, daily_shares)), totals=tuple(items))


def noise_keys(rng: np.random.Generator, count: int, days: int, level: str) -> dict[str, Series]:
    day_noise, share_noise = NOISE_LEVELS[level]
    return {
        f"product:SKU-{number}": feedback_series(
            rng,
            days,
            items_per_day=float(rng.uniform(20, 400)),
            share=float(rng.uniform(0.03, 0.2)),
            day_noise=day_noise,
            share_noise=share_noise,
        )
        for number in range(count)
    }


def calibration(seed: int) -> None:
    print("== calibration: per-key p-values on 2,000 noise keys (no change), share below each level")
    today = START + timedelta(days=HISTORY_DAYS)
    for level in NOISE_LEVELS:
        rng = np.random.default_rng(seed)
        keys = noise_keys(rng, 2000, HISTORY_DAYS, level)
        for signal, scan in (("rate", scan_rate), ("volume", scan_volume)):
            found = [scan(key, one, today=today) for key, one in keys.items()]
            p_values = np.array([finding.p_value for finding in found if finding is not None])
            shares = "  ".join(f"<{a:g}: {np.mean(p_values < a):.4f}" for a in (0.01, 0.001, 1e-4))
            print(f"  noise {level:6} {signal:6} n={len(p_values):4}  {shares}")


def false_alarms(seed: int, repeats: int = 2) -> None:
    print(f"== false alarms: detect() on 200 noise keys, 20 daily runs × {repeats} draws, alpha={ALPHA}")
    for level in NOISE_LEVELS:
        runs = alerted_runs = alerts = 0
        started = time.perf_counter()
        for repeat in range(repeats):
            rng = np.random.default_rng(seed + repeat)
            keys = noise_keys(rng, 200, HISTORY_DAYS + 20, level)
            for day in range(HISTORY_DAYS, HISTORY_DAYS + 20):
                found = detect(keys, today=START + timedelta(days=day + 1), alpha=ALPHA)
                runs += 1
                alerts += len(found)
                alerted_runs += bool(found)
        seconds = (time.perf_counter() - started) / runs
        print(
            f"  noise {level:6} runs={runs}  alerts={alerts}  runs with any alert={alerted_runs / runs:.3f}"
            f"  ({seconds * 1000:.0f} ms per run of 200 keys)"
        )


SCENARIOS = {
    "rate 8%→20%": {"share_after": 0.20},
    "rate 8%→12%": {"share_after": 0.12},
    "volume ×2": {"volume_after": 2.0},
    "volume ×1.5": {"volume_after": 1.5},
    "spike ×3 (1 day)": {"spike": 3.0},
    "spike ×6 (1 day)": {"spike": 6.0},
}


def first_alert(one: Series, rise_on: int, signal: str, horizon: int) -> tuple[int | None, int | None]:
    """Days after the rise to the first alert of ``signal`` (1 = run the day after), and its start error."""
    scan = scan_rate if signal == "rate" else scan_volume
    for delay in range(1, horizon + 1):
        finding = scan("k", one, today=START + timedelta(days=rise_on + delay))
        if finding is not None and finding.p_value <= ALPHA / TESTS:
            return delay, finding.first - rise_on
    return None, None


def detection(seed: int, trials: int = 50) -> None:
    print(f"== detection: planted change, {trials} draws each, threshold alpha/m = {ALPHA}/{TESTS}")
    print("  scenario            items/day noise   ≤7 days  ≤14 days  median delay  start ±2  other signal")
    for name, change in SCENARIOS.items():
        signal = "rate" if "rate" in name else "volume"
        other = "volume" if signal == "rate" else "rate"
        horizon = 1 if "spike" in name else 14
        for items_per_day in (50, 100, 200, 400):
            for level in ("low", "medium"):
                day_noise, share_noise = NOISE_LEVELS[level]
                rng = np.random.default_rng(seed)
                delays, errors, others = [], [], 0
                for _ in range(trials):
                    one = feedback_series(
                        rng,
                        HISTORY_DAYS + horizon,
                        items_per_day=items_per_day,
                        share=0.08,
                        day_noise=day_noise,
                        share_noise=share_noise,
                        rise_on=HISTORY_DAYS,
                        **change,
                    )
                    delay, error = first_alert(one, HISTORY_DAYS, signal, horizon)
                    delays.append(delay)
                    if error is not None:
                        errors.append(error)
                    others += first_alert(one, HISTORY_DAYS, other, horizon)[0] is not None
                found = [delay for delay in delays if delay is not None]
                within7 = sum(delay <= 7 for delay in found) / trials
                within14 = len(found) / trials
                median = f"{statistics.median(found):.0f}" if found else "-"
                start_ok = f"{np.mean([abs(e) <= 2 for e in errors]):.2f}" if errors else "-"
                print(
                    f"  {name:18}  {items_per_day:9} {level:6}  {within7:7.2f}  {within14:8.2f}"
                    f"  {median:>12}  {start_ok:>8}  {others / trials:12.2f}"
                )


def demo(seed: int) -> None:
    from closeloop.demo.generate import generate_demo

    now = datetime(2024, 11, 20, tzinfo=UTC)
    data = generate_demo(now=now, seed=seed)
    by_key: dict[str, dict[date, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    all_items: dict[date, int] = defaultdict(int)
    for record in data.feedback:
        day = record.created_at.astimezone(CHINA_TZ).date()
        all_items[day] += 1
        truth = record.metadata.get("demo_truth", {})
        for aspect, polarity in truth.get("aspects", {}).items():
            by_key[f"category:{aspect}"][day][0] += polarity == "negative"
        sku = record.metadata.get("sku")
        if sku:
            cell = by_key[f"product:{sku}"][day]
            cell[0] += truth.get("sentiment") == "negative"
            cell[1] += 1
    first, today = min(all_items), now.astimezone(CHINA_TZ).date()
    days = [first + timedelta(days=offset) for offset in range((today - first).days)]
    series = {}
    for key, cells in by_key.items():
        use_all = key.startswith("category:")  # share of all feedback that complains about the aspect
        counts = tuple(cells[day][0] if day in cells else 0 for day in days)
        totals = tuple(all_items[day] if use_all else (cells[day][1] if day in cells else 0) for day in days)
        series[key] = Series(start=first, counts=counts, totals=totals)
    print(f"== demo: generate_demo(now={now.date()}, seed={seed}), {len(series)} keys, run on {today}")
    for alert in detect(series, today=today, alpha=ALPHA):
        print(f"  {alert.severity:6} p={alert.p_value:.1e}  {alert.message_en}")
        print(f"         {alert.message_zh}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--part", default="all", choices=["calibration", "false-alarms", "detection", "demo", "all"]
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print("SYNTHETIC series only (generated here); no real feedback is read.")
    if args.part in ("calibration", "all"):
        calibration(args.seed)
    if args.part in ("false-alarms", "all"):
        false_alarms(args.seed)
    if args.part in ("detection", "all"):
        detection(args.seed)
    if args.part in ("demo", "all"):
        demo(args.seed)


if __name__ == "__main__":
    main()
