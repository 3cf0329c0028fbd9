"""``/api/v1/alerts``: trend alerts (a category, product or channel rising beyond its normal variation) with
their evidence, and acknowledging them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel
from sqlalchemy import select

from closeloop.accounts import audit
from closeloop.api.deps import RowId, SessionDep, client_ip
from closeloop.api.policy import PrincipalDep
from closeloop.insight.alerts import ALERT_STATES, acknowledge
from closeloop.store.models import Alert

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])

AlertState = Literal["open", "acknowledged", "closed"]
assert set(AlertState.__args__) == set(ALERT_STATES)


class AlertOut(BaseModel):
    """A trend alert. ``baseline`` and ``recent`` are shares for ``signal`` rate and counts per day for
    volume; ``evidence`` holds the daily figures behind it (periods, counts, totals or expected …)."""

    id: int
    key: str
    signal: str
    started_on: date
    detected_at: datetime
    severity: str
    baseline: float
    recent: float
    ratio: float
    p_value: float
    message_zh: str
    message_en: str
    status: str
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    notified_at: datetime | None
    evidence: dict[str, Any]


def _out(alert: Alert) -> AlertOut:
    return AlertOut.model_validate(alert, from_attributes=True)


@router.get("", response_model=list[AlertOut], summary="Trend alerts, newest first / 趋势预警")
def list_alerts(
    session: SessionDep,
    state: Annotated[AlertState | None, Query(alias="status")] = None,
    key: Annotated[str | None, Query(max_length=320, examples=["category:packaging"])] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AlertOut]:
    stmt = select(Alert)
    if state:
        stmt = stmt.where(Alert.status == state)
    if key:
        stmt = stmt.where(Alert.key == key)
    stmt = stmt.order_by(Alert.detected_at.desc(), Alert.p_value, Alert.id.desc()).limit(limit)
    return [_out(alert) for alert in session.scalars(stmt)]


@router.post("/{alert_id}/ack", response_model=AlertOut, summary="Acknowledge an alert / 确认预警")
def acknowledge_alert(
    alert_id: RowId, request: Request, session: SessionDep, principal: PrincipalDep
) -> AlertOut:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alert {alert_id} / 没有预警 {alert_id}")
    if acknowledge(alert, by=principal.user.email):
        audit.record(
            session,
            "alert.acknowledged",
            actor=principal.user.email,
            target=f"alert:{alert.id}",
            ip=client_ip(request),
            detail={"key": alert.key, "signal": alert.signal},
        )
        session.commit()
    return _out(alert)
