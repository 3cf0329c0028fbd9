"""``POST /api/v1/webhooks/{source}``: signed deliveries from chat, IM and ticket systems."""

from __future__ import annotations

import logging
import time
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, status

from closeloop.api.deps import SessionDep, SettingsDep, client_ip
from closeloop.api.schemas import WebhookResult
from closeloop.collect import webhooks
from closeloop.collect.submit import RecordsRejectedError, submit_records
from closeloop.store.models import WebhookSource

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])
log = logging.getLogger("closeloop.webhooks")


async def raw_body(request: Request) -> bytes:
    """The exact bytes that were signed."""
    return await request.body()


@router.post(
    "/{source}",
    response_model=WebhookResult,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Receive a signed webhook delivery (HMAC-SHA256 over 'timestamp.body')",
)
def receive_webhook(
    source: str,
    request: Request,
    body: Annotated[bytes, Depends(raw_body)],
    session: SessionDep,
    settings: SettingsDep,
) -> WebhookResult:
    signature = request.headers.get(webhooks.SIGNATURE_HEADER)
    remote = client_ip(request)
    registered = session.get(WebhookSource, source)
    try:
        if registered is None:
            raise webhooks.WebhookRefusedError(404, f"unknown webhook source {source!r}")
        webhooks.verify(
            registered,
            timestamp=request.headers.get(webhooks.TIMESTAMP_HEADER),
            signature=signature,
            body=body,
            now=time.time(),
            tolerance=settings.webhook_tolerance_seconds,
        )
        records = webhooks.records_from_payload(registered, webhooks.payload_items(body))
        result = submit_records(session, records, max_text_chars=settings.max_text_chars)
    except webhooks.WebhookRefusedError as exc:
        log.warning("webhook %s refused from %s: %s", source, remote, exc.reason)
        session.rollback()
        webhooks.log_delivery(
            session,
            source=source,
            status="refused",
            reason=exc.reason,
            remote_addr=remote,
            signature=signature,
        )
        session.commit()
        raise HTTPException(exc.status_code, exc.reason) from None
    except (webhooks.WebhookPayloadError, RecordsRejectedError) as exc:
        session.rollback()
        webhooks.log_delivery(
            session, source=source, status="invalid", reason=str(exc), remote_addr=remote, signature=signature
        )
        session.commit()
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    webhooks.log_delivery(
        session, source=source, status="accepted", reason=None, remote_addr=remote, signature=signature
    )
    session.commit()
    return WebhookResult(
        source=source, imported=result.imported, duplicates=result.duplicates, ids=result.item_ids
    )
