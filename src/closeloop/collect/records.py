"""What every way in produces: a ``FeedbackRecord``, validated the same way for files, API and webhooks.

``record_from_fields`` turns mapped string fields (a CSV row, a JSON object, a webhook body) into a
record and raises ``FieldError`` naming the field that is wrong; ``validate_record`` checks the rules
that hold whatever the source (text present and not too long, rating on its scale, known kind).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from closeloop.store.models import Direction, FeedbackKind

# Fields a source column can be mapped to (``--map field=column``); anything else is kept as metadata.
MAPPABLE_FIELDS: tuple[str, ...] = (
    "text",
    "rating",
    "external_id",
    "created_at",
    "customer_id",
    "customer_name",
    "customer_contact",
    "customer_email",
    "customer_phone",
    "customer_region",
    "customer_tier",
    "customer_lifetime_value",
    "product",
    "order_id",
    "kind",
    "language",
    "title",
)

KINDS = frozenset(k.value for k in FeedbackKind)
DIRECTIONS = frozenset(d.value for d in Direction)


class FieldError(ValueError):
    """A value that cannot be accepted, with the field it belongs to."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


# The customer attributes a source may give (and a later source may update).
CUSTOMER_FIELDS = ("name", "email", "phone", "region", "tier", "lifetime_value")


@dataclass(slots=True)
class CustomerRef:
    """The customer behind a feedback item, as far as the source knows them."""

    external_id: str
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    region: str | None = None
    tier: str | None = None
    lifetime_value: float | None = None


@dataclass(slots=True)
class FeedbackRecord:
    """One incoming feedback item before it is stored."""

    text: str
    channel: str
    kind: str | None = None
    direction: str | None = None
    external_id: str | None = None
    rating: float | None = None
    rating_scale: tuple[float, float] | None = None
    language: str | None = None
    created_at: datetime | None = None
    product: str | None = None
    order_id: str | None = None
    customer: CustomerRef | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def content_hash(self) -> str:
        """Hash of what makes this item itself, used to dedupe items that carry no external id."""
        parts = [
            " ".join(self.text.split()),
            "" if self.rating is None else repr(float(self.rating)),
            self.created_at.isoformat() if self.created_at else "",
            self.customer.external_id if self.customer else "",
            self.product or "",
            self.order_id or "",
        ]
        return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()

    def dedupe_key(self) -> str:
        """``id:<external id>`` when the source gives one, else ``h:<content hash>``."""
        if self.external_id:
            return "id:" + self.external_id
        return "h:" + self.content_hash()


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def parse_rating(raw: Any) -> float | None:
    """A number from ``4``, ``4.5``, ``"4星"``, ``"★★★★"``, ``"4/5"``; None when empty."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, bool):
        raise FieldError("rating", f"not a number: {raw!r}")
    if isinstance(raw, int | float) or _is_plain_number(raw):
        value = float(raw)
    else:
        text = str(raw).strip()
        stars = text.count("★")
        if stars and not text.replace("★", "").replace("☆", "").strip():
            return float(stars)
        for suffix in ("星", "分", "stars", "star"):
            if text.lower().endswith(suffix):
                text = text[: -len(suffix)].strip()
        if "/" in text:
            text = text.split("/", 1)[0].strip()
        try:
            value = float(text)
        except ValueError:
            raise FieldError("rating", f"not a number: {raw!r}") from None
    if math.isnan(value) or math.isinf(value):
        raise FieldError("rating", f"not a number: {raw!r}")
    return value


def _is_plain_number(raw: Any) -> bool:
    """Cheap test for the common case, a rating cell like "4" or "4.5"."""
    return isinstance(raw, str) and raw.strip().replace(".", "", 1).isdigit()


def parse_scale(raw: str) -> tuple[float, float]:
    """``"1-5"`` or ``"0-10"`` → (1.0, 5.0)."""
    try:
        low, high = (float(part) for part in raw.replace("–", "-").split("-", 1))
    except ValueError:
        raise ValueError(f"rating scale must look like 1-5 or 0-10, got {raw!r}") from None
    if low >= high:
        raise ValueError(f"rating scale must go from low to high, got {raw!r}")
    return low, high


_DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日",
    "%Y.%m.%d",
    "%d/%m/%Y %H:%M",
)


def parse_datetime(raw: Any) -> datetime | None:
    """ISO 8601, common Chinese export formats, or a Unix timestamp; naive times are taken as UTC."""
    if raw is None:
        return None
    if isinstance(raw, datetime):
        value = raw
    elif isinstance(raw, date):
        value = datetime(raw.year, raw.month, raw.day)
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        value = _from_timestamp(float(raw))
    else:
        text = str(raw).strip()
        if not text:
            return None
        value = _parse_datetime_text(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def _from_timestamp(number: float) -> datetime:
    if number > 1e11:  # milliseconds, as many exports write them
        number /= 1000
    try:
        return datetime.fromtimestamp(number, UTC)
    except (OverflowError, OSError, ValueError):
        raise FieldError("created_at", f"not a time: {number!r}") from None


def _parse_datetime_text(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    if text.replace(".", "", 1).isdigit():
        return _from_timestamp(float(text))
    raise FieldError("created_at", f"not a date or time: {text!r}")


def _parse_money(raw: Any) -> float | None:
    text = _clean(raw)
    if text is None:
        return None
    try:
        return float(text.replace(",", "").replace("¥", "").replace("$", ""))
    except ValueError:
        raise FieldError("customer_lifetime_value", f"not a number: {raw!r}") from None


def record_from_fields(
    fields: dict[str, Any],
    *,
    channel: str,
    rating_scale: tuple[float, float] | None = None,
    kind: str | None = None,
    direction: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> FeedbackRecord:
    """Build a record from mapped fields (names from ``MAPPABLE_FIELDS``); raises ``FieldError``."""
    text = fields.get("text")
    text = "" if text is None else str(text)
    title = _clean(fields.get("title"))
    if title and text.strip():
        text = f"{title}\n{text}"
    elif title:
        text = title
    customer = None
    customer_id = _clean(fields.get("customer_id"))
    contact = _clean(fields.get("customer_contact"))
    email = _clean(fields.get("customer_email"))
    phone = _clean(fields.get("customer_phone"))
    if contact and not email and "@" in contact:
        email = contact
    elif contact and not phone:
        phone = contact
    name = _clean(fields.get("customer_name"))
    if customer_id or name or email or phone:
        customer = CustomerRef(
            external_id=customer_id or email or phone or f"name:{name}",
            name=name,
            email=email,
            phone=phone,
            region=_clean(fields.get("customer_region")),
            tier=_clean(fields.get("customer_tier")),
            lifetime_value=_parse_money(fields.get("customer_lifetime_value")),
        )
    record = FeedbackRecord(
        text=text,
        channel=channel,
        kind=_clean(fields.get("kind")) or kind,
        direction=direction,
        external_id=_clean(fields.get("external_id")),
        rating=parse_rating(fields.get("rating")),
        rating_scale=rating_scale,
        language=_clean(fields.get("language")),
        created_at=parse_datetime(fields.get("created_at")),
        product=_clean(fields.get("product")),
        order_id=_clean(fields.get("order_id")),
        customer=customer,
        metadata=dict(metadata or {}),
    )
    return record


def validate_record(record: FeedbackRecord, *, max_text_chars: int) -> FeedbackRecord:
    """Check the rules every source shares; returns the record, raises ``FieldError``."""
    if _has_surrogates(record.text):
        raise FieldError("text", "undecodable bytes (the file's encoding does not match this row)")
    if not record.text.strip():
        raise FieldError("text", "empty text")
    if len(record.text) > max_text_chars:
        raise FieldError(
            "text", f"text is {len(record.text)} characters, longer than the {max_text_chars} allowed"
        )
    if "\x00" in record.text:
        raise FieldError("text", "text contains NUL bytes")
    if record.kind is not None and record.kind not in KINDS:
        raise FieldError("kind", f"unknown kind {record.kind!r}; one of: {', '.join(sorted(KINDS))}")
    if record.direction is not None and record.direction not in DIRECTIONS:
        raise FieldError("direction", f"unknown direction {record.direction!r}; one of: direct, indirect")
    if record.rating is not None:
        low, high = record.rating_scale or (1.0, 5.0)
        record.rating_scale = (low, high)
        if not low <= record.rating <= high:
            raise FieldError("rating", f"{record.rating:g} is off the {low:g}–{high:g} scale")
    if record.external_id is not None and len(record.external_id) > 256:
        raise FieldError("external_id", "longer than 256 characters")
    for name, value, limit in (
        ("product", record.product, 256),
        ("order_id", record.order_id, 128),
        ("language", record.language, 16),
    ):
        if value is not None and len(value) > limit:
            raise FieldError(name, f"longer than {limit} characters")
    return record


def _has_surrogates(text: str) -> bool:
    """True when decoding left lone surrogates (``errors="surrogateescape"``) in the text."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
