"""Closing the loop: resolving a case e-mails the customer (real SMTP) "is it solved?"; their "no"
reopens the case, "yes" closes it; consent is honoured; the closed-loop rate counts confirmed cases."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from closeloop.act.follow_up import send_follow_ups
from closeloop.collect.customers import get_customer, record_consent
from closeloop.notify.mailer import SmtpMailer
from closeloop.store.models import Case, FollowUp


def _case_for(client, customer: str, email: str | None, text: str) -> int:
    body = {"external_id": customer, **({"email": email} if email else {})}
    item = client.post("/api/v1/feedback", json={"channel": "jd", "text": text, "customer": body}).json()[
        "ids"
    ][0]
    return client.post("/api/v1/cases", json={"feedback_ids": [item], "team": "logistics"}).json()["id"]


def _send(db, smtp, base):
    return send_follow_ups(db, SmtpMailer(host=smtp.host, port=smtp.port), public_url=base)


def test_resolving_asks_the_customer_and_no_reopens_yes_closes(client, db, smtp_server, live_server):
    case_id = _case_for(client, "C-1", "li@example.com", "包裹被压坏了")
    url = f"/api/v1/cases/{case_id}"
    client.post(f"{url}/comments", json={"body": "已为您补发一个新的，明天送到。", "internal": False})
    client.patch(url, json={"status": "resolved"})
    assert _send(db, smtp_server, live_server).sent == 1
    assert _send(db, smtp_server, live_server).sent == 0  # once
    [mail] = smtp_server.messages
    body = mail.get_body(("plain",)).get_content()
    assert mail["To"] == "li@example.com" and "已为您补发一个新的" in body
    no_link = re.search(r"(http\S+/f/\S+\?solved=no)", body).group(1)

    with httpx.Client(timeout=30) as browser:
        page = browser.get(no_link)  # opening the link (or a mail scanner doing so) answers nothing
        assert page.status_code == 200 and "li@example.com" not in page.text
        assert client.get(url).json()["status"] == "resolved"
        answered = browser.post(no_link.split("?")[0], data={"solved": "no", "comment": "还是没收到"})
        assert answered.status_code == 200
    reopened = client.get(url).json()
    assert (reopened["status"], reopened["reopened"]) == ("in_progress", 1)
    assert (
        reopened["events"][-2]["kind"] == "customer_answer" and reopened["events"][-2]["body"] == "还是没收到"
    )

    client.patch(url, json={"status": "resolved"})  # second round: a new follow-up
    assert _send(db, smtp_server, live_server).sent == 1
    second = smtp_server.messages[1].get_body(("plain",)).get_content()
    yes_link = re.search(r"(http\S+/f/\S+)\?solved=yes", second).group(1)
    httpx.post(yes_link, data={"solved": "yes"}, timeout=30)
    assert client.get(url).json()["status"] == "closed"

    metrics = client.get("/api/v1/closed-loop").json()["teams"]["logistics"]
    assert (metrics["resolved"], metrics["followed_up"], metrics["confirmed"], metrics["reopened"]) == (
        1,
        1,
        1,
        1,
    )
    assert metrics["closed_loop_rate"] == 1.0 and metrics["median_hours_to_close"] is not None


def test_consent_and_missing_email_are_honoured(client, db, smtp_server, live_server):
    refused = _case_for(client, "C-2", "no@example.com", "客服态度差")
    with db() as session:
        record_consent(
            session, get_customer(session, "C-2"), purpose="follow_up", granted=False, source="test"
        )
        session.commit()
    no_email = _case_for(client, "C-3", None, "退款太慢")
    for case_id in (refused, no_email):
        client.patch(f"/api/v1/cases/{case_id}", json={"status": "resolved"})
    report = _send(db, smtp_server, live_server)
    assert (report.sent, report.skipped) == (0, 2) and smtp_server.messages == []
    with db() as session:
        reasons = {f.case_id: f.skipped_reason for f in session.scalars(select(FollowUp))}
        assert reasons == {refused: "no_consent", no_email: "no_email"}
        assert all(c.status == "resolved" for c in session.scalars(select(Case)))


def test_a_bad_answer_link_and_a_missing_choice(client, db, smtp_server, live_server):
    assert httpx.get(f"{live_server}/f/not-a-token", timeout=30).status_code == 404
    case_id = _case_for(client, "C-4", "x@example.com", "发票开错了")
    client.patch(f"/api/v1/cases/{case_id}", json={"status": "resolved"})
    _send(db, smtp_server, live_server)
    with db() as session:
        token = session.scalars(select(FollowUp.token)).one()
    unanswered = httpx.post(
        f"{live_server}/f/{token}", data={"comment": "<script>alert(1)</script>"}, timeout=30
    )
    assert unanswered.status_code == 422 and "<script>alert" not in unanswered.text


def test_a_shipped_action_plan_tells_the_customers_behind_its_theme(client, db, smtp_server, live_server):
    from closeloop.jobs.analysis import active_engine, analyse_items

    ids = []
    for n, text in enumerate(["包装太简陋，盒子都压扁了", "外包装破损严重", "物流很快"]):
        body = {
            "channel": "jd",
            "text": text,
            "customer": {"external_id": f"P-{n}", "email": f"p{n}@example.com"},
        }
        ids.append(client.post("/api/v1/feedback", json=body).json()["ids"][0])
    analyse_items(db, ids, active_engine())
    plan = client.post(
        "/api/v1/action-plans",
        json={"title": "换用加厚纸箱 / thicker boxes", "theme": {"category": "packaging"}},
    ).json()
    client.patch(f"/api/v1/action-plans/{plan['id']}", json={"status": "shipped"})
    with db() as session:
        keys = sorted(f.key for f in session.scalars(select(FollowUp)))
    assert keys == [f"plan:{plan['id']}:{cid}" for cid in _customer_ids(db, ["P-0", "P-1"])]
    assert _send(db, smtp_server, live_server).sent == 2
    assert {m["To"] for m in smtp_server.messages} == {"p0@example.com", "p1@example.com"}
    assert "换用加厚纸箱" in smtp_server.messages[0].get_body(("plain",)).get_content()


def _customer_ids(db, keys: list[str]) -> list[int]:
    with db() as session:
        return sorted(get_customer(session, key).id for key in keys)
