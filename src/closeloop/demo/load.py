"""Writing generated demo data into the store through the same ingestion path as real feedback."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from closeloop.accounts.users import create_user
from closeloop.collect.ingest import ChannelCache, validate_records, write_batch
from closeloop.demo.generate import DemoCustomer, generate_demo
from closeloop.settings import get_settings
from closeloop.store.models import Consent, Customer, ImportRun, User

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


DEMO_ACCOUNTS = (
    ("admin@example.com", "admin", None),
    ("analyst@example.com", "analyst", None),
    ("agent@example.com", "agent", "logistics"),
    ("viewer@example.com", "viewer", None),
)


def create_demo_accounts(session: Session) -> list[dict[str, str]]:
    """One user per role with a fresh random password, only when the store has no users yet."""
    if session.scalars(select(User)).first() is not None:
        return []
    accounts = []
    for email, role, team in DEMO_ACCOUNTS:
        password = secrets.token_urlsafe(9)
        create_user(session, email=email, password=password, role=role, team=team, name=role)
        accounts.append({"email": email, "role": role, "password": password})
    return accounts


def load_demo(factory: sessionmaker[Session], *, items: int, days: int, seed: int) -> dict[str, Any]:
    """Generate and store demo data once per database; a second run (any day) adds nothing."""
    source = f"demo(seed={seed})"
    with factory() as session:
        if session.scalars(
            select(ImportRun).where(ImportRun.source == source, ImportRun.status == "done")
        ).first():
            return {"imported": 0, "duplicates": 0, "customers": 0, "stories": [], "already_loaded": True}
    data = generate_demo(items=items, days=days, seed=seed)
    for record in data.feedback:
        record.metadata.pop("demo_truth", None)  # the generator's answer key is for tests, not the store
    max_chars = get_settings().max_text_chars
    imported = duplicates = 0
    with factory() as session:
        customers = _store_customers(session, data.customers)
        run = ImportRun(source=source, channel="demo")
        session.add(run)
        session.commit()
        run_id = run.id
    for start in range(0, len(data.feedback), BATCH):
        batch = data.feedback[start : start + BATCH]
        with factory() as session:
            channels = ChannelCache(session)
            errors = validate_records(batch, max_text_chars=max_chars, channels=channels)
            if errors:
                first = errors[0]
                raise ValueError(f"demo item {start + first.position}: {first.field}: {first.message}")
            result = write_batch(session, batch, channels=channels, import_run_id=run_id)
            session.commit()
        imported += result.imported
        duplicates += result.duplicates
    with factory() as session:
        stored = session.get(ImportRun, run_id)
        assert stored is not None
        stored.status, stored.imported, stored.duplicates, stored.rows_seen = (
            "done",
            imported,
            duplicates,
            len(data.feedback),
        )
        stored.finished_at = datetime.now(UTC)
        session.commit()
    return {
        "imported": imported,
        "duplicates": duplicates,
        "customers": customers,
        "stories": data.stories,
        "already_loaded": False,
    }
