"""Customers and their consent: create or update a customer, record a consent decision, read them back."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from closeloop.collect.records import CUSTOMER_FIELDS, CustomerRef
from closeloop.store.models import Consent, Customer

CONSENT_PURPOSES = ("survey", "follow_up", "marketing", "analytics", "contact")


def upsert_customer(session: Session, ref: CustomerRef, *, attributes: dict | None = None) -> Customer:
    """The customer with ``ref.external_id``, created or updated with every field ``ref`` gives."""
    customer = session.scalars(select(Customer).where(Customer.external_id == ref.external_id)).first()
    if customer is None:
        customer = Customer(external_id=ref.external_id, attributes={})
        session.add(customer)
    for name in CUSTOMER_FIELDS:
        value = getattr(ref, name)
        if value is not None:
            setattr(customer, name, value)
    if attributes:
        customer.attributes = {**(customer.attributes or {}), **attributes}
    session.flush()
    return customer


def record_consent(
    session: Session,
    customer: Customer,
    *,
    purpose: str,
    granted: bool,
    source: str | None = None,
    at: datetime | None = None,
) -> Consent:
    """Append a consent decision; the newest decision per purpose is the one in force."""
    if purpose not in CONSENT_PURPOSES:
        raise ValueError(f"unknown consent purpose {purpose!r}; one of: {', '.join(CONSENT_PURPOSES)}")
    consent = Consent(
        customer_id=customer.id,
        purpose=purpose,
        granted=granted,
        source=source,
        recorded_at=at or datetime.now(UTC),
    )
    session.add(consent)
    session.flush()
    return consent


def consent_in_force(customer: Customer, purpose: str) -> bool:
    """True only when the customer's latest decision for ``purpose`` is a yes (no record = no)."""
    decisions = [c for c in customer.consents if c.purpose == purpose]
    if not decisions:
        return False
    return max(decisions, key=lambda c: (c.recorded_at, c.id)).granted


def get_customer(session: Session, external_id: str) -> Customer | None:
    stmt = (
        select(Customer).where(Customer.external_id == external_id).options(selectinload(Customer.consents))
    )
    return session.scalars(stmt).first()
