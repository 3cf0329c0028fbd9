"""Frontline quick capture in the store: validation per field, idempotent retries, consent, redaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from closeloop.collect.capture import (
    CAPTURE_CHANNEL,
    Capture,
    CaptureRejectedError,
    Location,
    contact_problem,
    normalize_contact,
    parse_locations,
    recent_captures,
    save_capture,
    validate_capture,
)
from closeloop.store.models import Channel, Consent, Customer, Event, FeedbackItem

NOW = datetime(2026, 11, 25, 10, 30, tzinfo=UTC)
STORES = [Location("SH01", "上海南京路店"), Location("BJ02", "北京三里屯店")]
STAFF = 41


def capture(**changes) -> Capture:
    """A valid capture at store SH01, with ``changes`` applied."""
    values = {
        "client_id": "c-" + "a1b2c3d4e5",
        "location": "SH01",
        "topic": "complaint",
        "sentiment": "negative",
        "text": "排队等了二十分钟，没人招呼",
    }
    values.update(changes)
    return Capture(**values)


def save(session, item: Capture, *, staff: int = STAFF, locations=STORES):
    return save_capture(session, item, captured_by=staff, locations=locations, max_text_chars=2000, now=NOW)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", []),
        (None, []),
        ("SH01=上海南京路店, BJ02=北京三里屯店", STORES),
        ("Kiosk 3", [Location("Kiosk 3", "Kiosk 3")]),
        ("A=One,,A=Again, B", [Location("A", "One"), Location("B", "B")]),
    ],
)
def test_locations_come_from_a_comma_separated_setting(raw, expected):
    assert parse_locations(raw) == expected


@pytest.mark.parametrize(
    ("raw", "normalized", "valid"),
    [
        ("138 1234-5678", "13812345678", True),
        ("+86 (138) 1234 5678", "+8613812345678", True),
        (" Li.Lei@Example.COM ", "li.lei@example.com", True),
        ("li@lei", "li@lei", False),
        ("call me maybe", "callmemaybe", False),
    ],
)
def test_contacts_are_normalized_and_checked(raw, normalized, valid):
    assert normalize_contact(raw) == normalized
    assert (contact_problem(normalized) is None) is valid


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"client_id": "short"}, "client_id"),
        ({"client_id": "has spaces in it"}, "client_id"),
        ({"location": " "}, "location"),
        ({"location": "XX99"}, "location"),
        ({"topic": "rant"}, "topic"),
        ({"sentiment": "angry"}, "sentiment"),
        ({"text": "   "}, "text"),
        ({"text": "字" * 2001}, "text"),
        ({"contact": "13812345678"}, "consent"),
        ({"contact": "not a phone", "consent": True}, "contact"),
        ({"captured_at": NOW + timedelta(hours=2)}, "captured_at"),
    ],
)
def test_each_problem_names_its_field(changes, field):
    errors = validate_capture(capture(**changes), locations=STORES, max_text_chars=2000, now=NOW)
    assert [error.field for error in errors] == [field]


def test_a_valid_capture_has_no_problems_and_free_locations_are_allowed_without_a_list():
    assert validate_capture(capture(), locations=STORES, max_text_chars=2000, now=NOW) == []
    free = capture(location="徐家汇快闪店")
    assert validate_capture(free, locations=[], max_text_chars=2000, now=NOW) == []
    assert [e.field for e in validate_capture(free, locations=STORES, max_text_chars=2000, now=NOW)] == [
        "location"
    ]


def test_a_capture_becomes_a_frontline_item_with_its_context(db):
    said_at = NOW - timedelta(minutes=5)
    with db() as session:
        result = save(session, capture(topic="praise", sentiment="positive", captured_at=said_at))
        session.commit()
    assert result.created
    with db() as session:
        item = session.get(FeedbackItem, result.item_id)
        assert item.channel == CAPTURE_CHANNEL and item.kind == "call_note" and item.direction == "direct"
        assert item.external_id == "c-a1b2c3d4e5"
        assert item.created_at == said_at
        assert item.meta == {
            "location": "SH01",
            "location_name": "上海南京路店",
            "topic": "praise",
            "staff_sentiment": "positive",
            "captured_by": STAFF,
            "captured_at": said_at.isoformat(),
            "client_id": "c-a1b2c3d4e5",
        }
        assert item.customer_id is None
        assert session.get(Channel, CAPTURE_CHANNEL).default_kind == "call_note"
        events = session.scalars(select(Event).where(Event.type == "feedback.created")).all()
        assert [e.payload["ids"] for e in events] == [[result.item_id]]  # analysis will pick it up


@pytest.mark.parametrize(("topic", "kind"), [("complaint", "complaint"), ("suggestion", "suggestion")])
def test_the_topic_sets_the_kind(db, topic, kind):
    with db() as session:
        result = save(session, capture(topic=topic))
        assert session.get(FeedbackItem, result.item_id).kind == kind


def test_a_retry_with_the_same_client_id_returns_the_same_item(db):
    with db() as session:
        first = save(session, capture(contact="13812345678", consent=True))
        session.commit()
    with db() as session:
        again = save(session, capture(contact="13812345678", consent=True))
        session.commit()
    assert again.item_id == first.item_id and first.created and not again.created
    with db() as session:
        assert session.scalar(select(func.count()).select_from(FeedbackItem)) == 1
        assert session.scalar(select(func.count()).select_from(Consent)) == 1  # no second decision


def test_a_client_id_of_someone_else_is_refused(db):
    with db() as session:
        save(session, capture())
        session.commit()
        with pytest.raises(CaptureRejectedError) as refused:
            save(session, capture(), staff=STAFF + 1)
    assert [e.field for e in refused.value.errors] == ["client_id"]


def test_a_contact_with_consent_links_the_customer_and_records_the_consent(db):
    with db() as session:
        result = save(session, capture(contact="138-1234-5678", consent=True))
        session.commit()
    with db() as session:
        item = session.get(FeedbackItem, result.item_id)
        customer = session.get(Customer, item.customer_id)
        assert customer.phone == "13812345678" and customer.email is None
        (consent,) = customer.consents
        assert (consent.purpose, consent.granted, consent.source) == ("follow_up", True, "frontline")
        assert consent.recorded_at == NOW


def test_a_contact_without_consent_writes_nothing(db):
    with db() as session:
        with pytest.raises(CaptureRejectedError) as refused:
            save(session, capture(contact="li.lei@example.com"))
        session.rollback()
        assert [e.field for e in refused.value.errors] == ["consent"]
        assert session.scalar(select(func.count()).select_from(FeedbackItem)) == 0
        assert session.scalar(select(func.count()).select_from(Customer)) == 0


def test_consent_without_a_contact_records_nothing(db):
    with db() as session:
        result = save(session, capture(consent=True))
        session.commit()
        assert session.get(FeedbackItem, result.item_id).customer_id is None
        assert session.scalar(select(func.count()).select_from(Consent)) == 0


def test_personal_data_in_the_text_is_redacted(db):
    with db() as session:
        result = save(session, capture(text="顾客说手机13812345678打不通，邮箱 li.lei@example.com"))
        session.commit()
    with db() as session:
        item = session.get(FeedbackItem, result.item_id)
        assert "13812345678" not in item.text and "li.lei@example.com" not in item.text
        assert {"mobile", "email"} <= set(item.pii_kinds)
        assert "13812345678" in item.text_original  # kept encrypted for those allowed to see it


def test_recent_captures_are_the_callers_own_newest_first(db):
    with db() as session:
        ids = [save(session, capture(client_id=f"mine-{n:05d}")).item_id for n in range(3)]
        save(session, capture(client_id="theirs-00001"), staff=STAFF + 1)
        session.commit()
        mine = recent_captures(session, captured_by=STAFF, limit=2)
    assert [item.id for item in mine] == ids[::-1][:2]
