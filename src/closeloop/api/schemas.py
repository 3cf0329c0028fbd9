"""Request and response bodies of the ``/api/v1`` feedback API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from closeloop.collect.records import CustomerRef, FeedbackRecord
from closeloop.store.models import FeedbackItem


class CustomerIn(BaseModel):
    external_id: str = Field(min_length=1, max_length=128, examples=["C-10086"])
    name: str | None = Field(default=None, max_length=256)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=64)
    region: str | None = Field(default=None, max_length=128)
    tier: str | None = Field(default=None, max_length=64)
    lifetime_value: float | None = None


class FeedbackIn(BaseModel):
    """One feedback item as a client sends it."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(examples=["物流太慢了，等了一个星期才到"])
    channel: str = Field(default="api", max_length=64, examples=["taobao"])
    kind: str | None = Field(default=None, examples=["review"])
    direction: str | None = Field(default=None, examples=["indirect"])
    external_id: str | None = Field(default=None, max_length=256)
    rating: float | None = None
    rating_scale: tuple[float, float] | None = Field(default=None, examples=[[1, 5]])
    language: str | None = Field(default=None, max_length=16)
    created_at: datetime | None = None
    product: str | None = Field(default=None, max_length=256)
    order_id: str | None = Field(default=None, max_length=128)
    customer: CustomerIn | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    def to_record(self) -> FeedbackRecord:
        customer = CustomerRef(**self.customer.model_dump()) if self.customer else None
        return FeedbackRecord(
            text=self.text,
            channel=self.channel,
            kind=self.kind,
            direction=self.direction,
            external_id=self.external_id,
            rating=self.rating,
            rating_scale=self.rating_scale,
            language=self.language,
            created_at=self.created_at,
            product=self.product,
            order_id=self.order_id,
            customer=customer,
            metadata=self.metadata,
        )


class FeedbackBatchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[FeedbackIn] = Field(min_length=1)


class AnalysisOut(BaseModel):
    model_version: str
    language: str | None
    sentiment: str | None
    sentiment_score: float | None
    complaint: bool | None
    categories: list[str]
    aspects: list[dict[str, str]]
    confidence: float | None
    needs_review: bool
    created_at: datetime


class FeedbackOut(BaseModel):
    id: int
    channel: str
    kind: str
    direction: str
    external_id: str | None
    text: str
    rating: float | None
    rating_scale: tuple[float, float] | None
    language: str | None
    created_at: datetime
    received_at: datetime
    product: str | None
    order_id: str | None
    customer_id: int | None
    metadata: dict[str, Any]
    pii_redacted: list[str] = Field(
        default_factory=list, description="kinds of personal data redacted from text (phone, email …)"
    )
    analysis: AnalysisOut | None = None

    @classmethod
    def from_item(cls, item: FeedbackItem, *, with_analysis: bool = False) -> FeedbackOut:
        scale = None
        if item.rating_scale_min is not None and item.rating_scale_max is not None:
            scale = (item.rating_scale_min, item.rating_scale_max)
        analysis = None
        if with_analysis and item.analyses:
            latest = item.analyses[-1]
            analysis = AnalysisOut(
                model_version=latest.model_version,
                language=latest.language,
                sentiment=latest.sentiment,
                sentiment_score=latest.sentiment_score,
                complaint=latest.complaint,
                categories=list(latest.categories or []),
                aspects=list(latest.aspects or []),
                confidence=latest.confidence,
                needs_review=latest.needs_review,
                created_at=latest.created_at,
            )
        return cls(
            id=item.id,
            channel=item.channel,
            kind=item.kind,
            direction=item.direction,
            external_id=item.external_id,
            text=item.text,
            rating=item.rating,
            rating_scale=scale,
            language=item.language,
            created_at=item.created_at,
            received_at=item.received_at,
            product=item.product,
            order_id=item.order_id,
            customer_id=item.customer_id,
            metadata=item.meta or {},
            pii_redacted=list(item.pii_kinds or []),
            analysis=analysis,
        )


class WriteResult(BaseModel):
    """What a write did: the ids of new items, and how many were already stored."""

    imported: int
    duplicates: int
    ids: list[int]


class FeedbackPage(BaseModel):
    items: list[FeedbackOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= to get the next page; null at the end.")


class WebhookResult(BaseModel):
    source: str
    imported: int
    duplicates: int
    ids: list[int]


class Health(BaseModel):
    status: str
    database: str
    version: str
