"""Invitations from the store over real SMTP, with a controllable clock: each invitation is sent once at
the right time, one reminder, the over-survey limit and unsubscribe hold, SMTP down loses nothing, and a
restart mid-run neither loses nor repeats a send."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from closeloop.ask.definitions import EXAMPLES_DIR
from closeloop.ask.invitations import EventIn, RuleError, record_events, run_invitations, save_rule
from closeloop.ask.service import answer_one_click, response_for_token, save_answers, save_survey
from closeloop.collect.customers import get_customer, record_consent
from closeloop.collect.records import CustomerRef
from closeloop.notify.mailer import SmtpMailer
from closeloop.store.models import FeedbackItem, Invitation

# 2026-03-02 10:00 in Shanghai (02:00 UTC): an order completes.
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
PUBLIC = "http://survey.example"
RULE = {
    "id": "after_order",
    "survey_id": "post-purchase-nps",
    "event_type": "order_completed",
    "delay": "7d",
    "reminder_after": "3d",
    "max_per_customer_days": 30,
    "expires_after": "20d",
}


@pytest.fixture
def store(db):
    with db() as session:
        save_survey(session, (EXAMPLES_DIR / "post_purchase_nps.yaml").read_text(encoding="utf-8"))
        save_rule(session, RULE)
        session.commit()
    return db


def _customer(db, key: str, *, consent: bool = True, email: str | None = "buyer@example.com") -> None:
    from closeloop.collect.customers import upsert_customer

    with db() as session:
        customer = upsert_customer(session, CustomerRef(external_id=key, email=email))
        if consent is not None:
            record_consent(
                session,
                customer,
                purpose="survey",
                granted=consent,
                source="checkout",
                at=T0 - timedelta(days=30),
            )
        session.commit()


def _event(db, event_id: str, key: str, at: datetime = T0) -> None:
    with db() as session:
        record_events(session, [EventIn(event_id, "order_completed", CustomerRef(external_id=key), at)])
        session.commit()


def _tick(db, smtp, at: datetime):
    mailer = SmtpMailer(host=smtp.host, port=smtp.port, sender="closeloop <cx@example.com>")
    return run_invitations(db, mailer, now=at, public_url=PUBLIC)


def test_invitation_sent_once_at_the_right_time_then_one_reminder(store, smtp_server):
    _customer(store, "C-1")
    _event(store, "order-1", "C-1")
    assert _tick(store, smtp_server, T0 + timedelta(days=6, hours=23)).sent == 0
    report = _tick(store, smtp_server, T0 + timedelta(days=7))
    assert (report.sent, report.failed) == (1, 0)
    assert _tick(store, smtp_server, T0 + timedelta(days=7, minutes=1)).sent == 0  # exactly once
    [invite] = smtp_server.messages
    assert invite["To"] == "buyer@example.com" and invite["List-Unsubscribe"].startswith(f"<{PUBLIC}/u/")
    body = invite.get_body(("plain",)).get_content()
    assert f"{PUBLIC}/r/" in body and "click?q=nps&v=0" in body and "click?q=nps&v=10" in body

    assert _tick(store, smtp_server, T0 + timedelta(days=9, hours=23)).reminded == 0
    assert _tick(store, smtp_server, T0 + timedelta(days=10)).reminded == 1
    assert _tick(store, smtp_server, T0 + timedelta(days=11)).reminded == 0
    assert len(smtp_server.messages) == 2 and smtp_server.messages[1]["Subject"].startswith("提醒")


def test_answering_from_the_email_link_stops_the_reminder_and_stores_feedback(store, smtp_server):
    _customer(store, "C-2")
    _event(store, "order-2", "C-2")
    _tick(store, smtp_server, T0 + timedelta(days=7))
    body = smtp_server.messages[0].get_body(("plain",)).get_content()
    token = body.split(f"{PUBLIC}/r/")[1].split("/")[0].split()[0]
    with store() as session:
        response = response_for_token(session, token)
        answer_one_click(session, response, "nps", 3)
        save_answers(session, response, {"why": "快递太慢了"}, finish=True)
        session.commit()
        item = session.scalars(select(FeedbackItem)).one()
        assert (item.rating, item.rating_scale_max, item.text, item.channel) == (
            3.0,
            10.0,
            "快递太慢了",
            "survey",
        )
        assert item.customer_id == get_customer(session, "C-2").id
        assert session.scalars(select(Invitation)).one().answered_at is not None
    assert _tick(store, smtp_server, T0 + timedelta(days=10)).reminded == 0
    assert len(smtp_server.messages) == 1


def test_quiet_hours_postpone_a_send_to_the_morning(store, smtp_server):
    _customer(store, "C-3")
    evening = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # 22:00 in Shanghai
    _event(store, "order-3", "C-3", at=evening)
    assert _tick(store, smtp_server, evening + timedelta(days=7)).sent == 0
    morning = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai the next day
    assert _tick(store, smtp_server, morning - timedelta(minutes=1)).sent == 0
    assert _tick(store, smtp_server, morning).sent == 1


def test_over_survey_limit_unsubscribe_and_missing_consent_are_skipped_with_reasons(store, smtp_server):
    _customer(store, "C-4")
    _event(store, "order-4a", "C-4")
    _event(store, "order-4b", "C-4", at=T0 + timedelta(days=5))
    _customer(store, "C-5", consent=False)  # unsubscribed
    _event(store, "order-5", "C-5")
    _customer(store, "C-6", consent=None)  # never asked: no consent on record
    _event(store, "order-6", "C-6")
    _tick(store, smtp_server, T0 + timedelta(days=7))
    report = _tick(store, smtp_server, T0 + timedelta(days=12))
    assert report.sent == 0
    with store() as session:
        reasons = {
            i.key.split(":")[-1]: (i.status, i.skipped_reason) for i in session.scalars(select(Invitation))
        }
    events = {e: i for e, i in reasons.items()}
    invites = [m for m in smtp_server.messages if m["X-Closeloop-Invitation"].startswith("invite:")]
    assert len(invites) == 1  # (C-4 also gets the reminder of its first invitation)
    assert sorted(status for status, _ in events.values()) == ["sent", "skipped", "skipped", "skipped"]
    assert sorted(reason for _, reason in events.values() if reason) == [
        "no_consent",
        "over_survey_limit",
        "unsubscribed",
    ]


def test_smtp_down_loses_nothing_and_sends_once_when_back(store, smtp_server):
    _customer(store, "C-7")
    _event(store, "order-7", "C-7")
    smtp_server.stop()
    down = _tick(store, smtp_server, T0 + timedelta(days=7))
    assert (down.sent, down.failed) == (0, 1) and "refused or unreachable" in down.errors[0]
    with store() as session:
        invitation = session.scalars(select(Invitation)).one()
        assert invitation.sent_at is None and "SMTP" in invitation.last_error
    smtp_server.start()
    assert _tick(store, smtp_server, T0 + timedelta(days=7, minutes=5)).sent == 1
    assert _tick(store, smtp_server, T0 + timedelta(days=7, minutes=10)).sent == 0
    assert len(smtp_server.messages) == 1


def test_a_restart_mid_run_neither_loses_nor_repeats(store, smtp_server):
    for n in range(3):
        _customer(store, f"C-{10 + n}")
        _event(store, f"order-{10 + n}", f"C-{10 + n}")

    class KilledAtSecond(SmtpMailer):
        calls = 0

        def send(self, mail):  # the process is killed while it works through the due sends
            KilledAtSecond.calls += 1
            if KilledAtSecond.calls == 2:
                raise KeyboardInterrupt
            super().send(mail)

    dying = KilledAtSecond(host=smtp_server.host, port=smtp_server.port)
    with pytest.raises(KeyboardInterrupt):
        run_invitations(store, dying, now=T0 + timedelta(days=7), public_url=PUBLIC)
    assert len(smtp_server.messages) == 1
    _tick(store, smtp_server, T0 + timedelta(days=7, minutes=1))  # the restarted scheduler
    _tick(store, smtp_server, T0 + timedelta(days=7, minutes=2))
    keys = [m["X-Closeloop-Invitation"] for m in smtp_server.messages]
    assert sorted(keys) == sorted(f"invite:after_order:{n}" for n in _event_ids(store))


def _event_ids(db) -> list[int]:
    from closeloop.store.models import CustomerEvent

    with db() as session:
        return list(session.scalars(select(CustomerEvent.id)))


def test_rules_are_validated(store):
    with store() as session:
        with pytest.raises(RuleError, match="no survey"):
            save_rule(session, {**RULE, "id": "x", "survey_id": "nope"})
        with pytest.raises(RuleError, match="expires_after"):
            save_rule(session, {**RULE, "id": "y", "expires_after": "1d"})


def test_a_send_time_ab_test_sends_each_customer_at_its_arms_time(store, smtp_server):
    from closeloop.ask.results import experiment
    from closeloop.ask.service import load

    with store() as session:
        save_rule(
            session,
            {
                **RULE,
                "id": "send_time",
                "event_type": "ticket_closed",
                "quiet_hours": None,
                "send_time_variants": {"next_day": {"delay": "1d"}, "next_week": {"delay": "7d"}},
            },
        )
        session.commit()
    for n in range(30):
        _customer(store, f"S-{n}")
        with store() as session:
            record_events(
                session, [EventIn(f"ticket-{n}", "ticket_closed", CustomerRef(external_id=f"S-{n}"), T0)]
            )
            session.commit()
    early = _tick(store, smtp_server, T0 + timedelta(days=1, minutes=1))
    late = _tick(store, smtp_server, T0 + timedelta(days=7, minutes=1))
    with store() as session:
        sent = {
            i.variant: i for i in session.scalars(select(Invitation).where(Invitation.rule_id == "send_time"))
        }
        arms = {
            variant: sorted(
                {i.sent_at for i in session.scalars(select(Invitation).where(Invitation.variant == variant))}
            )
            for variant in sent
        }
        result = experiment(session, load(session, "post-purchase-nps").survey)
    assert set(arms) == {"next_day", "next_week"} and early.sent + late.sent == 30
    assert arms["next_day"] == [T0 + timedelta(days=1, minutes=1)]
    assert arms["next_week"] == [T0 + timedelta(days=7, minutes=1)]
    assert {"next_day", "next_week"} <= set(result["variants"])
    assert result["response_rate"]["winner"] is None  # nobody answered yet: no winner
