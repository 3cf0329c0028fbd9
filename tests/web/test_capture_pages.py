"""The ``/capture`` page without a browser: sign-in, page weight, POST-redirect-GET, retries, errors."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from closeloop.store.models import FeedbackItem

MAX_PAGE_BYTES = 20_000


def client_id_of(page) -> str:
    return re.search(r'name="client_id" value="([^"]+)"', page.text).group(1)


def form_of(page, csrf_of, **fields) -> dict:
    values = {
        "csrf_token": csrf_of(page),
        "client_id": client_id_of(page),
        "location": "杭州西湖店",
        "topic": "suggestion",
        "sentiment": "neutral",
        "text": "希望周末多开一个收银台",
    }
    values.update(fields)
    return values


def items(db) -> list[FeedbackItem]:
    with db() as session:
        return list(session.scalars(select(FeedbackItem).order_by(FeedbackItem.id)))


def test_strangers_are_sent_to_sign_in_and_viewers_are_refused(client_as, browser_as):
    stranger = client_as(None)
    response = stranger.get("/capture", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login?next=/capture"
    assert browser_as("viewer").get("/capture").status_code == 403


def test_the_page_is_small_self_contained_and_has_a_fresh_client_id_each_time(browser_as):
    staff = browser_as("agent")
    first, second = staff.get("/capture"), staff.get("/capture?lang=en")
    assert first.status_code == 200, first.text
    assert len(first.content) < MAX_PAGE_BYTES and len(second.content) < MAX_PAGE_BYTES
    assert not re.search(r"<script[^>]+src=|<link[^>]+stylesheet|<img", first.text)  # nothing more to load
    assert "一线快速记录" in first.text and "Quick capture" in second.text
    assert client_id_of(first) != client_id_of(second)
    assert first.headers["cache-control"] == "no-store"


def test_post_redirect_get_with_a_remembered_location_and_a_safe_resubmit(browser_as, csrf_of, db):
    staff = browser_as("agent")
    page = staff.get("/capture")
    form = form_of(page, csrf_of)
    saved = staff.post("/capture", data=form)
    assert saved.status_code == 303, saved.text
    assert re.fullmatch(r"/capture\?lang=zh&saved=\d+", saved.headers["location"])
    (item,) = items(db)
    assert (item.channel, item.kind) == ("frontline", "suggestion")
    assert item.meta["location"] == "杭州西湖店" and item.meta["staff_sentiment"] == "neutral"

    confirmation = staff.get(saved.headers["location"])
    assert (
        'id="saved"' in confirmation.text
        and "再记一条" in confirmation.text
        and "杭州西湖店" in confirmation.text
    )
    assert 'id="recent"' in confirmation.text and "希望周末多开一个收银台" in confirmation.text
    assert 'id="saved"' not in staff.get("/capture?saved=999999").text  # not one of ours: nothing shown

    again = staff.post("/capture", data=form)  # the same form sent twice (double tap, flaky network)
    assert again.headers["location"] == saved.headers["location"]
    assert len(items(db)) == 1

    next_form = staff.get("/capture")
    assert 'value="杭州西湖店"' in next_form.text  # the location is remembered
    assert client_id_of(next_form) != form["client_id"]


def test_problems_are_shown_next_to_their_fields_and_the_text_is_kept(browser_as, csrf_of, db):
    staff = browser_as("agent")
    page = staff.get("/capture?lang=en")
    form = form_of(page, csrf_of, topic="", contact="13812345678")
    refused = staff.post("/capture?lang=en", data=form)
    assert refused.status_code == 422
    assert 'id="error-topic"' in refused.text and 'id="error-consent"' in refused.text
    assert 'id="error-sentiment"' not in refused.text
    assert "希望周末多开一个收银台" in refused.text and 'value="13812345678"' in refused.text
    assert client_id_of(refused) == form["client_id"]  # fixing and resending stays one capture
    assert items(db) == []

    fixed = staff.post("/capture?lang=en", data={**form, "topic": "suggestion", "consent": "on"})
    assert fixed.status_code == 303, fixed.text
    (item,) = items(db)
    assert item.customer_id is not None and item.meta["client_id"] == form["client_id"]


def test_a_form_post_needs_its_csrf_token(browser_as, csrf_of, db):
    staff = browser_as("agent")
    form = form_of(staff.get("/capture"), csrf_of)
    assert staff.post("/capture", data={**form, "csrf_token": "forged"}).status_code == 403
    with db() as session:
        assert session.scalar(select(func.count()).select_from(FeedbackItem)) == 0
