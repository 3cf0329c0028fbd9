"""Personal data: unmasked views (audited), a customer's export and erasure, retention and purge."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, undefer

from closeloop.accounts import audit
from closeloop.api.deps import RowId, SessionDep, client_ip
from closeloop.api.policy import Principal, PrincipalDep
from closeloop.collect.customers import get_customer
from closeloop.privacy.retention import purge_expired
from closeloop.privacy.subjects import UnknownCustomerError, erase_customer, export_customer
from closeloop.store.models import Channel, FeedbackItem

router = APIRouter(tags=["privacy"])


def _audit(
    session: Session, request: Request, principal: Principal, action: str, target: str, **detail: Any
) -> None:
    audit.record(
        session, action, actor=principal.user.email, target=target, ip=client_ip(request), detail=detail
    )


class OriginalTextOut(BaseModel):
    id: int
    text: str = Field(description="the text as it arrived, personal data included")
    pii_redacted: list[str]


@router.get(
    "/api/v1/feedback/{item_id}/original",
    response_model=OriginalTextOut,
    summary="The unredacted text of a feedback item (each view is audited)",
)
def read_original(
    item_id: RowId, request: Request, session: SessionDep, principal: PrincipalDep
) -> OriginalTextOut:
    item = session.scalars(
        select(FeedbackItem).where(FeedbackItem.id == item_id).options(undefer(FeedbackItem.text_original))
    ).first()
    if item is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no feedback item {item_id}")
    _audit(session, request, principal, "pii.viewed", f"feedback:{item_id}", field="text")
    session.commit()
    return OriginalTextOut(
        id=item.id, text=item.text_original or item.text, pii_redacted=list(item.pii_kinds or [])
    )


class ContactOut(BaseModel):
    external_id: str
    name: str | None
    email: str | None
    phone: str | None


@router.get(
    "/api/v1/customers/{external_id}/contact",
    response_model=ContactOut,
    summary="A customer's contact fields, decrypted (each view is audited)",
)
def read_contact(
    external_id: str, request: Request, session: SessionDep, principal: PrincipalDep
) -> ContactOut:
    customer = get_customer(session, external_id)
    if customer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no customer {external_id!r}")
    _audit(session, request, principal, "pii.viewed", f"customer:{customer.id}", field="contact")
    session.commit()
    return ContactOut(
        external_id=customer.external_id, name=customer.name, email=customer.email, phone=customer.phone
    )


@router.get(
    "/api/v1/customers/{external_id}/export",
    summary="Everything stored about a customer, as JSON (a data subject access request; audited)",
)
def export_customer_data(
    external_id: str, request: Request, session: SessionDep, principal: PrincipalDep
) -> dict[str, Any]:
    try:
        data = export_customer(session, external_id)
    except UnknownCustomerError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    customer = get_customer(session, external_id)
    assert customer is not None
    _audit(
        session,
        request,
        principal,
        "customer.exported",
        f"customer:{customer.id}",
        items=len(data["feedback"]),
    )
    session.commit()
    return data


@router.delete(
    "/api/v1/customers/{external_id}",
    summary="Erase a customer: contact data, consent and every copy of their feedback text (audited)",
)
def erase_customer_data(
    external_id: str,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    delete_feedback: Annotated[
        bool, Query(description="delete their feedback items instead of anonymising them")
    ] = False,
) -> dict[str, Any]:
    try:
        report = erase_customer(session, external_id, delete_feedback=delete_feedback)
    except UnknownCustomerError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    _audit(
        session, request, principal, "customer.erased", f"customer:{report.customer_id}", **report.as_dict()
    )
    session.commit()
    return report.as_dict()


class ChannelOut(BaseModel):
    name: str
    label_zh: str
    label_en: str
    default_kind: str
    direction: str
    retention_days: int | None


class ChannelPatch(BaseModel):
    retention_days: int | None = Field(
        ge=1, le=36_500, description="purge this channel's feedback older than this (null: keep forever)"
    )


def _channel_out(channel: Channel) -> ChannelOut:
    return ChannelOut(
        name=channel.name,
        label_zh=channel.label_zh,
        label_en=channel.label_en,
        default_kind=channel.default_kind,
        direction=channel.direction,
        retention_days=channel.retention_days,
    )


@router.get(
    "/api/v1/channels", response_model=list[ChannelOut], summary="Channels and their retention periods"
)
def list_channels(session: SessionDep) -> list[ChannelOut]:
    return [_channel_out(c) for c in session.scalars(select(Channel).order_by(Channel.name))]


@router.patch(
    "/api/v1/channels/{name}", response_model=ChannelOut, summary="Set a channel's retention period"
)
def set_retention(
    name: str, body: ChannelPatch, request: Request, session: SessionDep, principal: PrincipalDep
) -> ChannelOut:
    channel = session.get(Channel, name)
    if channel is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no channel {name!r}")
    before = channel.retention_days
    channel.retention_days = body.retention_days
    _audit(
        session,
        request,
        principal,
        "channel.retention_changed",
        f"channel:{name}",
        before=before,
        after=body.retention_days,
    )
    session.commit()
    return _channel_out(channel)


@router.post("/api/v1/privacy/purge", summary="Apply every channel's retention period now (audited)")
def purge_now(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    dry_run: Annotated[bool, Query(description="only count what would be purged")] = False,
) -> dict[str, Any]:
    purged = purge_expired(session, datetime.now(UTC), dry_run=dry_run)
    _audit(session, request, principal, "retention.purged", "feedback", purged=purged, dry_run=dry_run)
    session.commit()
    return {"purged": purged, "dry_run": dry_run}
