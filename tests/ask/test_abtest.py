"""A/B tests: sticky weighted assignment, Wilson intervals, z and Fisher tests, the winner decision."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from closeloop.ask.abtest import (
    assign_variant,
    compare_variants,
    fisher_exact,
    two_proportion_z_test,
    variant_rate,
    wilson_interval,
)

KEYS = [f"customer-{number}" for number in range(10_000)]


def test_assignment_is_sticky_and_deterministic():
    weights = {"long": 1, "short": 1}
    first = [assign_variant("exp-1", key, weights) for key in KEYS[:200]]
    assert first == [assign_variant("exp-1", key, weights) for key in KEYS[:200]]
    assert assign_variant("exp-1", "c-42", [("long", 1), ("short", 1)]) == assign_variant(
        "exp-1", "c-42", weights
    )
    # another experiment reshuffles: about half the customers land in the same-named variant
    other = [assign_variant("exp-2", key, weights) for key in KEYS[:2000]]
    same = sum(
        a == b for a, b in zip(other, [assign_variant("exp-1", k, weights) for k in KEYS[:2000]], strict=True)
    )
    assert 800 < same < 1200


def test_weights_are_respected_over_ten_thousand_customers():
    # Deterministic (fixed keys, SHA-256), so it cannot flake; the tolerance is ±6 standard deviations.
    counts = Counter(assign_variant("exp-w", key, {"a": 2, "b": 1, "c": 1}) for key in KEYS)
    for name, share in (("a", 0.5), ("b", 0.25), ("c", 0.25)):
        sd = math.sqrt(10_000 * share * (1 - share))  # 50 for a, 43.3 for b and c
        assert abs(counts[name] - 10_000 * share) < 6 * sd, counts
    halves = Counter(assign_variant("exp-h", key, {"a": 1, "b": 1}) for key in KEYS)
    assert abs(halves["a"] - 5000) < 300


def test_zero_weight_disables_a_variant_and_bad_weights_are_refused():
    assert {assign_variant("e", key, {"a": 1, "off": 0}) for key in KEYS[:500]} == {"a"}
    with pytest.raises(ValueError):
        assign_variant("e", "k", {"a": 0})
    with pytest.raises(ValueError):
        assign_variant("e", "k", {"a": -1, "b": 2})


def test_wilson_interval_by_hand():
    # 30/100, z = 1.96: centre = (0.3 + 1.96²/200) / (1 + 1.96²/100) = 0.319208 / 1.038416 = 0.307399
    # half = 1.96 * sqrt(0.3*0.7/100 + 1.96²/40000) / 1.038416 = 1.96 * 0.046862 / 1.038416 = 0.088451
    low, high = wilson_interval(30, 100)
    assert (low, high) == (pytest.approx(0.21895, abs=1e-4), pytest.approx(0.39585, abs=1e-4))
    # 45/100: centre = 0.469208 / 1.038416 = 0.451850; half = 1.96 * 0.050706 / 1.038416 = 0.095706
    assert wilson_interval(45, 100) == (pytest.approx(0.35614, abs=1e-4), pytest.approx(0.54756, abs=1e-4))
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    rate = variant_rate("b", 45, 100)
    assert rate.rate == 0.45 and rate.ci_low < 0.45 < rate.ci_high


def test_two_proportion_z_test_by_hand():
    # 30/100 vs 45/100: pooled = 75/200 = 0.375; se = sqrt(0.375 * 0.625 * (1/100 + 1/100)) = 0.0684653
    # z = (0.45 - 0.30) / 0.0684653 = 2.19089; p = 2 * (1 - Φ(2.19089)) = 0.02846
    z, p_value = two_proportion_z_test(30, 100, 45, 100)
    assert z == pytest.approx(2.19089, abs=1e-4)
    assert p_value == pytest.approx(0.02846, abs=1e-4)
    assert two_proportion_z_test(45, 100, 30, 100)[0] == pytest.approx(-2.19089, abs=1e-4)
    assert two_proportion_z_test(0, 50, 0, 50) == (0.0, 1.0)


def test_fisher_exact_by_hand():
    # 1/5 vs 5/5: 6 successes among 10. Tables by successes x in the first row (x = 1..5) have weights
    # C(5,x)·C(5,6−x) = 5, 50, 100, 50, 5 out of C(10,6) = 210. Those no likelier than x = 1: 5 + 5.
    assert fisher_exact(1, 5, 5, 5) == pytest.approx(10 / 210)
    assert fisher_exact(3, 5, 3, 5) == pytest.approx(1.0)


def test_agrees_with_scipy_where_available():
    stats = pytest.importorskip("scipy.stats")
    for a, n_a, b, n_b in ((1, 5, 5, 5), (2, 12, 7, 11), (0, 8, 4, 9), (30, 100, 45, 100)):
        expected = stats.fisher_exact([[a, n_a - a], [b, n_b - b]]).pvalue
        assert fisher_exact(a, n_a, b, n_b) == pytest.approx(expected, rel=1e-9)


def test_a_clear_winner():
    comparison = compare_variants({"A": (30, 100), "B": (45, 100)})
    assert comparison.winner == "B"
    assert comparison.p_value == pytest.approx(0.02846, abs=1e-4)
    assert comparison.tests[0].test == "z" and comparison.tests[0].difference == pytest.approx(0.15)
    assert "B" in comparison.reason and "方案" in comparison.reason_zh
    assert [r.variant for r in comparison.rates] == ["A", "B"]


def test_no_winner_yet_until_enough_trials():
    comparison = compare_variants({"A": (30, 100), "B": (45, 100)}, min_trials=200)
    assert comparison.winner is None
    assert comparison.reason.startswith("no winner yet: variant 'A' has 100 of the 200")
    assert comparison.reason_zh.startswith("暂无胜出方案")


def test_no_winner_when_not_significant():
    comparison = compare_variants({"A": (30, 100), "B": (35, 100)})
    assert comparison.winner is None and comparison.p_value > 0.05
    assert "no difference is significant" in comparison.reason


def test_more_than_two_variants_use_bonferroni_against_the_control():
    # B vs A alone: p = 0.02846; with two challengers the adjusted p = 2 * 0.02846 = 0.0569 > 0.05
    comparison = compare_variants({"A": (30, 100), "B": (45, 100), "C": (31, 100)})
    assert comparison.winner is None
    b_test = next(t for t in comparison.tests if t.variant == "B")
    assert b_test.adjusted_p_value == pytest.approx(2 * b_test.p_value)
    # 50/100 vs 30/100: pooled 0.4, se = sqrt(0.4*0.6*0.02) = 0.069282, z = 2.88675, p = 0.003892,
    # adjusted ×2 = 0.00778
    stronger = compare_variants({"A": (30, 100), "B": (50, 100), "C": (31, 100)})
    assert stronger.winner == "B" and stronger.p_value == pytest.approx(0.00778, abs=1e-4)


def test_control_wins_when_every_challenger_is_worse():
    comparison = compare_variants({"A": (45, 100), "B": (30, 100)})
    assert comparison.winner == "A" and comparison.p_value == pytest.approx(0.02846, abs=1e-4)
    assert compare_variants({"A": (45, 100), "B": (30, 100)}, control="B").winner == "A"


def test_small_counts_use_fishers_exact_test():
    comparison = compare_variants({"A": (1, 5), "B": (5, 5)}, min_trials=5)
    assert comparison.tests[0].test == "fisher"
    assert comparison.winner == "B" and comparison.p_value == pytest.approx(10 / 210)


def test_bad_inputs():
    with pytest.raises(ValueError):
        compare_variants({"A": (1, 5)})
    with pytest.raises(ValueError):
        compare_variants({"A": (6, 5), "B": (1, 5)})
    with pytest.raises(ValueError):
        compare_variants({"A": (1, 5), "B": (1, 5)}, control="Z")
