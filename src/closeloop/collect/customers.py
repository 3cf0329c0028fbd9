"""Customers and their consent: create or update a customer, record a consent decision, read them back."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Select, and_, exists, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from closeloop.collect.records import CUSTOMER_FIELDS, CustomerRef
from closeloop.insight.rollups import mark_customers_changed
from closeloop.store.models import Consent, Customer

CONSENT_PURPOSES = ("survey", "follow_up", "marketing", "analytics", "contact")
# Analysing feedback a customer gave is allowed until they object (legitimate interest); every other
# purpose needs a yes on record (``consent_in_force``).
OPT_OUT_PURPOSES = ("analytics",)


def upsert_customer(session: Session, ref: CustomerRef, *, attributes: dict | None = None) -> Customer:
    """The customer with ``ref.external_id``, created or updated with every field ``ref`` gives."""
    customer = session.scalars(select(Customer).where(Customer.external_id == ref.external_id)).first()
    if customer is None:
        customer = Customer(external_id=ref.external_id, attributes={})
        session.add(customer)
    segments = (customer.tier, customer.region)
    for name in CUSTOMER_FIELDS:
        value = getattr(ref, name)
        if value is not None:
            setattr(customer, name, value)
    if attributes:
        customer.attributes = {**(customer.attributes or {}), **attributes}
    session.flush()
    if segments != (customer.tier, customer.region):  # the dashboard's segment figures of their items
        mark_customers_changed(session, [customer.id])
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
    if purpose == "analytics" and not granted:
        from closeloop.privacy.subjects import forget_analysis

        forget_analysis(session, customer.id)
    return consent


def refused(purpose: str) -> Select:
    """Ids of customers whose newest decision for ``purpose`` is an explicit no."""
    newer = aliased(Consent)
    return select(Consent.customer_id).where(
        Consent.purpose == purpose,
        Consent.granted.is_(False),
        ~exists().where(
            newer.customer_id == Consent.customer_id,
            newer.purpose == purpose,
            or_(
                newer.recorded_at > Consent.recorded_at,
                and_(newer.recorded_at == Consent.recorded_at, newer.id > Consent.id),
            ),
        ),
    )


def latest_decision(customer: Customer, purpose: str) -> bool | None:
    """The customer's newest yes (True) or no (False) for ``purpose``; None when never asked."""
    decisions = [c for c in customer.consents if c.purpose == purpose]
    if not decisions:
        return None
    return max(decisions, key=lambda c: (c.recorded_at, c.id)).granted


def consent_in_force(customer: Customer, purpose: str) -> bool:
    """True only when the customer's latest decision for ``purpose`` is a yes (no record = no)."""
    return latest_decision(customer, purpose) is True


def consent_refused(customer: Customer, purpose: str) -> bool:
    """True only when the customer's latest decision for ``purpose`` is an explicit no."""
    return latest_decision(customer, purpose) is False


def get_customer(session: Session, external_id: str) -> Customer | None:
    stmt = (
        select(Customer).where(Customer.external_id == external_id).options(selectinload(Customer.consents))
    )
    return session.scalars(stmt).first()
