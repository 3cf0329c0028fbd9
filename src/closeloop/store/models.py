"""The store's tables: customers and consent, feedback items, analyses and labels, imports, events.

Raw feedback (``FeedbackItem``) is never overwritten by analysis: each model version writes its own
``Analysis`` row beside the item, and people's corrections are ``Label`` rows.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from closeloop.privacy.crypto import EncryptedText

# Stable constraint names so Alembic migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite so autoincrement works on both.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """Timezone-aware now, the default of every timestamp column."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar = {dict[str, Any]: JSON, datetime: UTCDateTime()}


class FeedbackKind(enum.StrEnum):
    """What a piece of feedback is."""

    survey_answer = "survey_answer"
    review = "review"
    social_post = "social_post"
    chat = "chat"
    ticket = "ticket"
    email = "email"
    complaint = "complaint"
    suggestion = "suggestion"
    call_note = "call_note"


class Direction(enum.StrEnum):
    """Direct feedback was asked for or given to us; indirect feedback was said elsewhere."""

    direct = "direct"
    indirect = "indirect"


class Channel(Base):
    """A named way feedback arrives (``taobao``, ``wechat``, ``survey`` …) with its defaults."""

    __tablename__ = "channels"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    label_zh: Mapped[str] = mapped_column(String(128), default="")
    label_en: Mapped[str] = mapped_column(String(128), default="")
    default_kind: Mapped[str] = mapped_column(String(32), default=FeedbackKind.review.value)
    direction: Mapped[str] = mapped_column(String(16), default=Direction.indirect.value)
    # Feedback of this channel older than this many days is purged automatically (None: kept).
    retention_days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Customer(Base):
    """A person or account who gives feedback, with segment attributes; contact fields are encrypted."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str | None] = mapped_column(EncryptedText())
    email: Mapped[str | None] = mapped_column(EncryptedText())
    phone: Mapped[str | None] = mapped_column(EncryptedText())
    region: Mapped[str | None] = mapped_column(String(128), index=True)
    tier: Mapped[str | None] = mapped_column(String(64), index=True)
    lifetime_value: Mapped[float | None] = mapped_column(Numeric(14, 2, asdecimal=False))
    language: Mapped[str | None] = mapped_column(String(16))
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    consents: Mapped[list[Consent]] = relationship(back_populates="customer", cascade="all, delete-orphan")


class Consent(Base):
    """A customer's yes or no to one purpose (``survey``, ``follow_up``, ``marketing``…), when and how."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(64))
    granted: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str | None] = mapped_column(String(128))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="consents")


class ImportRun(Base):
    """One run of a file import or API batch: what came in and what happened to it."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(512))
    channel: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="running")
    rows_seen: Mapped[int] = mapped_column(Integer, default=0)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()


class FeedbackItem(Base):
    """One piece of raw feedback as it arrived. Never rewritten by analysis."""

    __tablename__ = "feedback_items"
    __table_args__ = (
        # Idempotency: one item per channel and dedupe key (external id, or content hash without one).
        UniqueConstraint("channel", "dedupe_key", name="uq_feedback_items_channel_dedupe_key"),
        Index("ix_feedback_items_channel_created_at", "channel", "created_at"),
        Index("ix_feedback_items_customer_id", "customer_id"),
        Index("ix_feedback_items_product", "product"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(ForeignKey("channels.name"))
    kind: Mapped[str] = mapped_column(String(32), index=True)
    direction: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str | None] = mapped_column(String(256))
    dedupe_key: Mapped[str] = mapped_column(String(300))
    content_hash: Mapped[str] = mapped_column(String(64))
    # ``text`` is what analysis and people see: personal data redacted. The original, when redaction
    # changed it, is kept encrypted in ``text_original`` for those allowed to see it.
    text: Mapped[str] = mapped_column(Text)
    text_original: Mapped[str | None] = mapped_column(EncryptedText(), deferred=True)
    pii_kinds: Mapped[list[str] | None] = mapped_column(JSON, default=list)
    rating: Mapped[float | None] = mapped_column(Float)
    rating_scale_min: Mapped[float | None] = mapped_column(Float)
    rating_scale_max: Mapped[float | None] = mapped_column(Float)
    language: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(index=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    product: Mapped[str | None] = mapped_column(String(256))
    order_id: Mapped[str | None] = mapped_column(String(128))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    import_run_id: Mapped[int | None] = mapped_column(ForeignKey("import_runs.id", ondelete="SET NULL"))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)

    customer: Mapped[Customer | None] = relationship()
    analyses: Mapped[list[Analysis]] = relationship(
        back_populates="item", cascade="all, delete-orphan", order_by="Analysis.id"
    )


class ModelVersion(Base):
    """A version of the analysis engine whose results are stored."""

    __tablename__ = "model_versions"

    version: Mapped[str] = mapped_column(String(128), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    path: Mapped[str | None] = mapped_column(String(1024))
    is_active: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Analysis(Base):
    """What one model version concluded about one feedback item."""

    __tablename__ = "analyses"
    __table_args__ = (
        UniqueConstraint("feedback_id", "model_version", name="uq_analyses_feedback_id_model_version"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback_items.id", ondelete="CASCADE"))
    model_version: Mapped[str] = mapped_column(String(128), index=True)
    language: Mapped[str | None] = mapped_column(String(16))
    sentiment: Mapped[str | None] = mapped_column(String(16), index=True)
    sentiment_score: Mapped[float | None] = mapped_column(Float)
    complaint: Mapped[bool | None] = mapped_column(Boolean)
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    aspects: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    confidence: Mapped[float | None] = mapped_column(Float)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    item: Mapped[FeedbackItem] = relationship(back_populates="analyses")


class Embedding(Base):
    """A text embedding of a feedback item, computed once per encoder and kept."""

    __tablename__ = "embeddings"

    feedback_id: Mapped[int] = mapped_column(
        ForeignKey("feedback_items.id", ondelete="CASCADE"), primary_key=True
    )
    encoder: Mapped[str] = mapped_column(String(64), primary_key=True)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Label(Base):
    """A person's correction of an analysis field; the next model version learns from these."""

    __tablename__ = "labels"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    feedback_id: Mapped[int] = mapped_column(ForeignKey("feedback_items.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookSource(Base):
    """A chat/IM/ticket system allowed to post to ``/api/v1/webhooks/{name}``, with its field mapping."""

    __tablename__ = "webhook_sources"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    secret: Mapped[str] = mapped_column(String(256))
    channel: Mapped[str] = mapped_column(ForeignKey("channels.name"))
    kind: Mapped[str | None] = mapped_column(String(32))
    mapping: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """Every webhook call, accepted or refused, for the log."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    signature: Mapped[str | None] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Event(Base):
    """A domain event (``feedback.created`` …) written in the same transaction as its cause (outbox)."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_pending", "processed_at", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column()
    # A worker's lease on the event: while it runs, others leave it; if the worker dies, the lease
    # expires and another worker takes the event up again.
    claimed_until: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)


class Role(enum.StrEnum):
    """What a person may do: admin > analyst > agent (own team's cases) > viewer (read only)."""

    admin = "admin"
    analyst = "analyst"
    agent = "agent"
    viewer = "viewer"


class User(Base):
    """A person who signs in to closeloop."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(256), default="")
    role: Mapped[str] = mapped_column(String(16))
    team: Mapped[str | None] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(256))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column()


class ApiToken(Base):
    """A bearer token for scripts: shown once, stored as a hash, limited by scopes, revocable."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship()


class WebSession(Base):
    """A signed-in browser: the cookie holds a random id, the store holds its hash and CSRF token."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    user: Mapped[User] = relationship()


class AuditEntry(Base):
    """Who did what to what, when, from where: logins, exports, erasures, role and rule changes."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_action_at", "action", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str | None] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(512))
    ip: Mapped[str | None] = mapped_column(String(64), index=True)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class SurveyRecord(Base):
    """A survey: its definition (``ask.definitions.Survey`` as JSON), and whether it takes answers."""

    __tablename__ = "surveys"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)  # the slug in links: /s/<id>
    title: Mapped[str] = mapped_column(String(512), default="")
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | closed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SurveyResponse(Base):
    """One person's answers to a survey, saved as they go (resumable by token) until completed."""

    __tablename__ = "survey_responses"
    __table_args__ = (Index("ix_survey_responses_survey_id_started_at", "survey_id", "started_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    survey_id: Mapped[str] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    invitation_id: Mapped[int | None] = mapped_column(
        ForeignKey("invitations.id", ondelete="SET NULL"), index=True
    )
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    variant: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8), default="zh")
    source: Mapped[str] = mapped_column(String(16), default="web")  # web | email | widget | api
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="started")  # started | completed
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column()
    feedback_ids: Mapped[list[int]] = mapped_column(JSON, default=list)


class TriggerRuleRecord(Base):
    """An invitation rule (``ask.schedule.TriggerRule`` as JSON): which event sends which survey when."""

    __tablename__ = "trigger_rules"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    survey_id: Mapped[str] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(String(64), index=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomerEvent(Base):
    """Something that happened to a customer (``order_completed``, ``ticket_closed`` …) that may trigger
    a survey invitation. ``external_id`` makes re-sent events idempotent."""

    __tablename__ = "customer_events"
    __table_args__ = (Index("ix_customer_events_type_occurred_at", "type", "occurred_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    external_id: Mapped[str] = mapped_column(String(256), unique=True)
    type: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    occurred_at: Mapped[datetime] = mapped_column()
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Invitation(Base):
    """One planned invitation (and its reminder): sent, skipped with a reason, or failed and retried.

    ``key`` (``invite:<rule>:<event>``) is unique, so a send is recorded once whatever restarts happen.
    """

    __tablename__ = "invitations"
    __table_args__ = (Index("ix_invitations_customer_id_sent_at", "customer_id", "sent_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(256), unique=True)
    rule_id: Mapped[str] = mapped_column(String(80), index=True)
    survey_id: Mapped[str] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("customer_events.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    variant: Mapped[str | None] = mapped_column(String(64))
    token: Mapped[str] = mapped_column(String(64), unique=True)  # the response link and unsubscribe link
    status: Mapped[str] = mapped_column(String(16))  # sending | sent | skipped
    due_at: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    skipped_reason: Mapped[str | None] = mapped_column(String(32))
    reminder_sent_at: Mapped[datetime | None] = mapped_column()
    reminder_skipped_reason: Mapped[str | None] = mapped_column(String(32))
    answered_at: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobLease(Base):
    """A named periodic job (``invitations`` …) held by one worker until a time, so only one runs it."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(128))
    until: Mapped[datetime | None] = mapped_column()


class Team(Base):
    """A team or department that works cases (logistics, customer service …), with how it is notified."""

    __tablename__ = "teams"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    label_zh: Mapped[str] = mapped_column(String(128), default="")
    label_en: Mapped[str] = mapped_column(String(128), default="")
    email: Mapped[str | None] = mapped_column(String(320))  # where the team's digest and alerts go
    webhook_url: Mapped[str | None] = mapped_column(EncryptedText())  # bot URLs carry their key
    webhook_kind: Mapped[str | None] = mapped_column(String(16))  # generic|feishu|dingtalk|wecom|slack
    webhook_secret: Mapped[str | None] = mapped_column(EncryptedText())
    assignment: Mapped[str] = mapped_column(String(16), default="least_loaded")  # or round_robin | manual
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RoutingRuleRecord(Base):
    """A routing rule (``act.routing.RoutingRule`` as JSON), evaluated in ``position`` order."""

    __tablename__ = "routing_rules"

    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, index=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Case(Base):
    """A piece of work about one or more feedback items: a team, an assignee, a state, SLA due times."""

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_team_status", "team", "status"),
        Index("ix_cases_assignee_id_status", "assignee_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(512))
    team: Mapped[str] = mapped_column(String(64))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(24), default="new")
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    routing_rule_id: Mapped[str | None] = mapped_column(String(80))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    first_response_due: Mapped[datetime | None] = mapped_column()
    resolve_due: Mapped[datetime | None] = mapped_column()
    first_responded_at: Mapped[datetime | None] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    first_response_breached_at: Mapped[datetime | None] = mapped_column()
    resolve_breached_at: Mapped[datetime | None] = mapped_column()
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    assignee: Mapped[User | None] = relationship()


class CaseItem(Base):
    """A feedback item in a case (an item is in at most one case)."""

    __tablename__ = "case_items"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    feedback_id: Mapped[int] = mapped_column(
        ForeignKey("feedback_items.id", ondelete="CASCADE"), primary_key=True, unique=True
    )


class CaseEvent(Base):
    """Everything that happens to a case: created, assigned, state changes, comments, replies, SLA breaches,
    follow-ups and the customer's answer. The case's history, never rewritten."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str | None] = mapped_column(String(320))
    kind: Mapped[str] = mapped_column(String(32))
    body: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class ActionPlan(Base):
    """An improvement initiative ("new packaging supplier") linked to a theme, with owner and dates; its
    effect is read from the theme's volume and sentiment before and after ``shipped_at``."""

    __tablename__ = "action_plans"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(Text, default="")
    # The theme: {"category": "packaging"} | {"topic": "..."} | {"query": "漏水"}, optionally with a
    # "channel" or "product" narrowing it.
    theme: Mapped[dict[str, Any]] = mapped_column(default=dict)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    team: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(
        String(16), default="planned"
    )  # planned | in_progress | shipped | dropped
    starts_on: Mapped[datetime | None] = mapped_column()
    due_on: Mapped[datetime | None] = mapped_column()
    shipped_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class FollowUp(Base):
    """Telling a customer what was done and asking "is it solved?": one per case (or action plan) and
    customer, sent once (``key`` is unique), answered yes or no through its token."""

    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)  # case:<id>:<round> | plan:<id>:<customer>
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    action_plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("action_plans.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sent | skipped | answered
    skipped_reason: Mapped[str | None] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column()
    answered_at: Mapped[datetime | None] = mapped_column()
    solved: Mapped[bool | None] = mapped_column(Boolean)
    comment: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Alert(Base):
    """A trend alert: a category, product or channel whose complaint rate or volume rose beyond its normal
    variation (``closeloop.insight.alerts``). One row per episode: ``dedupe_key`` is key|signal|start."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_status_detected_at", "status", "detected_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(400), unique=True)
    key: Mapped[str] = mapped_column(String(320), index=True)  # category:<id>, product:<name>, channel:<name>
    signal: Mapped[str] = mapped_column(String(16))  # rate | volume
    started_on: Mapped[date] = mapped_column()
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)
    severity: Mapped[str] = mapped_column(String(16))  # high | medium | low
    baseline: Mapped[float] = mapped_column(Float)
    recent: Mapped[float] = mapped_column(Float)
    ratio: Mapped[float] = mapped_column(Float)
    p_value: Mapped[float] = mapped_column(Float)
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    message_zh: Mapped[str] = mapped_column(Text)
    message_en: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | acknowledged | closed
    acknowledged_by: Mapped[str | None] = mapped_column(String(320))
    acknowledged_at: Mapped[datetime | None] = mapped_column()
    notified_at: Mapped[datetime | None] = mapped_column()


# --- reports (migration 0009) ---


class ReportSubscription(Base):
    """A team's scheduled report (``closeloop.insight.reports``): the dashboard figures for a saved filter,
    e-mailed once per week or month. ``last_period_sent`` (the period's first day) makes sending
    once-only across restarts and workers."""

    __tablename__ = "report_subscriptions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    team: Mapped[str] = mapped_column(ForeignKey("teams.name", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    filter_query: Mapped[str] = mapped_column(Text, default="")  # the dashboard URL's query string
    period: Mapped[str] = mapped_column(String(16), default="weekly")  # weekly | monthly
    language: Mapped[str] = mapped_column(String(8), default="zh")  # zh | en
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: the team's e-mail address
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_period_sent: Mapped[str | None] = mapped_column(String(10))  # YYYY-MM-DD
    last_sent_at: Mapped[datetime | None] = mapped_column()
    created_by: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- rollups (migration 0010) ---


class InsightRollup(Base):
    """Pre-counted dashboard figures of one local (Asia/Shanghai) day: the items of one channel and language
    (and, for the ``tier``/``region`` facets, one segment value), by their effective analysis.

    ``category`` None is the day's totals row; otherwise the counts of the items listing that category
    (facet ``all`` only). Rows are rewritten per day by ``closeloop.insight.rollups``.
    """

    __tablename__ = "insight_rollups"
    __table_args__ = (Index("ix_insight_rollups_facet_day", "facet", "day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column()
    facet: Mapped[str] = mapped_column(String(16))  # all | tier | region
    segment: Mapped[str | None] = mapped_column(String(128))
    channel: Mapped[str] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(16))
    category: Mapped[str | None] = mapped_column(String(128))
    volume: Mapped[int] = mapped_column(Integer, default=0)
    analysed: Mapped[int] = mapped_column(Integer, default=0)
    positive: Mapped[int] = mapped_column(Integer, default=0)
    neutral: Mapped[int] = mapped_column(Integer, default=0)
    negative: Mapped[int] = mapped_column(Integer, default=0)
    complaints: Mapped[int] = mapped_column(Integer, default=0)
    nps_responses: Mapped[int] = mapped_column(Integer, default=0)
    promoters: Mapped[int] = mapped_column(Integer, default=0)
    detractors: Mapped[int] = mapped_column(Integer, default=0)
    csat_responses: Mapped[int] = mapped_column(Integer, default=0)
    satisfied: Mapped[int] = mapped_column(Integer, default=0)


class RollupDay(Base):
    """Whether a local day's rollups can be trusted: ``dirty`` once a write changed its figures, until the
    next refresh; ``version`` counts the marks so a refresh never cleans a day marked while it ran."""

    __tablename__ = "insight_rollup_days"

    day: Mapped[date] = mapped_column(primary_key=True)
    dirty: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    refreshed_at: Mapped[datetime | None] = mapped_column()


# --- community (migration 0011) ---


class CommunityBoard(Base):
    """A board of the public community portal (per product or topic) where customers post."""

    __tablename__ = "community_boards"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    product: Mapped[str | None] = mapped_column(String(256))  # the feedback items' product
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CommunityMember(Base):
    """A customer signed in to the community by an e-mail link; the address is encrypted, its digest
    (of the lower-cased address) finds the member again."""

    __tablename__ = "community_members"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    email_digest: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str] = mapped_column(EncryptedText())
    display_name: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    language: Mapped[str] = mapped_column(String(8), default="zh")
    unsubscribe_token: Mapped[str] = mapped_column(String(64), unique=True)
    unsubscribed_at: Mapped[datetime | None] = mapped_column()
    banned: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CommunityToken(Base):
    """A member's e-mailed sign-in link (single use) or browser session (with its CSRF token), by hash."""

    __tablename__ = "community_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("community_members.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # sign_in | session
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str | None] = mapped_column(String(64))
    next_path: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column()


class CommunityPost(Base):
    """A customer's suggestion or problem on a board, its public status and how it entered the loop."""

    __tablename__ = "community_posts"
    __table_args__ = (
        Index("ix_community_posts_board_id_created_at", "board_id", "created_at"),
        Index("ix_community_posts_visibility_status", "visibility", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    board_id: Mapped[int] = mapped_column(ForeignKey("community_boards.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(
        ForeignKey("community_members.id", ondelete="SET NULL"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # suggestion | problem
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")  # personal data redacted
    pii_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    # open | under_review | planned | in_progress | done | wont_do
    status: Mapped[str] = mapped_column(String(16), default="open")
    status_reason: Mapped[str | None] = mapped_column(Text)
    status_changed_at: Mapped[datetime | None] = mapped_column()
    # published | pending (held for moderation) | hidden | deleted
    visibility: Mapped[str] = mapped_column(String(16), default="published")
    moderation_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("community_posts.id", ondelete="SET NULL"))
    feedback_item_id: Mapped[int | None] = mapped_column(ForeignKey("feedback_items.id", ondelete="SET NULL"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id", ondelete="SET NULL"))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("action_plans.id", ondelete="SET NULL"))
    changelog_note: Mapped[str | None] = mapped_column(Text)
    changelog_url: Mapped[str | None] = mapped_column(String(1024))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CommunityVote(Base):
    """One member's vote for one post."""

    __tablename__ = "community_votes"
    __table_args__ = (UniqueConstraint("post_id", "member_id", name="uq_community_votes_post_id_member_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("community_posts.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("community_members.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CommunityFollower(Base):
    """A member following a post: told of every status change."""

    __tablename__ = "community_followers"
    __table_args__ = (
        UniqueConstraint("post_id", "member_id", name="uq_community_followers_post_id_member_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("community_posts.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("community_members.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CommunityComment(Base):
    """A comment on a post, by a member or by staff answering as the brand."""

    __tablename__ = "community_comments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("community_posts.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("community_members.id", ondelete="SET NULL"))
    staff_email: Mapped[str | None] = mapped_column(String(320))  # set when staff answered as the brand
    body: Mapped[str] = mapped_column(Text)  # personal data redacted
    visibility: Mapped[str] = mapped_column(String(16), default="published")  # published|pending|hidden
    moderation_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    feedback_item_id: Mapped[int | None] = mapped_column(ForeignKey("feedback_items.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CommunityStatusChange(Base):
    """A post's public status change with its reason; its followers and voters are e-mailed once."""

    __tablename__ = "community_status_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("community_posts.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str | None] = mapped_column(String(320))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    notified_at: Mapped[datetime | None] = mapped_column(index=True)


class CommunityNotification(Base):
    """One e-mail (or the reason it was not sent) to one member about one status change."""

    __tablename__ = "community_notifications"
    __table_args__ = (
        UniqueConstraint("change_id", "member_id", name="uq_community_notifications_change_id_member_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("community_status_changes.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("community_members.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # sent | skipped
    skipped_reason: Mapped[str | None] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class CommunityRateEvent(Base):
    """One rate-limited act (post, comment, vote, sign-in) by a member or an address, counted per window."""

    __tablename__ = "community_rate_events"
    __table_args__ = (Index("ix_community_rate_events_action_at", "action", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    action: Mapped[str] = mapped_column(String(16))
    member_id: Mapped[int | None] = mapped_column(BigId)
    ip: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(default=utcnow)



# --- scale (migration 0012) ---

# Text search (``?q=``, ILIKE '%…%') on PostgreSQL through trigrams, Chinese included (the store's
# C.UTF-8 collation counts CJK characters as word characters). Migration 0012 creates it with pg_trgm on
# PostgreSQL; on SQLite it is an empty placeholder (WHERE 0) so both schemas match these models.
FEEDBACK_TEXT_TRGM = Index(
    "ix_feedback_items_text_trgm",
    FeedbackItem.text,
    postgresql_using="gin",
    postgresql_ops={"text": "gin_trgm_ops"},
).ddl_if(dialect="postgresql")

# 1–2 character searches (most Chinese words) give pg_trgm no trigram: a GIN index over the lowered text's
# characters and character pairs serves them (``closeloop_char_grams``, an SQL function migration 0012
# creates on PostgreSQL; see store/queries.py). SQLite gets the same WHERE 0 placeholder.
FEEDBACK_TEXT_GRAMS = Index(
    "ix_feedback_items_text_grams",
    func.closeloop_char_grams(FeedbackItem.text),
    postgresql_using="gin",
).ddl_if(dialect="postgresql")
