"""``closeloop report``: list the scheduled team reports; send the due ones now (once per period)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from closeloop.cli.common import err_console, fail, store_factory
from closeloop.store.models import ReportSubscription

report_app = typer.Typer(
    help="Scheduled team reports (weekly/monthly e-mail): list, send. 定时团队报告。", no_args_is_help=True
)


def _payload(subscription: ReportSubscription) -> dict[str, object]:
    return {
        "id": subscription.id,
        "team": subscription.team,
        "name": subscription.name,
        "period": subscription.period,
        "language": subscription.language,
        "filter_query": subscription.filter_query,
        "recipients": list(subscription.recipients or []),
        "active": subscription.active,
        "last_period_sent": subscription.last_period_sent,
    }


@report_app.command("list")
def list_reports(
    as_json: Annotated[bool, typer.Option("--json", help="Print the reports as JSON.")] = False,
) -> None:
    """The scheduled reports, by team. 列出定时报告。"""
    with store_factory()() as session:
        found = [
            _payload(s)
            for s in session.scalars(
                select(ReportSubscription).order_by(ReportSubscription.team, ReportSubscription.id)
            )
        ]
    if as_json:
        typer.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    if not found:
        err_console.print("no scheduled reports / 还没有定时报告")
        return
    table = Table("#", "team", "name", "period", "lang", "last sent", "active")
    table.add_column("filter", overflow="fold")
    for row in found:
        table.add_row(
            str(row["id"]),
            str(row["team"]),
            str(row["name"]),
            str(row["period"]),
            str(row["language"]),
            str(row["last_period_sent"] or "—"),
            "yes" if row["active"] else "no",
            str(row["filter_query"] or ""),
        )
    Console().print(table)


@report_app.command("send")
def send_reports(
    team: Annotated[str | None, typer.Option(help="Only this team's reports.")] = None,
    force: Annotated[
        bool, typer.Option(help="Send even when this period's report was already sent (and inactive ones).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the outcome per report as JSON.")] = False,
) -> None:
    """E-mail each report of its last full week or month now, unless already sent for that period.
    发送到期的定时报告（每个周期只发送一次）。"""
    from closeloop.insight.reports import send_reports as send_due
    from closeloop.notify.mailer import mailer_from_settings
    from closeloop.settings import get_settings

    settings = get_settings()
    mailer = mailer_from_settings(settings)
    if mailer is None:
        fail("no SMTP server configured: set CLOSELOOP_SMTP_HOST / 未配置邮件服务器")
    outcome = send_due(store_factory(), mailer, public_url=settings.public_url, team=team, force=force)
    if as_json:
        typer.echo(json.dumps({str(k): v for k, v in outcome.items()}, ensure_ascii=False, indent=2))
    else:
        if not outcome:
            err_console.print("no reports to send / 没有要发送的报告")
        for subscription_id, status in outcome.items():
            typer.echo(f"#{subscription_id}: {status}")
    if any(status not in ("sent", "already sent") for status in outcome.values()):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")
