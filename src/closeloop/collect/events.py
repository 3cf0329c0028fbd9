"""Behaviour events from a CSV file: orders and product usage as a shop or an analytics tool exports them.

One row per event, UTF-8 (a BOM is fine), header row first. Columns:

- required: ``event_id`` (unique: re-importing a file skips the events already stored), ``type``,
  ``customer_id`` (the customer's external id), ``occurred_at`` (ISO 8601; without an offset it is
  Asia/Shanghai time);
- customer, optional: ``email``, ``name``, ``phone``, ``tier``, ``region`` (create or update the customer);
- payload, optional: ``amount`` (a number ≥ 0, required for ``order_completed``), ``currency`` (3 letters,
  e.g. CNY), ``product``, ``quantity`` (a whole number), ``feature`` (required for ``feature_used``) and
  ``payload`` (a JSON object with anything else).

Any other ``type`` is accepted too (``ticket_closed`` …): events also trigger survey invitations. The file
is checked whole before anything is written; the events are then stored in one transaction.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from closeloop.ask.invitations import EventIn
from closeloop.collect.records import CustomerRef
from closeloop.insight.aggregates import parse_moment
from closeloop.insight.behaviour import ORDER_EVENT, USAGE_EVENT

REQUIRED_COLUMNS = ("event_id", "type", "customer_id", "occurred_at")
CUSTOMER_COLUMNS = ("email", "name", "phone", "tier", "region")
PAYLOAD_COLUMNS = ("amount", "currency", "product", "quantity", "feature", "payload")
LIMITS = {"event_id": 256, "type": 64, "customer_id": 128, "email": 320, "name": 256, "phone": 64}
MAX_PROBLEMS = 20
CURRENCY = re.compile(r"^[A-Za-z]{3}$")


@dataclass(frozen=True, slots=True)
class RowProblem:
    """What is wrong with one field of one row (row numbers count the header as row 1)."""

    row: int
    field: str
    message: str

    def describe(self, source: str) -> str:
        return f"{source}, row {self.row}, field {self.field}: {self.message}"


class EventFileError(ValueError):
    """A behaviour file that cannot be imported; ``problems`` name the rows and fields."""

    def __init__(self, source: str, problems: list[RowProblem], message: str | None = None) -> None:
        self.source = source
        self.problems = problems
        text = message or "; ".join(problem.describe(source) for problem in problems)
        super().__init__(text)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value and value not in (float("inf"), float("-inf")) else None


def event_payload(
    event_type: str, row: Mapping[str, str], number: int
) -> tuple[dict[str, Any], list[RowProblem]]:
    """The payload of one row and the problems found in it."""
    problems: list[RowProblem] = []
    payload: dict[str, Any] = {}
    extra = (row.get("payload") or "").strip()
    if extra:
        try:
            loaded = json.loads(extra)
        except json.JSONDecodeError as exc:
            loaded = None
            problems.append(RowProblem(number, "payload", f"not valid JSON ({exc.msg})"))
        if loaded is not None and not isinstance(loaded, dict):
            problems.append(RowProblem(number, "payload", "must be a JSON object ({...})"))
        elif isinstance(loaded, dict):
            payload.update(loaded)
    amount = (row.get("amount") or "").strip()
    if amount:
        value = _number(amount)
        if value is None or value < 0:
            problems.append(RowProblem(number, "amount", f"{amount!r} is not a number ≥ 0"))
        else:
            payload["amount"] = value
    elif event_type == ORDER_EVENT and "amount" not in payload:
        problems.append(RowProblem(number, "amount", f"required for {ORDER_EVENT}"))
    currency = (row.get("currency") or "").strip()
    if currency:
        if CURRENCY.match(currency):
            payload["currency"] = currency.upper()
        else:
            problems.append(RowProblem(number, "currency", f"{currency!r} is not a currency code (CNY)"))
    quantity = (row.get("quantity") or "").strip()
    if quantity:
        if quantity.isdigit():
            payload["quantity"] = int(quantity)
        else:
            problems.append(RowProblem(number, "quantity", f"{quantity!r} is not a whole number"))
    for name in ("product", "feature"):
        value = (row.get(name) or "").strip()
        if value:
            payload[name] = value
    if event_type == USAGE_EVENT and not payload.get("feature"):
        problems.append(RowProblem(number, "feature", f"required for {USAGE_EVENT}"))
    return payload, problems


def event_from_row(row: Mapping[str, str], number: int) -> tuple[EventIn | None, list[RowProblem]]:
    """One CSV row as an event, or the problems that keep it out."""
    problems: list[RowProblem] = []
    values = {name: (row.get(name) or "").strip() for name in (*REQUIRED_COLUMNS, *CUSTOMER_COLUMNS)}
    for name in REQUIRED_COLUMNS:
        if not values[name]:
            problems.append(RowProblem(number, name, "required, but empty"))
    for name, limit in LIMITS.items():
        if len(values[name]) > limit:
            problems.append(RowProblem(number, name, f"longer than {limit} characters"))
    occurred = None
    if values["occurred_at"]:
        try:
            occurred = parse_moment(values["occurred_at"])
        except ValueError:
            problems.append(RowProblem(number, "occurred_at", f"{values['occurred_at']!r} is not ISO 8601"))
    payload, payload_problems = event_payload(values["type"], row, number)
    problems.extend(payload_problems)
    if problems or occurred is None:
        return None, problems
    customer = CustomerRef(
        external_id=values["customer_id"],
        **{name: values[name] or None for name in CUSTOMER_COLUMNS},
    )
    return EventIn(values["event_id"], values["type"], customer, occurred, payload), []


def events_from_rows(source: str, header: Iterable[str], rows: Iterable[Mapping[str, str]]) -> list[EventIn]:
    """Every row as an event; raises EventFileError naming up to ``MAX_PROBLEMS`` bad rows and fields."""
    columns = list(header)
    missing = [name for name in REQUIRED_COLUMNS if name not in columns]
    if missing:
        raise EventFileError(
            source,
            [],
            f"{source}: missing column(s) {', '.join(missing)}; found: {', '.join(columns) or 'none'}",
        )
    events: list[EventIn] = []
    problems: list[RowProblem] = []
    for number, row in enumerate(rows, start=2):
        event, found = event_from_row(row, number)
        if event is not None:
            events.append(event)
        problems.extend(found)
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise EventFileError(source, problems[:MAX_PROBLEMS])
    return events


def read_events_csv(path: Path) -> list[EventIn]:
    """The events of a behaviour CSV file (see the module docstring); raises EventFileError."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            return events_from_rows(str(path), reader.fieldnames or [], reader)
    except OSError as exc:
        raise EventFileError(str(path), [], f"{path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise EventFileError(str(path), [], f"{path}: not UTF-8 text") from None
