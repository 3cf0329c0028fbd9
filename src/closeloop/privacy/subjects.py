"""A customer's rights over their data: a full export, and erasure of every copy.

Erasure anonymises by default: the customer record (contact fields, attributes, consent history) is
deleted with their events, invitations and follow-ups; their survey answers keep only the scores; each
of their feedback items loses its text (and encrypted original), order, product, metadata and
embeddings, and its link to the customer; the anonymous rating and analysis stay so that aggregate
scores do not shift. ``delete_feedback=True`` deletes the items instead (analyses, labels and
embeddings go with them). Text search reads the items' text, so nothing erased can be found again.
The audit log names the customer by internal id only, never by contact data.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, selectinload, undefer

from closeloop.insight.rollups import mark_customers_changed, mark_items_changed
from closeloop.store.models import (
    Analysis,
    Case,
    Consent,
    Customer,
    CustomerEvent,
    Embedding,
    FeedbackItem,
    FollowUp,
    Invitation,
    Label,
    SurveyResponse,
    utcnow,
)

ERASED_TEXT = "[已删除 erased]"


class UnknownCustomerError(LookupError):
    def __init__(self, external_id: str) -> None:
        super().__init__(f"no customer {external_id!r}")
        self.external_id = external_id


@dataclass(frozen=True, slots=True)
class ErasureReport:
    customer_id: int
    items: int
    analyses_removed: int
    embeddings_removed: int
    deleted: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "feedback_items": self.items,
            "analyses_removed": self.analyses_removed,
            "embeddings_removed": self.embeddings_removed,
            "feedback_deleted": self.deleted,
        }


def _customer(session: Session, external_id: str) -> Customer:
    customer = session.scalars(
        select(Customer).where(Customer.external_id == external_id).options(selectinload(Customer.consents))
    ).first()
    if customer is None:
        raise UnknownCustomerError(external_id)
    return customer


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def export_customer(session: Session, external_id: str) -> dict[str, Any]:
    """Everything stored about one customer, contact fields and original texts decrypted (JSON-ready)."""
    customer = _customer(session, external_id)
    items = session.scalars(
        select(FeedbackItem)
        .where(FeedbackItem.customer_id == customer.id)
        .options(undefer(FeedbackItem.text_original), selectinload(FeedbackItem.analyses))
        .order_by(FeedbackItem.created_at, FeedbackItem.id)
    ).all()
    ids = [item.id for item in items]
    labels: dict[int, list[Label]] = {}
    for label in session.scalars(select(Label).where(Label.feedback_id.in_(ids))) if ids else ():
        labels.setdefault(label.feedback_id, []).append(label)
    responses = session.scalars(select(SurveyResponse).where(SurveyResponse.customer_id == customer.id))
    events = session.scalars(select(CustomerEvent).where(CustomerEvent.customer_id == customer.id))
    invitations = session.scalars(select(Invitation).where(Invitation.customer_id == customer.id))
    follow_ups = session.scalars(select(FollowUp).where(FollowUp.customer_id == customer.id))
    cases = session.scalars(select(Case).where(Case.customer_id == customer.id))
    return {
        "exported_at": utcnow().isoformat(),
        "survey_responses": [
            {
                "survey": r.survey_id,
                "answers": r.answers,
                "status": r.status,
                "started_at": _iso(r.started_at),
            }
            for r in responses
        ],
        "events": [
            {"type": e.type, "occurred_at": _iso(e.occurred_at), "payload": e.payload} for e in events
        ],
        "invitations": [
            {
                "survey": i.survey_id,
                "status": i.status,
                "sent_at": _iso(i.sent_at),
                "answered_at": _iso(i.answered_at),
            }
            for i in invitations
        ],
        "follow_ups": [
            {"sent_at": _iso(f.sent_at), "solved": f.solved, "comment": f.comment} for f in follow_ups
        ],
        "cases": [
            {"id": c.id, "title": c.title, "status": c.status, "created_at": _iso(c.created_at)}
            for c in cases
        ],
        "customer": {
            "external_id": customer.external_id,
            "name": customer.name,
            "email": customer.email,
            "phone": customer.phone,
            "region": customer.region,
            "tier": customer.tier,
            "lifetime_value": customer.lifetime_value,
            "language": customer.language,
            "attributes": customer.attributes or {},
            "created_at": _iso(customer.created_at),
        },
        "consents": [
            {
                "purpose": c.purpose,
                "granted": c.granted,
                "source": c.source,
                "recorded_at": _iso(c.recorded_at),
            }
            for c in sorted(customer.consents, key=lambda c: (c.recorded_at, c.id))
        ],
        "feedback": [
            {
                "id": item.id,
                "channel": item.channel,
                "kind": item.kind,
                "text": item.text_original or item.text,
                "rating": item.rating,
                "created_at": _iso(item.created_at),
                "product": item.product,
                "order_id": item.order_id,
                "metadata": item.meta or {},
                "analyses": [
                    {
                        "model_version": a.model_version,
                        "sentiment": a.sentiment,
                        "sentiment_score": a.sentiment_score,
                        "complaint": a.complaint,
                        "categories": list(a.categories or []),
                        "aspects": list(a.aspects or []),
                    }
                    for a in item.analyses
                ],
                "labels": [
                    {"field": lb.field, "value": lb.value, "created_at": _iso(lb.created_at)}
                    for lb in labels.get(item.id, [])
                ],
            }
            for item in items
        ],
    }


def forget_analysis(session: Session, customer_id: int) -> tuple[int, int]:
    """Remove the analyses and embeddings of a customer's feedback (consent to analytics withdrawn)."""
    mark_customers_changed(session, [customer_id])
    item_ids = select(FeedbackItem.id).where(FeedbackItem.customer_id == customer_id)
    analyses = session.execute(delete(Analysis).where(Analysis.feedback_id.in_(item_ids))).rowcount
    embeddings = session.execute(delete(Embedding).where(Embedding.feedback_id.in_(item_ids))).rowcount
    return analyses or 0, embeddings or 0


def erase_customer(session: Session, external_id: str, *, delete_feedback: bool = False) -> ErasureReport:
    """Erase a customer in the caller's transaction; returns what was done (without personal data)."""
    customer = _customer(session, external_id)
    item_ids = list(session.scalars(select(FeedbackItem.id).where(FeedbackItem.customer_id == customer.id)))
    mark_items_changed(session, item_ids)
    embeddings = session.execute(delete(Embedding).where(Embedding.feedback_id.in_(item_ids))).rowcount or 0
    analyses = 0
    if delete_feedback:
        analyses = session.execute(delete(Analysis).where(Analysis.feedback_id.in_(item_ids))).rowcount or 0
        session.execute(delete(Label).where(Label.feedback_id.in_(item_ids)))
        session.execute(delete(FeedbackItem).where(FeedbackItem.id.in_(item_ids)))
    else:
        for item_id in item_ids:
            session.execute(
                update(FeedbackItem)
                .where(FeedbackItem.id == item_id)
                .values(
                    text=ERASED_TEXT,
                    text_original=None,
                    pii_kinds=[],
                    external_id=None,
                    # The dedupe key may hold the source's id for this person's message.
                    dedupe_key=f"erased:{item_id}",
                    content_hash=secrets.token_hex(32),
                    product=None,
                    order_id=None,
                    meta={},
                    customer_id=None,
                )
            )
    customer_id = customer.id
    # Survey answers: the scores stay (anonymous, so survey results do not shift), free text goes.
    for response in session.scalars(select(SurveyResponse).where(SurveyResponse.customer_id == customer_id)):
        response.answers = {k: v for k, v in (response.answers or {}).items() if isinstance(v, int | float)}
        response.customer_id = None
        response.token = f"erased-{secrets.token_hex(16)}"
    session.execute(update(Case).where(Case.customer_id == customer_id).values(customer_id=None))
    # Events, invitations and follow-ups are about the person only: they go (cascade with the customer).
    session.execute(delete(FollowUp).where(FollowUp.customer_id == customer_id))
    session.execute(delete(Invitation).where(Invitation.customer_id == customer_id))
    session.execute(delete(CustomerEvent).where(CustomerEvent.customer_id == customer_id))
    session.execute(delete(Consent).where(Consent.customer_id == customer_id))
    session.execute(delete(Customer).where(Customer.id == customer_id))
    session.expire_all()
    return ErasureReport(customer_id, len(item_ids), analyses, embeddings, delete_feedback)
