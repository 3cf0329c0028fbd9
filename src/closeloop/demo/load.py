"""Writing generated demo data into the store through the same ingestion path as real feedback."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from closeloop.collect.ingest import ChannelCache, validate_records, write_batch
from closeloop.demo.generate import DemoCustomer, generate_demo
from closeloop.settings import get_settings
from closeloop.store.models import Consent, Customer

BATCH = 1_000


def _store_customers(session: Session, customers: list[DemoCustomer]) -> int:
    """Create the demo customers (with consent records) that are not there yet; returns how many."""
    known = set(session.scalars(select(Customer.external_id)))
    added = 0
    for demo in customers:
        if demo.external_id in known:
            continue
        customer = Customer(
            external_id=demo.external_id,
            name=demo.name,
            email=demo.email,
            phone=demo.phone,
            region=demo.region,
            tier=demo.tier,
            lifetime_value=demo.lifetime_value,
            language=demo.language,
            attributes={},
        )
        customer.consents = [
            Consent(purpose=purpose, granted=granted, source="demo", recorded_at=when)
            for purpose, granted, when in demo.consents
        ]
        session.add(customer)
        added += 1
    session.flush()
    return added


def load_demo(factory: sessionmaker[Session], *, items: int, days: int, seed: int) -> dict[str, Any]:
    """Generate and store demo data; idempotent (a second run finds everything already there)."""
    data = generate_demo(items=items, days=days, seed=seed)
    max_chars = get_settings().max_text_chars
    imported = duplicates = 0
    with factory() as session:
        customers = _store_customers(session, data.customers)
        session.commit()
    for start in range(0, len(data.feedback), BATCH):
        batch = data.feedback[start : start + BATCH]
        with factory() as session:
            channels = ChannelCache(session)
            errors = validate_records(batch, max_text_chars=max_chars, channels=channels)
            if errors:
                first = errors[0]
                raise ValueError(f"demo item {start + first.position}: {first.field}: {first.message}")
            result = write_batch(session, batch, channels=channels)
            session.commit()
        imported += result.imported
        duplicates += result.duplicates
    return {"imported": imported, "duplicates": duplicates, "customers": customers, "stories": data.stories}
