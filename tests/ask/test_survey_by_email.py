"""The whole survey loop over the wire: an order event, the invitation e-mail through a real SMTP server,
the one-click score link in the received message followed over HTTP, the rest of the form answered, and
the answer stored as feedback linked to the customer."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy import select

from closeloop.ask.definitions import EXAMPLES_DIR
from closeloop.ask.invitations import EventIn, record_events, run_invitations, save_rule
from closeloop.ask.service import save_survey
from closeloop.collect.customers import record_consent, upsert_customer
from closeloop.collect.records import CustomerRef
from closeloop.notify.mailer import SmtpMailer
from closeloop.store.models import FeedbackItem, Invitation, SurveyResponse, utcnow


def test_answer_a_survey_from_the_received_email(live_server, db, smtp_server):
    with db() as session:
        save_survey(session, (EXAMPLES_DIR / "post_purchase_nps.yaml").read_text(encoding="utf-8"))
        save_rule(
            session,
            {
                "id": "after_order",
                "survey_id": "post-purchase-nps",
                "event_type": "order_completed",
                "delay": "7d",
                "quiet_hours": None,
            },
        )
        customer = upsert_customer(session, CustomerRef(external_id="C-88", email="wang@example.com"))
        record_consent(session, customer, purpose="survey", granted=True, source="checkout")
        record_events(
            session,
            [
                EventIn(
                    "order-88",
                    "order_completed",
                    CustomerRef(external_id="C-88"),
                    utcnow() - timedelta(days=8),
                )
            ],
        )
        session.commit()
    mailer = SmtpMailer(host=smtp_server.host, port=smtp_server.port)
    assert run_invitations(db, mailer, public_url=live_server).sent == 1

    [message] = smtp_server.messages
    html = message.get_body(("html",)).get_content()
    link = re.search(r'href="([^"]+/click\?q=nps&amp;v=3)"', html).group(1).replace("&amp;", "&")
    assert link.startswith(live_server)
    with httpx.Client(timeout=30, follow_redirects=True) as browser:
        form = browser.get(link)  # the score is saved by the click; the form asks the rest
        assert form.status_code == 200 and "wang@example.com" not in form.text and "C-88" not in form.text
        token = str(form.url).rsplit("/r/", 1)[1].split("?")[0]
        with db() as session:
            assert session.scalars(select(SurveyResponse)).one().answers == {"nps": 3}
        shown = re.search(r'name="shown" value="([^"]*)"', form.text).group(1)
        done = browser.post(
            f"{live_server}/r/{token}",
            data={"shown": shown, "q_nps": "3", "q_why": "快递太慢，包装也压坏了", "action": "submit"},
        )
        assert done.status_code == 200
    with db() as session:
        item = session.scalars(select(FeedbackItem).where(FeedbackItem.channel == "survey")).one()
        assert (item.rating, item.rating_scale_max, item.text) == (3.0, 10.0, "快递太慢，包装也压坏了")
        assert item.customer_id == customer.id
        assert session.scalars(select(Invitation)).one().answered_at is not None
