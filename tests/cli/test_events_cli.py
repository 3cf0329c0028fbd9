"""``closeloop events import``: behaviour CSV in, all rows or none, idempotent, clear errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from closeloop.cli import app
from closeloop.collect.events import EventFileError, events_from_rows, read_events_csv
from closeloop.store.models import Customer, CustomerEvent

runner = CliRunner()

GOOD = (
    "event_id,type,customer_id,occurred_at,amount,currency,product,quantity,feature,tier,payload\n"
    "o-1,order_completed,C-1,2026-09-03T10:00:00+08:00,199.5,cny,扫码枪,2,,gold,\n"
    "u-1,feature_used,C-1,2026-09-04 09:30,,,,,batch_export,,\n"
    'u-2,feature_used,C-2,2026-09-05,,,,,scan,silver,"{""screen"": ""home""}"\n'
    "t-1,ticket_closed,C-2,2026-09-06T12:00:00Z,,,,,,,\n"
)


def write(tmp_path, text: str, name: str = "events.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_import_then_reimport_is_idempotent(settings, db, tmp_path):
    path = write(tmp_path, GOOD)
    first = runner.invoke(app, ["events", "import", str(path), "--json"])
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) == {
        "file": str(path),
        "rows": 4,
        "stored": 4,
        "duplicates": 0,
        "types": {"feature_used": 2, "order_completed": 1, "ticket_closed": 1},
    }
    again = runner.invoke(app, ["events", "import", str(path), "--json"])
    assert json.loads(again.stdout)["stored"] == 0 and json.loads(again.stdout)["duplicates"] == 4
    with db() as session:
        events = {e.external_id: e for e in session.scalars(select(CustomerEvent))}
        tiers = dict(session.execute(select(Customer.external_id, Customer.tier)).all())
    assert len(events) == 4
    assert events["o-1"].payload == {"amount": 199.5, "currency": "CNY", "product": "扫码枪", "quantity": 2}
    assert events["o-1"].occurred_at == datetime(2026, 9, 3, 2, tzinfo=UTC)
    # Without an offset a time is Asia/Shanghai time; a bare date is that day's local midnight.
    assert events["u-1"].occurred_at == datetime(2026, 9, 4, 1, 30, tzinfo=UTC)
    assert events["u-2"].occurred_at == datetime(2026, 9, 4, 16, tzinfo=UTC)
    assert events["u-2"].payload == {"feature": "scan", "screen": "home"}
    assert events["t-1"].payload == {}
    assert tiers == {"C-1": "gold", "C-2": "silver"}


def test_a_bad_row_names_file_row_and_field_and_nothing_is_written(settings, db, tmp_path):
    bad = GOOD + "o-2,order_completed,C-3,2026-09-07,abc,,,,,,\nu-3,feature_used,C-3,yesterday,,,,,,,\n"
    path = write(tmp_path, bad)
    result = runner.invoke(app, ["events", "import", str(path)])
    assert result.exit_code == 2
    assert f"{path}, row 6, field amount: 'abc' is not a number ≥ 0" in result.output
    assert f"{path}, row 7, field occurred_at: 'yesterday' is not ISO 8601" in result.output
    assert f"{path}, row 7, field feature: required for feature_used" in result.output
    with db() as session:
        assert session.scalar(select(func.count()).select_from(CustomerEvent)) == 0


def test_missing_columns_are_named(settings, tmp_path):
    path = write(tmp_path, "event_id,type,customer\nx,order_completed,C-1\n")
    result = runner.invoke(app, ["events", "import", str(path)])
    assert result.exit_code == 2
    assert "missing column(s) customer_id, occurred_at" in result.output


@pytest.mark.parametrize(
    ("row", "field", "message"),
    [
        ({"amount": ""}, "amount", "required for order_completed"),
        ({"amount": "-1"}, "amount", "is not a number ≥ 0"),
        ({"amount": "nan"}, "amount", "is not a number ≥ 0"),
        ({"currency": "yuan"}, "currency", "is not a currency code"),
        ({"quantity": "1.5"}, "quantity", "is not a whole number"),
        ({"payload": "[1]"}, "payload", "must be a JSON object"),
        ({"payload": "{oops"}, "payload", "not valid JSON"),
        ({"event_id": ""}, "event_id", "required, but empty"),
        ({"customer_id": "x" * 129}, "customer_id", "longer than 128 characters"),
    ],
)
def test_row_checks(row, field, message):
    good = {
        "event_id": "o-1",
        "type": "order_completed",
        "customer_id": "C-1",
        "occurred_at": "2026-09-03",
        "amount": "10",
    }
    with pytest.raises(EventFileError) as raised:
        events_from_rows("orders.csv", [*good, "currency", "quantity", "payload"], [{**good, **row}])
    assert [(p.row, p.field) for p in raised.value.problems] == [(2, field)]
    assert message in str(raised.value) and str(raised.value).startswith("orders.csv, row 2, field ")


def test_amount_may_come_in_the_payload_column(tmp_path):
    path = write(
        tmp_path,
        'event_id,type,customer_id,occurred_at,payload\no,order_completed,C,2026-09-01,"{""amount"": 5}"\n',
    )
    (event,) = read_events_csv(path)
    assert event.payload == {"amount": 5}


def test_unreadable_files(tmp_path):
    with pytest.raises(EventFileError, match="No such file"):
        read_events_csv(tmp_path / "missing.csv")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("event_id,type,customer_id,occurred_at\nä,x,C,2026-09-01\n".encode("latin-1"))
    with pytest.raises(EventFileError, match="not UTF-8"):
        read_events_csv(latin)
