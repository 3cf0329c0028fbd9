"""``closeloop alerts``: run trend alert detection now, store and announce what is new, print it."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from closeloop.cli.common import err_console, fail, store_factory
from closeloop.store.models import Alert


def _day(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        fail(f"--today must be a date like 2026-03-01, got {text!r} / 日期格式应为 2026-03-01")


def _table(alerts: list[Alert]) -> Table:
    table = Table("#", "signal", "since", "severity", "ratio", "p")
    table.add_column("key", overflow="fold")
    for alert in alerts:
        table.add_row(
            str(alert.id),
            alert.signal,
            alert.started_on.isoformat(),
            alert.severity,
            f"{alert.ratio:.1f}×",
            f"{alert.p_value:.2g}",
            alert.key,
        )
    return table


def alerts(
    today: Annotated[
        str | None,
        typer.Option(help="Run as of this day, YYYY-MM-DD (default: today in Asia/Shanghai); not examined."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the new alerts as JSON.")] = False,
    notify: Annotated[
        bool, typer.Option(help="Tell the insight team (CLOSELOOP_ALERT_TEAM) about alerts not yet sent.")
    ] = True,
) -> None:
    """Detect rising complaint rates and volumes now (categories, products, channels); store and print
    the new alerts. 趋势预警：检测投诉率和投诉量的异常上升。"""
    from closeloop.insight.alerts import alert_payload, run_alert_job
    from closeloop.settings import get_settings

    factory = store_factory()
    ids = run_alert_job(factory, get_settings(), today=_day(today), notify=notify)
    with factory() as session:
        new = list(session.scalars(select(Alert).where(Alert.id.in_(ids)).order_by(Alert.p_value, Alert.id)))
        if as_json:
            typer.echo(json.dumps([alert_payload(alert) for alert in new], ensure_ascii=False, indent=2))
            return
        if not new:
            err_console.print("no new alerts / 没有新的预警")
            return
        Console().print(_table(new))
        for alert in new:
            typer.echo(f"#{alert.id} {alert.message_zh}\n    {alert.message_en}")


def register(app: typer.Typer) -> None:
    app.command()(alerts)
