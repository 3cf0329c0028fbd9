"""NPS, CSAT, CES and response rate against hand-computed examples."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from closeloop.ask.scores import (
    CesScore,
    CsatScore,
    NpsScore,
    ResponseRate,
    ces,
    csat,
    nps,
    period_key,
    response_rate,
    response_rates_by,
    scores_by,
)


def test_nps_by_hand():
    # 10 answers: promoters 10, 9, 9, 10 (4); passives 7, 8 (2); detractors 0, 6, 5, 3 (4)
    # NPS = 100 * (4 - 4) / 10 = 0
    assert nps([10, 9, 9, 10, 7, 8, 0, 6, 5, 3]) == NpsScore(0.0, 10, 4, 2, 4)
    # 8 answers: promoters 9, 10, 10, 9, 9 (5); passive 7 (1); detractors 6, 2 (2)
    # NPS = 100 * (5 - 2) / 8 = 37.5
    assert nps([9, 10, 10, 9, 9, 7, 6, 2]) == NpsScore(37.5, 8, 5, 1, 2)
    # 3 answers, all detractors: NPS = 100 * (0 - 3) / 3 = -100
    assert nps([0, 1, 6]).value == -100.0
    # 6 and 7 and 9 are the boundaries: 1 detractor, 1 passive, 1 promoter → 0
    assert nps([6, 7, 9]) == NpsScore(0.0, 3, 1, 1, 1)


def test_nps_unanswered_and_empty():
    assert nps([]) == NpsScore(None, 0, 0, 0, 0)
    assert nps([None, 10]) == NpsScore(100.0, 1, 1, 0, 0)  # None = question not answered


def test_csat_by_hand():
    # 1–5: satisfied = 4 or 5 → 5, 4, 4 (3 of 6) → 50 %; mean = (5+4+4+3+2+1)/6 = 19/6 = 3.1667
    score = csat([5, 4, 4, 3, 2, 1])
    assert score.value == 50.0 and score.satisfied == 3 and score.responses == 6
    assert score.mean == pytest.approx(19 / 6)
    assert csat([]) == CsatScore(None, None, 0, 0)


def test_ces_by_hand():
    # 1–7, 7 = very easy: easy = 5..7 → 7, 6, 5 (3 of 5) → 60 %; mean = (7+6+5+4+1)/5 = 23/5 = 4.6
    assert ces([7, 6, 5, 4, 1]) == CesScore(4.6, 60.0, 5, 3)
    assert ces([]) == CesScore(None, None, 0, 0)


@pytest.mark.parametrize(
    ("scorer", "bad"), [(nps, 11), (nps, -1), (csat, 0), (csat, 6), (ces, 8), (nps, float("nan"))]
)
def test_scores_off_the_scale_are_refused(scorer, bad):
    with pytest.raises(ValueError):
        scorer([bad])


def test_response_rate_by_hand():
    # 37 responses to 120 invitations = 30.8333 %
    rate = response_rate(37, 120)
    assert rate.value == pytest.approx(100 * 37 / 120) and (rate.responses, rate.invitations) == (37, 120)
    assert response_rate(0, 0) == ResponseRate(None, 0, 0)
    with pytest.raises(ValueError):
        response_rate(5, 4)


ROWS = [
    {"survey": "a", "channel": "email", "rating": 10, "created_at": datetime(2024, 1, 31, 17, 0, tzinfo=UTC)},
    {"survey": "a", "channel": "email", "rating": 3, "created_at": datetime(2024, 2, 3, tzinfo=UTC)},
    {"survey": "a", "channel": "sms", "rating": 9, "created_at": datetime(2024, 2, 10, tzinfo=UTC)},
    {"survey": "b", "channel": "sms", "rating": 8, "created_at": datetime(2024, 2, 11)},  # naive = UTC
    {"survey": "b", "channel": None, "rating": None, "created_at": None},
]


def test_scores_by_field():
    by_channel = scores_by(ROWS, "channel", "nps")
    assert list(by_channel) == ["email", "sms", None]
    # email: 10 (promoter), 3 (detractor) → 100 * (1 - 1) / 2 = 0
    assert by_channel["email"] == NpsScore(0.0, 2, 1, 0, 1)
    # sms: 9 (promoter), 8 (passive) → 100 * (1 - 0) / 2 = 50
    assert by_channel["sms"] == NpsScore(50.0, 2, 1, 1, 0)
    assert by_channel[None] == NpsScore(None, 0, 0, 0, 0)
    by_survey = scores_by(ROWS, lambda row: row["survey"], "nps")
    assert by_survey["a"].value == pytest.approx(100 * (2 - 1) / 3)


def test_scores_by_local_month():
    # 2024-01-31 17:00 UTC is 2024-02-01 01:00 in Shanghai: it belongs to February there
    by_month = scores_by(ROWS, period_key("created_at", "month"), "nps")
    assert {month: score.responses for month, score in by_month.items()} == {"2024-02": 4, None: 0}
    by_utc_month = scores_by(ROWS, period_key("created_at", "month", timezone="UTC"), "nps")
    assert by_utc_month["2024-01"].responses == 1
    moment = {"created_at": datetime(2024, 2, 3, tzinfo=UTC)}
    assert [period_key(period=p)(moment) for p in ("day", "week", "quarter", "year")] == [
        "2024-02-03",
        "2024-W05",
        "2024-Q1",
        "2024",
    ]


def test_response_rate_per_rule():
    sent = datetime(2024, 3, 1, tzinfo=UTC)
    invitations = [
        {"rule_id": "r1", "sent_at": sent, "answered_at": sent},
        {"rule_id": "r1", "sent_at": sent, "answered_at": None},
        {"rule_id": "r1", "sent_at": sent, "answered_at": None},
        {"rule_id": "r1", "sent_at": None, "answered_at": None},  # skipped, never sent: not counted
        {"rule_id": "r2", "sent_at": sent, "answered_at": sent},
    ]
    rates = response_rates_by(invitations, "rule_id")
    # r1: 1 response / 3 sent = 33.33 %; r2: 1 / 1 = 100 %
    assert rates["r1"].value == pytest.approx(100 / 3) and rates["r1"].invitations == 3
    assert rates["r2"] == ResponseRate(100.0, 1, 1)
