"""``/api/v1/customers``: create or update customers and record their consent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field

from closeloop.api.deps import SessionDep
from closeloop.api.schemas import CustomerIn
from closeloop.collect.customers import (
    CONSENT_PURPOSES,
    consent_in_force,
    get_customer,
    record_consent,
    upsert_customer,
)
from closeloop.collect.records import CustomerRef
from closeloop.privacy.masking import mask_email, mask_phone, mask_text
from closeloop.store.models import Customer

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])


class CustomerUpsert(CustomerIn):
    attributes: dict[str, Any] = Field(default_factory=dict)


class ConsentIn(BaseModel):
    purpose: str = Field(examples=["survey"], description=f"one of: {', '.join(CONSENT_PURPOSES)}")
    granted: bool
    source: str | None = Field(default=None, max_length=128, examples=["checkout form"])
    recorded_at: datetime | None = None


class ConsentOut(BaseModel):
    purpose: str
    granted: bool
    source: str | None
    recorded_at: datetime


class CustomerOut(BaseModel):
    """A customer; contact fields are masked (``/contact`` shows them to those allowed, audited)."""

    id: int
    external_id: str
    name: str | None
    email: str | None
    phone: str | None
    region: str | None
    tier: str | None
    lifetime_value: float | None
    attributes: dict[str, Any]
    consents: list[ConsentOut]
    consent_in_force: dict[str, bool]

    @classmethod
    def from_customer(cls, customer: Customer) -> CustomerOut:
        return cls(
            id=customer.id,
            external_id=customer.external_id,
            name=mask_text(customer.name),
            email=mask_email(customer.email),
            phone=mask_phone(customer.phone),
            region=customer.region,
            tier=customer.tier,
            lifetime_value=customer.lifetime_value,
            attributes=customer.attributes or {},
            consents=[
                ConsentOut(purpose=c.purpose, granted=c.granted, source=c.source, recorded_at=c.recorded_at)
                for c in sorted(customer.consents, key=lambda c: (c.recorded_at, c.id))
            ],
            consent_in_force={p: consent_in_force(customer, p) for p in CONSENT_PURPOSES},
        )


def _load(session: SessionDep, external_id: str) -> Customer:
    customer = get_customer(session, external_id)
    if customer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no customer {external_id!r}")
    return customer


@router.put("/{external_id}", response_model=CustomerOut, summary="Create or update a customer")
def put_customer(external_id: str, body: CustomerUpsert, session: SessionDep) -> CustomerOut:
    if body.external_id != external_id:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "external_id in the body and the URL differ"
        )
    fields = body.model_dump(exclude={"attributes"})
    upsert_customer(session, CustomerRef(**fields), attributes=body.attributes)
    session.commit()
    return CustomerOut.from_customer(_load(session, external_id))


@router.get("/{external_id}", response_model=CustomerOut, summary="A customer with consent history")
def read_customer(external_id: str, session: SessionDep) -> CustomerOut:
    return CustomerOut.from_customer(_load(session, external_id))


@router.post(
    "/{external_id}/consents",
    response_model=CustomerOut,
    status_code=status.HTTP_201_CREATED,
    summary="Record a consent decision (purpose, yes/no, when, how)",
)
def add_consent(external_id: str, body: ConsentIn, session: SessionDep) -> CustomerOut:
    customer = _load(session, external_id)
    try:
        record_consent(
            session,
            customer,
            purpose=body.purpose,
            granted=body.granted,
            source=body.source,
            at=body.recorded_at,
        )
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    session.commit()
    session.expire_all()
    return CustomerOut.from_customer(_load(session, external_id))
