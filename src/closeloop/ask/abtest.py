"""A/B tests of survey variants: sticky assignment, rates with confidence intervals, significance, a decision.

- Assignment hashes ``experiment id + customer key`` with SHA-256 to a point in [0, 1) and walks the
  cumulative weights, so a customer always gets the same variant for the same experiment and weights
  hold across customers. Changing the variants or weights mid-experiment moves some customers: store the
  assignment at the first invitation and reuse it.
- A rate is ``successes / trials``: responses / invitations sent for the response rate, completed /
  started for the completion rate. Intervals are Wilson score intervals (95 % by default).
- Each variant is tested against the control (the first variant unless named) with a two-proportion
  z-test, or Fisher's exact test when an expected cell count is below 5. With more than one challenger
  the p-values are Bonferroni-adjusted (multiplied by the number of comparisons, capped at 1).
- ``compare_variants`` says "no winner yet" until every variant has ``min_trials`` trials and an
  adjusted p-value is below ``alpha``. Rates are fractions (0–1) here, unlike the % in ``scores``.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import comb
from statistics import NormalDist
from typing import Literal

Weights = Mapping[str, float] | Sequence[tuple[str, float]]


def assignment_point(experiment_id: str, customer_key: str) -> float:
    """The customer's fixed point in [0, 1) for this experiment (SHA-256 of both, first 8 bytes)."""
    digest = hashlib.sha256(f"{experiment_id}\x1f{customer_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def assign_variant(experiment_id: str, customer_key: str, variants: Weights) -> str:
    """The variant this customer gets, sticky and in proportion to the weights (0 weight = never)."""
    pairs = list(variants.items()) if isinstance(variants, Mapping) else list(variants)
    if any(weight < 0 or math.isnan(weight) for _, weight in pairs):
        raise ValueError("variant weights cannot be negative")
    active = [(name, float(weight)) for name, weight in pairs if weight > 0]
    if not active:
        raise ValueError("at least one variant needs a weight above 0")
    threshold = assignment_point(experiment_id, customer_key) * sum(weight for _, weight in active)
    cumulative = 0.0
    for name, weight in active:
        cumulative += weight
        if threshold < cumulative:
            return name
    return active[-1][0]  # only reachable through float rounding at the very top


@dataclass(frozen=True, slots=True)
class VariantRate:
    """A variant's rate with its confidence interval."""

    variant: str
    successes: int
    trials: int
    rate: float | None
    ci_low: float
    ci_high: float


@dataclass(frozen=True, slots=True)
class PairTest:
    """One challenger against the control."""

    variant: str
    control: str
    test: Literal["z", "fisher"]
    difference: float  # challenger rate − control rate
    p_value: float
    adjusted_p_value: float


@dataclass(frozen=True, slots=True)
class Comparison:
    """The decision: a winner or None ("no winner yet"), the p-value behind it, and why, in en and zh."""

    winner: str | None
    p_value: float | None
    reason: str
    reason_zh: str
    rates: list[VariantRate]
    tests: list[PairTest]


def _check_counts(successes: int, trials: int) -> None:
    if trials < 0 or successes < 0 or successes > trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes}/{trials}")


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion; (0, 1) when there are no trials."""
    _check_counts(successes, trials)
    if trials == 0:
        return (0.0, 1.0)
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    share = successes / trials
    denominator = 1 + z * z / trials
    centre = (share + z * z / (2 * trials)) / denominator
    half_width = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials)) / denominator
    low = 0.0 if successes == 0 else max(0.0, centre - half_width)  # exact at the ends, free of rounding
    high = 1.0 if successes == trials else min(1.0, centre + half_width)
    return (low, high)


def variant_rate(variant: str, successes: int, trials: int, confidence: float = 0.95) -> VariantRate:
    """The rate ``successes / trials`` (None without trials) and its Wilson interval."""
    low, high = wilson_interval(successes, trials, confidence)
    rate = successes / trials if trials else None
    return VariantRate(variant, successes, trials, rate, low, high)


def two_proportion_z_test(
    successes_a: int, trials_a: int, successes_b: int, trials_b: int
) -> tuple[float, float]:
    """``(z, two-sided p)`` for rate b − rate a with the pooled standard error; (0, 1) when undefined."""
    _check_counts(successes_a, trials_a)
    _check_counts(successes_b, trials_b)
    if trials_a == 0 or trials_b == 0:
        return (0.0, 1.0)
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    variance = pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b)
    if variance == 0:
        return (0.0, 1.0)
    z = (successes_b / trials_b - successes_a / trials_a) / math.sqrt(variance)
    return (z, math.erfc(abs(z) / math.sqrt(2)))


def fisher_exact(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> float:
    """Two-sided p of Fisher's exact test on the 2×2 table (sum of tables no more likely than the one seen).

    Exact integer arithmetic, so ties are exact; fine for the small counts it is meant for.
    """
    _check_counts(successes_a, trials_a)
    _check_counts(successes_b, trials_b)
    successes = successes_a + successes_b
    lowest, highest = max(0, successes - trials_b), min(trials_a, successes)
    weights = {x: comb(trials_a, x) * comb(trials_b, successes - x) for x in range(lowest, highest + 1)}
    observed = weights[successes_a]
    tail = sum(weight for weight in weights.values() if weight <= observed)
    return min(1.0, tail / comb(trials_a + trials_b, successes))


def _needs_exact_test(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> bool:
    """Any expected cell count below 5, the usual limit of the normal approximation."""
    total = trials_a + trials_b
    if total == 0:
        return False
    successes = successes_a + successes_b
    failures = total - successes
    return any(
        rows * columns / total < 5 for rows in (trials_a, trials_b) for columns in (successes, failures)
    )


def pair_test(
    variant: str,
    counts: tuple[int, int],
    control: str,
    control_counts: tuple[int, int],
    *,
    comparisons: int = 1,
    test: Literal["auto", "z", "fisher"] = "auto",
) -> PairTest:
    """``variant`` against ``control`` (counts are ``(successes, trials)``), p Bonferroni-adjusted."""
    (successes, trials), (control_successes, control_trials) = counts, control_counts
    exact = test == "fisher" or (
        test == "auto" and _needs_exact_test(control_successes, control_trials, successes, trials)
    )
    if exact:
        p_value = fisher_exact(control_successes, control_trials, successes, trials)
    else:
        p_value = two_proportion_z_test(control_successes, control_trials, successes, trials)[1]
    rate = successes / trials if trials else 0.0
    control_rate = control_successes / control_trials if control_trials else 0.0
    return PairTest(
        variant=variant,
        control=control,
        test="fisher" if exact else "z",
        difference=rate - control_rate,
        p_value=p_value,
        adjusted_p_value=min(1.0, p_value * comparisons),
    )


def compare_variants(
    counts: Mapping[str, tuple[int, int]],
    *,
    control: str | None = None,
    alpha: float = 0.05,
    min_trials: int = 100,
    confidence: float = 0.95,
    test: Literal["auto", "z", "fisher"] = "auto",
) -> Comparison:
    """Decide between variants from ``{variant: (successes, trials)}`` (insertion order; control first).

    A challenger wins when its adjusted p < ``alpha`` and its rate is higher than the control's (the
    highest such rate when several do); the control wins when every challenger is significantly worse.
    Otherwise, or while any variant has fewer than ``min_trials`` trials: no winner yet.
    """
    if len(counts) < 2:
        raise ValueError("an A/B comparison needs at least two variants")
    control = control if control is not None else next(iter(counts))
    if control not in counts:
        raise ValueError(f"unknown control variant {control!r}")
    rates = [variant_rate(name, s, n, confidence) for name, (s, n) in counts.items()]
    challengers = [name for name in counts if name != control]
    tests = [
        pair_test(name, counts[name], control, counts[control], comparisons=len(challengers), test=test)
        for name in challengers
    ]
    smallest_p = min(t.adjusted_p_value for t in tests)
    short = [(name, n) for name, (_, n) in counts.items() if n < min_trials]
    if short:
        name, trials = short[0]
        return Comparison(
            None,
            smallest_p,
            f"no winner yet: variant {name!r} has {trials} of the {min_trials} trials needed",
            f"暂无胜出方案：方案 {name!r} 只有 {trials} 个样本，至少需要 {min_trials} 个",
            rates,
            tests,
        )
    better = [t for t in tests if t.adjusted_p_value < alpha and t.difference > 0]
    if better:
        best = max(better, key=lambda t: (t.difference, -t.adjusted_p_value))
        return Comparison(
            best.variant,
            best.adjusted_p_value,
            f"{best.variant!r} beats control {control!r} by {best.difference:+.1%} "
            f"(p={best.adjusted_p_value:.4f} < {alpha})",
            f"方案 {best.variant!r} 比对照组 {control!r} 高 {best.difference:+.1%}"
            f"（p={best.adjusted_p_value:.4f} < {alpha}）",
            rates,
            tests,
        )
    worse = [t for t in tests if t.adjusted_p_value < alpha and t.difference < 0]
    if len(worse) == len(tests):
        weakest = max(t.adjusted_p_value for t in worse)
        return Comparison(
            control,
            weakest,
            f"control {control!r} beats every challenger (largest p={weakest:.4f} < {alpha})",
            f"对照组 {control!r} 优于所有其他方案（最大 p={weakest:.4f} < {alpha}）",
            rates,
            tests,
        )
    return Comparison(
        None,
        smallest_p,
        f"no winner yet: no difference is significant (smallest p={smallest_p:.4f}, alpha={alpha})",
        f"暂无胜出方案：差异不显著（最小 p={smallest_p:.4f}，显著性水平 {alpha}）",
        rates,
        tests,
    )
