"""Frontline quick capture: what a customer said in a shop, restaurant or on a visit, logged by staff.

A capture is a feedback item on the ``frontline`` channel. Its kind follows the topic the staff member
tapped (complaint, suggestion, praise, question, other); the location, topic, the staff member's reading
of the customer's mood, who captured it and when are kept in the item's metadata. The client id the
form carries makes a retry from a flaky phone connection return the same item instead of a second one.
A customer contact (phone or e-mail) is stored only with the customer's explicit consent, recorded as a
``follow_up`` consent with source ``frontline``. Personal data in the text is redacted as for every item.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from closeloop.collect.channels import add_channel
from closeloop.collect.customers import get_customer, record_consent
from closeloop.collect.ingest import write_batch
from closeloop.collect.records import FeedbackRecord, FieldError, record_from_fields, validate_record
from closeloop.store.models import Channel, FeedbackItem

CAPTURE_CHANNEL = "frontline"
CONSENT_SOURCE = "frontline"
CONSENT_PURPOSE = "follow_up"  # the customer agrees to be contacted about what they said

# Topic the staff member taps → the feedback kind it is stored as (praise and questions are notes).
TOPIC_KINDS: dict[str, str] = {
    "complaint": "complaint",
    "suggestion": "suggestion",
    "praise": "call_note",
    "question": "call_note",
    "other": "call_note",
}
TOPICS: tuple[str, ...] = tuple(TOPIC_KINDS)
SENTIMENTS: tuple[str, ...] = ("positive", "neutral", "negative")

MAX_LOCATION_CHARS = 128
CLIENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_PHONE_PATTERN = re.compile(r"^\+?[0-9]{5,20}$")
_EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
# A phone's clock may be a little ahead; a capture from further in the future is a mistake.
_CLOCK_SKEW = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Location:
    """A store, restaurant or site where staff capture feedback: a short code and a display name."""

    code: str
    name: str


@dataclass(slots=True)
class Capture:
    """One quick capture as the staff member sent it, before validation."""

    client_id: str
    location: str
    topic: str
    sentiment: str
    text: str
    contact: str | None = None
    consent: bool = False
    voice_note: bool = False  # the text is a typed-in transcript of a voice note
    captured_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CaptureResult:
    """The stored item, and whether this call created it (False: a retry of an earlier capture)."""

    item_id: int
    created: bool


class CaptureRejectedError(ValueError):
    """The capture has invalid fields; nothing was written. ``errors`` names each field."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(str(error) for error in errors))
        self.errors = errors


def parse_locations(raw: str | None) -> list[Location]:
    """Locations from ``"SH01=上海南京路店, BJ02=北京三里屯店"``; an entry without ``=`` is its own code."""
    locations: list[Location] = []
    seen: set[str] = set()
    for entry in (raw or "").split(","):
        code, _, name = (part.strip() for part in entry.partition("="))
        if not code or code in seen:
            continue
        seen.add(code)
        locations.append(Location(code=code[:MAX_LOCATION_CHARS], name=(name or code)[:MAX_LOCATION_CHARS]))
    return locations


def normalize_contact(raw: str | None) -> str | None:
    """An e-mail address (lower-cased) or a phone number without spaces and dashes; None when empty."""
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    if "@" in text:
        return text.lower()
    return re.sub(r"[\s\-().]", "", text)


def contact_problem(contact: str) -> str | None:
    """Why ``contact`` (already normalized) is neither a phone number nor an e-mail address, or None."""
    if "@" in contact:
        return None if _EMAIL_PATTERN.match(contact) else f"not an e-mail address: {contact!r}"
    return None if _PHONE_PATTERN.match(contact) else f"not a phone number or e-mail address: {contact!r}"


def validate_capture(
    capture: Capture, *, locations: list[Location], max_text_chars: int, now: datetime
) -> list[FieldError]:
    """Every problem of ``capture``, each naming its field (empty when the capture can be stored).

    With configured ``locations`` the location must be one of their codes; without, any short name.
    """
    errors: list[FieldError] = []
    if not CLIENT_ID_PATTERN.match(capture.client_id or ""):
        errors.append(FieldError("client_id", "8–64 letters, digits, '-' or '_' (the form supplies one)"))
    location = (capture.location or "").strip()
    codes = [loc.code for loc in locations]
    if not location:
        errors.append(FieldError("location", "choose the store or location"))
    elif codes and location not in codes:
        errors.append(FieldError("location", f"unknown location {location!r}; one of: {', '.join(codes)}"))
    elif len(location) > MAX_LOCATION_CHARS:
        errors.append(FieldError("location", f"longer than {MAX_LOCATION_CHARS} characters"))
    if capture.topic not in TOPIC_KINDS:
        errors.append(FieldError("topic", f"choose a topic: one of {', '.join(TOPICS)}"))
    if capture.sentiment not in SENTIMENTS:
        errors.append(
            FieldError("sentiment", f"choose how the customer felt: one of {', '.join(SENTIMENTS)}")
        )
    try:
        validate_record(
            FeedbackRecord(text=capture.text or "", channel=CAPTURE_CHANNEL), max_text_chars=max_text_chars
        )
    except FieldError as exc:
        errors.append(exc)
    contact = normalize_contact(capture.contact)
    if contact is not None:
        problem = contact_problem(contact)
        if problem:
            errors.append(FieldError("contact", problem))
        if not capture.consent:
            errors.append(
                FieldError(
                    "consent", "a contact is kept only when the customer agrees: tick consent or clear it"
                )
            )
    if capture.captured_at is not None and capture.captured_at > now + _CLOCK_SKEW:
        errors.append(FieldError("captured_at", "in the future; check the phone's clock"))
    return errors


def location_name(code: str, locations: list[Location]) -> str:
    """The display name of location ``code`` (the code itself when it is not configured)."""
    return next((loc.name for loc in locations if loc.code == code), code)


def capture_record(
    capture: Capture, *, captured_by: int, locations: list[Location], now: datetime
) -> FeedbackRecord:
    """The feedback record of a validated capture: kind from the topic, the rest in metadata."""
    captured_at = capture.captured_at or now
    code = capture.location.strip()
    metadata: dict[str, Any] = {
        "location": code,
        "location_name": location_name(code, locations),
        "topic": capture.topic,
        "staff_sentiment": capture.sentiment,
        "captured_by": captured_by,
        "captured_at": captured_at.astimezone(UTC).isoformat(),
        "client_id": capture.client_id,
    }
    if capture.voice_note:
        metadata["voice_note"] = True
    contact = normalize_contact(capture.contact) if capture.consent else None
    return record_from_fields(
        {
            "text": capture.text.strip(),
            "external_id": capture.client_id,
            "created_at": captured_at,
            "customer_contact": contact,
        },
        channel=CAPTURE_CHANNEL,
        kind=TOPIC_KINDS[capture.topic],
        direction="direct",
        metadata=metadata,
    )


def ensure_capture_channel(session: Session) -> None:
    """Register the ``frontline`` channel the first time anyone captures (safe when two race)."""
    if session.get(Channel, CAPTURE_CHANNEL) is not None:
        return
    try:
        with session.begin_nested():
            add_channel(
                session,
                name=CAPTURE_CHANNEL,
                label_zh="一线记录",
                label_en="Frontline capture",
                default_kind="call_note",
                direction="direct",
            )
    except IntegrityError:
        pass  # another request registered it meanwhile


def find_capture(session: Session, client_id: str) -> FeedbackItem | None:
    """The item an earlier capture with ``client_id`` stored, if any."""
    return session.scalars(
        select(FeedbackItem).where(
            FeedbackItem.channel == CAPTURE_CHANNEL, FeedbackItem.dedupe_key == "id:" + client_id
        )
    ).first()


def save_capture(
    session: Session,
    capture: Capture,
    *,
    captured_by: int,
    locations: list[Location],
    max_text_chars: int,
    now: datetime | None = None,
) -> CaptureResult:
    """Validate and store ``capture`` in the caller's transaction; a retry returns the earlier item.

    Raises ``CaptureRejectedError`` naming the invalid fields. The consent is recorded only when the
    item is new, so retries never add decisions.
    """
    now = now or datetime.now(UTC)
    errors = validate_capture(capture, locations=locations, max_text_chars=max_text_chars, now=now)
    if errors:
        raise CaptureRejectedError(errors)
    earlier = find_capture(session, capture.client_id)
    if earlier is not None:
        return _retried(earlier, captured_by)
    ensure_capture_channel(session)
    record = capture_record(capture, captured_by=captured_by, locations=locations, now=now)
    result = write_batch(session, [record], received_at=now)
    if not result.item_ids:  # a concurrent retry stored it between our look and our write
        stored = find_capture(session, capture.client_id)
        if stored is None:
            raise RuntimeError("capture neither written nor found")
        return _retried(stored, captured_by)
    if record.customer is not None:
        customer = get_customer(session, record.customer.external_id)
        if customer is not None:
            record_consent(
                session, customer, purpose=CONSENT_PURPOSE, granted=True, source=CONSENT_SOURCE, at=now
            )
    return CaptureResult(item_id=result.item_ids[0], created=True)


def _retried(item: FeedbackItem, captured_by: int) -> CaptureResult:
    if (item.meta or {}).get("captured_by") != captured_by:
        # Client ids are random per form; one from someone else is never a retry of ours.
        raise CaptureRejectedError(
            [FieldError("client_id", "already used by another capture; reload the form")]
        )
    return CaptureResult(item_id=item.id, created=False)


def recent_captures(session: Session, *, captured_by: int, limit: int = 20) -> list[FeedbackItem]:
    """The newest captures of one staff member, newest first."""
    stmt = (
        select(FeedbackItem)
        .where(
            FeedbackItem.channel == CAPTURE_CHANNEL,
            FeedbackItem.meta["captured_by"].as_integer() == captured_by,
        )
        .order_by(FeedbackItem.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))
