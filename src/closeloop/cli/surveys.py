"""``closeloop survey``: define surveys and invitation rules, load customer events, send, read results."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.table import Table

from closeloop.cli.common import err_console, fail, store_factory, store_session

survey_app = typer.Typer(
    help="Surveys: add a definition, invitation rules, customer events, send invitations, results.",
    no_args_is_help=True,
)


def _read_definition(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"{path}: {exc.strerror}")
    except yaml.YAMLError as exc:
        fail(f"{path}: not valid YAML/JSON: {exc}")
    if not isinstance(data, dict):
        fail(f"{path}: the file must hold one mapping (a survey or rule definition)")
    return data


@survey_app.command("add")
def survey_add(file: Annotated[Path, typer.Argument(help="Survey definition (YAML or JSON).")]) -> None:
    """Create or update a survey from a YAML/JSON definition (examples: closeloop/ask/examples/)."""
    from closeloop.accounts import audit
    from closeloop.ask.definitions import SurveyDefinitionError
    from closeloop.ask.service import save_survey

    definition = _read_definition(file)
    try:
        with store_session() as session:
            loaded = save_survey(session, definition)
            audit.record(session, "survey.saved", actor="cli", target=f"survey:{loaded.record.id}")
            survey_id, revision = loaded.record.id, loaded.record.revision
    except SurveyDefinitionError as exc:
        fail(f"{file}: " + "; ".join(exc.problems))
    err_console.print(f"survey {survey_id} saved (revision {revision}); answer link: /s/{survey_id}")


@survey_app.command("list")
def survey_list() -> None:
    """List surveys."""
    from closeloop.ask.service import list_surveys

    table = Table("id", "title", "status", "revision")
    with store_session() as session:
        for record in list_surveys(session):
            table.add_row(record.id, record.title, record.status, str(record.revision))
    err_console.print(table)


@survey_app.command("rule")
def survey_rule(file: Annotated[Path, typer.Argument(help="Invitation rule (YAML or JSON).")]) -> None:
    """Create or replace an invitation rule (id, survey_id, event_type, delay such as 7-15d, reminder_after,
    quiet_hours such as "21:00-09:00", timezone, max_per_customer_days, expires_after)."""
    from closeloop.accounts import audit
    from closeloop.ask.invitations import RuleError, save_rule

    definition = _read_definition(file)
    try:
        with store_session() as session:
            record = save_rule(session, definition)
            audit.record(session, "rule.saved", actor="cli", target=f"invitation_rule:{record.id}")
            rule_id = record.id
    except RuleError as exc:
        fail(f"{file}: {exc}")
    err_console.print(f"invitation rule {rule_id} saved")


EVENT_COLUMNS = ("event_id", "type", "customer_id", "occurred_at")


@survey_app.command("events")
def survey_events(
    file: Annotated[
        Path, typer.Argument(help="CSV with event_id,type,customer_id,occurred_at[,email,name,phone].")
    ],
) -> None:
    """Load customer events (orders completed, tickets closed …) that trigger invitations; idempotent."""
    from closeloop.ask.invitations import EventIn, record_events
    from closeloop.collect.records import CustomerRef

    try:
        with file.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        fail(f"{file}: {exc.strerror}")
    if rows:
        missing = [c for c in EVENT_COLUMNS if c not in rows[0]]
        if missing:
            fail(f"{file}: missing column(s) {', '.join(missing)}; found: {', '.join(rows[0])}")
    events = []
    for number, row in enumerate(rows, start=2):
        try:
            occurred = datetime.fromisoformat(row["occurred_at"])
        except ValueError:
            fail(f"{file}, row {number}, field occurred_at: {row['occurred_at']!r} is not an ISO 8601 time")
        if not row["event_id"] or not row["type"] or not row["customer_id"]:
            fail(f"{file}, row {number}: event_id, type and customer_id are required")
        customer = CustomerRef(
            external_id=row["customer_id"],
            email=row.get("email") or None,
            name=row.get("name") or None,
            phone=row.get("phone") or None,
        )
        events.append(EventIn(row["event_id"], row["type"], customer, occurred))
    with store_session() as session:
        stored, duplicates = record_events(session, events)
    typer.echo(json.dumps({"stored": stored, "duplicates": duplicates}))


@survey_app.command("send")
def survey_send() -> None:
    """Send the invitations and reminders due now (the background worker does this every minute)."""
    from closeloop.ask.invitations import run_invitations
    from closeloop.notify.mailer import mailer_from_settings
    from closeloop.settings import get_settings

    settings = get_settings()
    mailer = mailer_from_settings(settings)
    if mailer is None:
        fail("no SMTP server configured: set CLOSELOOP_SMTP_HOST (and CLOSELOOP_SMTP_PORT …)")
    report = run_invitations(store_factory(), mailer, public_url=settings.public_url)
    typer.echo(json.dumps(report.as_dict(), ensure_ascii=False))
    if report.failed:
        raise typer.Exit(1)


@survey_app.command("results")
def survey_results_cmd(
    survey_id: Annotated[str, typer.Argument(help="Survey id.")],
    group_by: Annotated[str | None, typer.Option(help="period, source, tier, region or variant.")] = None,
) -> None:
    """Scores (NPS, CSAT, CES, stars) with response counts, as JSON."""
    from closeloop.ask.results import rule_response_rates, survey_results
    from closeloop.ask.service import SurveyNotFoundError, load

    if group_by not in (None, "period", "source", "tier", "region", "variant"):
        fail(f"--group-by {group_by!r}: one of period, source, tier, region, variant")
    with store_session() as session:
        try:
            survey = load(session, survey_id).survey
        except SurveyNotFoundError as exc:
            fail(str(exc))
        found = survey_results(session, survey, group_by=group_by)  # type: ignore[arg-type]
        found["invitation_rules"] = rule_response_rates(session, survey_id)
    typer.echo(json.dumps(found, ensure_ascii=False, indent=2, default=str))


def register(app: typer.Typer) -> None:
    app.add_typer(survey_app, name="survey")
