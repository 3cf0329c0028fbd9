"""The feedback inbox page: lists stored feedback in Chinese or English, filters, escapes HTML."""

from __future__ import annotations


def post(client, **item):
    response = client.post("/api/v1/feedback", json={"channel": "taobao", **item})
    assert response.status_code == 201, response.text


def test_inbox_lists_feedback_in_chinese_by_default(client):
    post(client, text="快递太慢了", external_id="1")
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "快递太慢了" in page.text and "反馈" in page.text
    english = client.get("/?lang=en")
    assert "Feedback" in english.text and "快递太慢了" in english.text
    assert "Feedback" in client.get("/", headers={"Accept-Language": "en-US,en;q=0.9"}).text


def test_inbox_filters_by_channel_and_text(client):
    post(client, text="包装破损", external_id="1")
    post(client, text="客服很好", external_id="2", channel="wechat")
    assert "客服很好" not in client.get("/", params={"channel": "taobao"}).text
    page = client.get("/", params={"q": "客服"})
    assert "客服很好" in page.text and "包装破损" not in page.text


def test_feedback_html_is_escaped(client):
    post(client, text='<script>alert("x")</script><img src=x onerror=alert(1)>', external_id="xss")
    page = client.get("/").text
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page


def test_empty_inbox_explains_how_to_start(client):
    assert "closeloop demo" in client.get("/").text
