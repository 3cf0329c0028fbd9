"""Webhooks from chat/IM/ticket systems: signature check, replay window, per-source field mapping.

A sender signs ``f"{timestamp}.{raw body}"`` with HMAC-SHA256 and the source's secret and sends
``X-Closeloop-Timestamp: <unix seconds>`` and ``X-Closeloop-Signature: sha256=<hex>``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from closeloop.collect.channels import get_channel
from closeloop.collect.records import MAPPABLE_FIELDS, FeedbackRecord, FieldError, record_from_fields
from closeloop.store.models import WebhookDelivery, WebhookSource

SIGNATURE_HEADER = "X-Closeloop-Signature"
TIMESTAMP_HEADER = "X-Closeloop-Timestamp"


class WebhookRefusedError(Exception):
    """A delivery that is not accepted: unknown source, bad or missing signature, replay."""

    def __init__(self, status_code: int, reason: str) -> None:
        super().__init__(reason)
        self.status_code = status_code
        self.reason = reason


class WebhookPayloadError(ValueError):
    """A signed delivery whose body cannot be turned into feedback (says which item and field)."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value a sender computes."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(
    source: WebhookSource,
    *,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float,
    tolerance: int,
) -> None:
    """Raise ``WebhookRefusedError`` unless the signature matches and the timestamp is fresh."""
    if not signature or not timestamp:
        raise WebhookRefusedError(401, f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER} header")
    try:
        sent = float(timestamp)
    except ValueError:
        raise WebhookRefusedError(401, f"{TIMESTAMP_HEADER} is not a Unix time") from None
    if not hmac.compare_digest(sign(source.secret, timestamp, body), signature.strip()):
        raise WebhookRefusedError(401, "bad signature")
    if abs(now - sent) > tolerance:
        raise WebhookRefusedError(401, f"timestamp outside the {tolerance} s window (replayed or clock skew)")


def _lookup(payload: Any, path: str) -> Any:
    """``"message.content"`` → payload["message"]["content"]; missing → None."""
    value = payload
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def payload_items(body: bytes) -> list[dict[str, Any]]:
    """A delivery holds one JSON object, a list of them, or ``{"items": [...]}``."""
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise WebhookPayloadError(f"malformed JSON: {exc}") from None
    if isinstance(payload, dict) and isinstance(payload.get("items"), list):
        payload = payload["items"]
    items = payload if isinstance(payload, list) else [payload]
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise WebhookPayloadError(f"item {position}: expected a JSON object, got {type(item).__name__}")
    return items


def records_from_payload(source: WebhookSource, items: list[dict[str, Any]]) -> list[FeedbackRecord]:
    """Map each object with the source's ``field → JSON path`` mapping; unmapped keys become metadata."""
    mapping: dict[str, str] = dict(source.mapping or {})
    records = []
    for position, item in enumerate(items):
        fields = {name: _lookup(item, mapping.get(name, name)) for name in MAPPABLE_FIELDS}
        used_roots = {path.split(".", 1)[0] for path in mapping.values()} | set(MAPPABLE_FIELDS)
        metadata = {key: value for key, value in item.items() if key not in used_roots}
        metadata["webhook_source"] = source.name
        try:
            records.append(
                record_from_fields(fields, channel=source.channel, kind=source.kind, metadata=metadata)
            )
        except FieldError as exc:
            raise WebhookPayloadError(f"item {position}, field {exc.field!r}: {exc.message}") from None
    return records


def log_delivery(
    session: Session,
    *,
    source: str,
    status: str,
    reason: str | None,
    remote_addr: str | None,
    signature: str | None,
) -> None:
    session.add(
        WebhookDelivery(
            source=source[:64],
            status=status,
            reason=reason,
            remote_addr=remote_addr,
            signature=(signature or "")[:128] or None,
        )
    )


def add_source(
    session: Session,
    *,
    name: str,
    channel: str,
    mapping: dict[str, str],
    kind: str | None = None,
    secret: str | None = None,
) -> WebhookSource:
    """Register (or update) a webhook source; a random secret is made when none is given."""
    get_channel(session, channel)
    unknown = sorted(set(mapping) - set(MAPPABLE_FIELDS))
    if unknown:
        raise ValueError(f"cannot map {', '.join(unknown)}; mappable fields: {', '.join(MAPPABLE_FIELDS)}")
    source = session.get(WebhookSource, name)
    if source is None:
        source = WebhookSource(name=name, secret=secret or secrets.token_urlsafe(32), channel=channel)
        session.add(source)
    elif secret:
        source.secret = secret
    source.channel = channel
    source.kind = kind
    source.mapping = mapping
    session.flush()
    return source


def list_sources(session: Session) -> list[WebhookSource]:
    return list(session.scalars(select(WebhookSource).order_by(WebhookSource.name)))
