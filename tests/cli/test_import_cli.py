"""`closeloop import`: every format in, idempotent re-import, atomic batches, crash and resume, bad input."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select, text
from typer.testing import CliRunner

from closeloop.cli import app
from closeloop.store.models import Customer, FeedbackItem, ImportRun

runner = CliRunner()

TAOBAO_HEADER = "评价ID,评论内容,评分,评论时间,买家昵称,宝贝名称,订单号,店铺\n"
TAOBAO_ROWS = [
    "TB-1,物流很快，包装也很好,5,2026-10-01 10:00:00,小王,保温杯,O-1,旗舰店",
    "TB-2,杯子漏水，要求退货,1,2026-10-02 11:30:00,小李,保温杯,O-2,旗舰店",
    "TB-3,一般般吧,3,2026/10/03,小王,水壶,O-3,旗舰店",
]


def run_import(*args: str) -> dict:
    result = runner.invoke(app, ["import", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout.strip().splitlines()[-1])


def count(db, model=FeedbackItem) -> int:
    with db() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_taobao_csv_with_chinese_columns_round_trips(settings, db, tmp_path):
    path = tmp_path / "taobao.csv"
    path.write_text(TAOBAO_HEADER + "\n".join(TAOBAO_ROWS) + "\n", encoding="utf-8")
    summary = run_import(str(path), "--channel", "taobao")
    assert (summary["imported"], summary["duplicates"], summary["rejected"]) == (3, 0, 0)
    assert summary["mapping"]["text"] == "评论内容" and summary["mapping"]["rating"] == "评分"
    with db() as session:
        items = session.scalars(select(FeedbackItem).order_by(FeedbackItem.external_id)).all()
        assert [i.external_id for i in items] == ["TB-1", "TB-2", "TB-3"]
        assert (
            items[1].text == "杯子漏水，要求退货" and items[1].rating == 1 and items[1].rating_scale_max == 5
        )
        assert (
            items[1].product == "保温杯"
            and items[1].order_id == "O-2"
            and items[1].meta == {"店铺": "旗舰店"}
        )
        assert items[0].created_at.isoformat() == "2026-10-01T10:00:00+00:00"
        assert items[0].customer_id == items[2].customer_id is not None  # 小王 twice → one customer
        assert session.scalar(select(func.count()).select_from(Customer)) == 2
        run = session.scalars(select(ImportRun)).one()
        assert (run.status, run.imported, run.rows_seen) == ("done", 3, 3)


def test_reimport_is_idempotent(settings, db, tmp_path):
    path = tmp_path / "taobao.csv"
    path.write_text(TAOBAO_HEADER + "\n".join(TAOBAO_ROWS) + "\n", encoding="utf-8")
    run_import(str(path), "--channel", "taobao")
    again = run_import(str(path), "--channel", "taobao")
    assert (again["imported"], again["duplicates"]) == (0, 3)
    # Without external ids, identical content is the same item.
    plain = tmp_path / "plain.csv"
    plain.write_text("text,rating\n好评,5\n差评,1\n好评,5\n", encoding="utf-8")
    first = run_import(str(plain), "--channel", "jd")
    second = run_import(str(plain), "--channel", "jd")
    assert (first["imported"], first["duplicates"]) == (2, 1)
    assert (second["imported"], second["duplicates"]) == (0, 3)
    assert count(db) == 5


def test_user_mapping_and_rating_scale(settings, db, tmp_path):
    path = tmp_path / "nps.csv"
    path.write_text(
        "comment_body,nps,who\nWould recommend,10,a@example.com\nToo slow,3,b@example.com\n", encoding="utf-8"
    )
    summary = run_import(
        str(path),
        "--channel",
        "survey",
        "--map",
        "text=comment_body",
        "--map",
        "rating=nps",
        "--map",
        "customer_contact=who",
        "--rating-scale",
        "0-10",
    )
    assert summary["imported"] == 2
    with db() as session:
        item = session.scalars(select(FeedbackItem).where(FeedbackItem.rating == 3)).one()
        assert (item.rating_scale_min, item.rating_scale_max, item.kind) == (0, 10, "survey_answer")
        assert item.customer.email == "b@example.com"


def test_gbk_and_bom_files_are_detected(settings, db, tmp_path):
    gbk = tmp_path / "jd_export.csv"
    gbk.write_bytes("评论内容,评分\n快递员态度恶劣，东西还摔坏了,1\n很满意，下次还来,5\n".encode("gbk"))
    summary = run_import(str(gbk), "--channel", "jd")
    assert summary["imported"] == 2 and summary["encoding"] in ("gb18030", "gbk")
    bom = tmp_path / "bom.csv"
    bom.write_bytes("\ufefftext,rating\nGreat,5\n".encode())
    assert run_import(str(bom), "--channel", "jd")["imported"] == 1
    with db() as session:
        assert "快递员态度恶劣，东西还摔坏了" in session.scalars(select(FeedbackItem.text)).all()


def test_jsonl_and_xlsx(settings, db, tmp_path):
    jsonl = tmp_path / "tickets.jsonl"
    jsonl.write_text(
        json.dumps({"id": "T-1", "text": "账号登录不了", "priority": "high"}, ensure_ascii=False)
        + "\n"
        + "{broken json\n"
        + json.dumps({"id": "T-2", "text": "发票什么时候开", "priority": "low"}, ensure_ascii=False)
        + "\n",
        encoding="utf-8",
    )
    summary = run_import(str(jsonl), "--channel", "ticket")
    assert (summary["imported"], summary["rejected"]) == (2, 1)
    rejects = Path(summary["rejects_file"]).read_text(encoding="utf-8-sig")
    assert "2," in rejects and "malformed JSON" in rejects

    book = Workbook()
    sheet = book.active
    sheet.append(["评论内容", "评分", "评论时间"])
    sheet.append(["屏幕有坏点", 2, "2026-09-09 09:09:09"])
    sheet.append(["音质很好", 5, "2026-09-10"])
    xlsx = tmp_path / "reviews.xlsx"
    book.save(xlsx)
    assert run_import(str(xlsx), "--channel", "jd")["imported"] == 2
    assert count(db) == 4


def test_each_bad_row_is_rejected_with_row_field_and_reason(settings, db, tmp_path):
    long_text = "长" * (settings.max_text_chars + 1)
    path = tmp_path / "bad.csv"
    body = (
        "text,rating\n好,5\n,4\n" + f"{long_text},3\n" + "ok,6\nfine,abc\n"
    ).encode() + b"\xff\xfe broken,3\n"
    path.write_bytes(body)
    summary = run_import(str(path), "--channel", "taobao")
    assert (summary["imported"], summary["rejected"]) == (1, 5)
    with Path(summary["rejects_file"]).open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["row", "field", "reason", "raw"]
    reasons = {row[0]: (row[1], row[2]) for row in rows[1:]}
    assert reasons["3"] == ("text", "empty text")
    assert reasons["4"] == ("text", "text is 20001 characters, longer than the 20000 allowed")
    assert reasons["5"] == ("rating", "6 is off the 1–5 scale")
    assert reasons["6"][0] == "rating" and "not a number" in reasons["6"][1]
    assert "undecodable" in reasons["7"][1]
    assert count(db) == 1


@pytest.mark.parametrize(
    ("content", "args", "message"),
    [
        ("评分,时间\n5,2026-01-01\n", [], "no column for the feedback text"),
        ("text\nhello\n", ["--channel", "nowhere"], "unknown channel 'nowhere'"),
        ("text\nhello\n", ["--map", "text=missing"], "missing"),
        ("text\nhello\n", ["--map", "nonsense"], "--map must look like field=column"),
        ("text\nhello\n", ["--rating-scale", "5-1"], "rating scale"),
        ("", [], "empty"),
    ],
)
def test_file_level_errors_are_clear(settings, db, tmp_path, content, args, message):
    path = tmp_path / "export.csv"
    path.write_text(content, encoding="utf-8")
    if "--channel" not in args:
        args = [*args, "--channel", "taobao"]
    result = runner.invoke(app, ["import", str(path), *args])
    assert result.exit_code == 2
    assert message in result.output.replace("\n", " ") and "Traceback" not in result.output
    assert count(db) == 0


def test_missing_file_is_a_clear_error(settings):
    result = runner.invoke(app, ["import", "/nonexistent/x.csv", "--channel", "taobao"])
    assert result.exit_code == 2 and "no such file" in result.output


def _abort_on(db, marker: str) -> None:
    """Make the database refuse one row, as a failing disk or constraint would, mid-batch."""
    with db() as session:
        if session.get_bind().dialect.name == "sqlite":
            session.execute(
                text(
                    f"CREATE TRIGGER boom BEFORE INSERT ON feedback_items WHEN NEW.text = '{marker}' "
                    "BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END"
                )
            )
        else:
            session.execute(
                text(
                    "CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN IF NEW.text = '" + marker + "' THEN "
                    "RAISE EXCEPTION 'refused by test trigger'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            session.execute(
                text(
                    "CREATE TRIGGER boom BEFORE INSERT ON feedback_items FOR EACH ROW EXECUTE FUNCTION boom()"
                )
            )
        session.commit()


def test_failed_batch_writes_nothing_and_rerun_completes(settings, db, tmp_path):
    path = tmp_path / "many.csv"
    path.write_text(
        "id,text\n" + "".join(f"{i},{'BOOM' if i == 25 else f'反馈{i}'}\n" for i in range(40)),
        encoding="utf-8",
    )
    _abort_on(db, "BOOM")
    result = runner.invoke(app, ["import", str(path), "--channel", "taobao", "--batch-size", "10"])
    assert result.exit_code == 1
    assert "writing rows 22–31 failed" in result.output and "refused by test trigger" in result.output
    assert count(db) == 20  # two whole batches, nothing of the third
    with db() as session:
        session.execute(
            text(
                "DROP TRIGGER boom"
                if session.get_bind().dialect.name == "sqlite"
                else "DROP TRIGGER boom ON feedback_items"
            )
        )
        session.commit()
    summary = run_import(str(path), "--channel", "taobao", "--batch-size", "10")
    assert (summary["imported"], summary["duplicates"]) == (20, 20)
    assert count(db) == 40


def test_killed_import_resumes_without_loss_or_duplicates(settings, db, tmp_path):
    rows = 30_000
    path = tmp_path / "big.csv"
    path.write_text(
        "id,text\n" + "".join(f"{i},第{i}条评价：物流不错\n" for i in range(rows)), encoding="utf-8"
    )
    env = {**os.environ, "CLOSELOOP_DATABASE_URL": settings.database_url}
    cmd = [
        sys.executable,
        "-m",
        "closeloop",
        "import",
        str(path),
        "--channel",
        "taobao",
        "--batch-size",
        "500",
    ]
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while count(db) == 0 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    stored = count(db)
    assert 0 < stored < rows and stored % 500 == 0  # only whole batches survive the kill
    summary = json.loads(
        subprocess.run([*cmd, "--json"], env=env, check=True, capture_output=True, text=True)
        .stdout.strip()
        .splitlines()[-1]
    )
    assert summary["imported"] == rows - stored and summary["duplicates"] == stored
    assert count(db) == rows
