"""Outgoing webhook notifications against a real local HTTP server: per-platform bodies, signatures
recomputed here from each vendor's documented formula, retries, refusals and redirects."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from closeloop.collect.webhooks import WebhookRefusedError, verify
from closeloop.notify.webhooks import (
    DeliveryResult,
    Notification,
    WebhookTarget,
    render,
    send,
    slack_escape,
)
from closeloop.store.models import WebhookSource

NOW = 1_717_000_000.25  # a fixed clock: every signature below is reproducible


@dataclass
class Reply:
    status: int = 200
    body: bytes = b'{"ok": true}'
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


class BotServer:
    """A bot endpoint on 127.0.0.1 that records every request and answers from a script of replies."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.replies: list[Reply] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                server.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                reply = server.replies.pop(0) if server.replies else Reply()
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def bot() -> Iterator[BotServer]:
    server = BotServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()
    server.thread.join()


@pytest.fixture
def waits() -> list[float]:
    return []


def deliver(target: WebhookTarget, notification: Notification, waits: list[float]) -> DeliveryResult:
    return send(target, notification, timeout=5, clock=lambda: NOW, sleep=waits.append)


CASE_ASSIGNED = Notification(
    title="新工单 #42 已分配 / Case #42 assigned",
    text="物流投诉：包裹破损，三天未送达。\nLogistics complaint: parcel damaged, 3 days late.",
    url="https://closeloop.example/cases/42",
    fields={"团队 / Team": "物流 logistics", "优先级 / Priority": "紧急 urgent", "SLA": "4 h"},
    event="case.assigned",
    payload={"case_id": 42, "team": "logistics", "priority": "urgent"},
)


# ------------------------------------------------------------------------------------------ generic


def test_generic_delivery_is_signed_like_closeloops_incoming_webhooks(
    bot: BotServer, waits: list[float]
) -> None:
    result = deliver(WebhookTarget(bot.url(), "generic", "s3cret"), CASE_ASSIGNED, waits)

    assert result == DeliveryResult(ok=True, status=200, error=None, attempts=1)
    [request] = bot.received
    assert request.json() == {
        "event": "case.assigned",
        "title": CASE_ASSIGNED.title,
        "text": CASE_ASSIGNED.text,
        "url": "https://closeloop.example/cases/42",
        "fields": CASE_ASSIGNED.fields,
        "payload": {"case_id": 42, "team": "logistics", "priority": "urgent"},
    }
    assert request.headers["x-closeloop-event"] == "case.assigned"
    assert request.headers["x-closeloop-timestamp"] == "1717000000"
    expected = hmac.new(b"s3cret", b"1717000000." + request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-closeloop-signature"] == f"sha256={expected}"

    # closeloop's own verifier for incoming webhooks accepts it, and refuses a tampered body
    source = WebhookSource(name="peer", secret="s3cret", channel="webhook")
    verify(
        source,
        timestamp=request.headers["x-closeloop-timestamp"],
        signature=request.headers["x-closeloop-signature"],
        body=request.body,
        now=NOW + 5,
        tolerance=300,
    )
    with pytest.raises(WebhookRefusedError, match="bad signature"):
        verify(
            source,
            timestamp=request.headers["x-closeloop-timestamp"],
            signature=request.headers["x-closeloop-signature"],
            body=request.body.replace(b"42", b"43"),
            now=NOW,
            tolerance=300,
        )


def test_generic_without_secret_sends_no_signature(bot: BotServer, waits: list[float]) -> None:
    assert deliver(WebhookTarget(bot.url(), "generic"), CASE_ASSIGNED, waits).ok
    [request] = bot.received
    assert "x-closeloop-signature" not in request.headers
    assert "x-closeloop-timestamp" not in request.headers


# ---------------------------------------------------------------------------------- chat platforms


def test_feishu_post_carries_timestamp_and_documented_sign(bot: BotServer, waits: list[float]) -> None:
    bot.replies = [
        Reply(body=b'{"StatusCode":0,"StatusMessage":"success","code":0,"data":{},"msg":"success"}')
    ]
    result = deliver(WebhookTarget(bot.url(), "feishu", "fs-secret"), CASE_ASSIGNED, waits)

    assert result.ok and result.attempts == 1
    message = bot.received[0].json()
    assert message["timestamp"] == "1717000000"
    # Feishu: base64(HmacSHA256 with key "timestamp\nsecret" over an empty message)
    key = b"1717000000\nfs-secret"
    assert message["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert message["msg_type"] == "post"
    post = message["content"]["post"]["zh_cn"]
    assert post["title"] == CASE_ASSIGNED.title
    texts = [element.get("text") for paragraph in post["content"] for element in paragraph]
    assert "物流投诉：包裹破损，三天未送达。" in texts
    assert "团队 / Team: 物流 logistics" in texts
    assert post["content"][-1] == [
        {"tag": "a", "text": "查看 / Open", "href": "https://closeloop.example/cases/42"}
    ]


def test_feishu_refusal_inside_http_200_is_a_failure_and_not_retried(
    bot: BotServer, waits: list[float]
) -> None:
    bot.replies = [
        Reply(body=b'{"code":19021,"data":{},"msg":"sign match fail or timestamp is not within one hour"}')
    ]
    result = deliver(WebhookTarget(bot.url(), "feishu", "wrong"), CASE_ASSIGNED, waits)

    assert not result.ok
    assert result.status == 200 and result.attempts == 1
    assert "19021" in result.error and "sign match fail" in result.error
    assert len(bot.received) == 1 and waits == []


def test_dingtalk_markdown_signed_in_the_url(bot: BotServer, waits: list[float]) -> None:
    bot.replies = [Reply(body=b'{"errcode":0,"errmsg":"ok"}')]
    target = WebhookTarget(bot.url("/robot/send?access_token=tok123"), "dingtalk", "SECabc")
    result = deliver(target, CASE_ASSIGNED, waits)

    assert result.ok
    [request] = bot.received
    path, _, raw_query = request.path.partition("?")
    assert path == "/robot/send"
    query = urllib.parse.parse_qs(raw_query)
    assert query["access_token"] == ["tok123"]
    assert query["timestamp"] == ["1717000000250"]  # milliseconds
    # DingTalk: base64(HmacSHA256(key=secret, msg="timestamp\nsecret")), then URL-encoded
    digest = hmac.new(b"SECabc", b"1717000000250\nSECabc", hashlib.sha256).digest()
    expected_sign = base64.b64encode(digest).decode()
    assert query["sign"] == [expected_sign]
    assert f"sign={urllib.parse.quote_plus(expected_sign)}" in raw_query
    message = request.json()
    assert message["msgtype"] == "markdown"
    assert message["markdown"]["title"] == CASE_ASSIGNED.title
    assert "Logistics complaint: parcel damaged" in message["markdown"]["text"]
    assert "[查看 / Open](https://closeloop.example/cases/42)" in message["markdown"]["text"]


def test_dingtalk_rate_limit_answer_is_retried(bot: BotServer, waits: list[float]) -> None:
    bot.replies = [
        Reply(body=b'{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}'),
        Reply(body=b'{"errcode":0,"errmsg":"ok"}'),
    ]
    result = deliver(WebhookTarget(bot.url("/robot/send?access_token=t"), "dingtalk"), CASE_ASSIGNED, waits)
    assert result.ok and result.attempts == 2 and len(waits) == 1


def test_wecom_markdown_keeps_the_key_out_of_errors_and_fits_4096_bytes(
    bot: BotServer, waits: list[float]
) -> None:
    bot.replies = [Reply(body=b'{"errcode":93000,"errmsg":"invalid webhook url"}')]
    long_digest = Notification(
        title="每周摘要 / Weekly digest", text="差评" * 3000, url="https://c.example/d"
    )
    target = WebhookTarget(bot.url("/cgi-bin/webhook/send?key=secret-key-value"), "wecom")
    result = deliver(target, long_digest, waits)

    assert not result.ok and result.attempts == 1
    assert "93000" in result.error and f"127.0.0.1:{bot.port}" in result.error
    assert "secret-key-value" not in result.error
    content = bot.received[0].json()["markdown"]["content"]
    assert bot.received[0].json()["msgtype"] == "markdown"
    assert len(content.encode()) <= 4096
    assert content.startswith("**每周摘要 / Weekly digest**")
    assert content.endswith("[查看 / Open](https://c.example/d)")


def test_wecom_refuses_a_secret() -> None:
    with pytest.raises(ValueError, match="not signed"):
        WebhookTarget("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k", "wecom", "s")


def test_slack_blocks_escape_control_characters(bot: BotServer, waits: list[float]) -> None:
    bot.replies = [Reply(body=b"ok", headers={"Content-Type": "text/plain"})]
    alert = Notification(
        title="SLA breach / 超时",
        text="<@channel> rating < 2 & angry",
        fields={f"k{i}": "v" for i in range(12)},
    )
    result = deliver(WebhookTarget(bot.url("/services/T/B/X"), "slack"), alert, waits)

    assert result.ok
    message = bot.received[0].json()
    assert message["text"].startswith("SLA breach / 超时")
    header, section, *field_sections = message["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": "SLA breach / 超时"}}
    assert section["text"]["text"] == "&lt;@channel&gt; rating &lt; 2 &amp; angry"
    assert [len(block["fields"]) for block in field_sections] == [10, 2]
    assert slack_escape("a<b>&") == "a&lt;b&gt;&amp;"


# ---------------------------------------------------------------------------------- retry and refusal


def test_retries_after_a_server_error_then_succeeds(bot: BotServer, waits: list[float]) -> None:
    bot.replies = [Reply(status=500, body=b"upstream down"), Reply(status=200)]
    result = deliver(WebhookTarget(bot.url(), "generic", "s"), CASE_ASSIGNED, waits)

    assert result == DeliveryResult(ok=True, status=200, error=None, attempts=2)
    assert len(bot.received) == 2 and waits == [1.0]
    assert bot.received[0].body == bot.received[1].body


def test_honours_retry_after_on_429_and_gives_up_after_three_attempts(
    bot: BotServer, waits: list[float]
) -> None:
    bot.replies = [Reply(status=429, headers={"Retry-After": "7"}, body=b"slow down") for _ in range(3)]
    result = deliver(WebhookTarget(bot.url(), "generic"), CASE_ASSIGNED, waits)

    assert not result.ok and result.status == 429 and result.attempts == 3
    assert waits == [7.0, 7.0]
    assert "HTTP 429" in result.error and "slow down" in result.error


def test_no_retry_on_a_client_error(bot: BotServer, waits: list[float]) -> None:
    bot.replies = [Reply(status=400, body=b'{"error": "invalid_payload: missing text"}')]
    result = deliver(WebhookTarget(bot.url(), "generic"), CASE_ASSIGNED, waits)

    assert not result.ok and result.status == 400 and result.attempts == 1
    assert len(bot.received) == 1 and waits == []
    assert f"generic webhook 127.0.0.1:{bot.port}: HTTP 400" in result.error
    assert "invalid_payload: missing text" in result.error


def test_connection_refused_is_reported_not_raised(waits: list[float]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = deliver(WebhookTarget(f"http://127.0.0.1:{port}/hook", "slack"), CASE_ASSIGNED, waits)

    assert not result.ok and result.status is None and result.attempts == 3
    assert f"slack webhook 127.0.0.1:{port}: cannot connect" in result.error
    assert waits == [1.0, 2.0]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://bots.example/hook",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "bots.example/hook",
        "http:///x",
    ],
)
def test_non_http_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        WebhookTarget(url, "generic")


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown webhook kind"):
        WebhookTarget("https://bots.example/hook", "telegram")  # type: ignore[arg-type]


def test_target_repr_hides_secret_and_url_key() -> None:
    shown = repr(WebhookTarget("https://oapi.dingtalk.com/robot/send?access_token=tok", "dingtalk", "SECx"))
    assert "tok" not in shown and "SECx" not in shown and "oapi.dingtalk.com" in shown


# ------------------------------------------------------------------------------------------- redirects


def test_redirect_to_another_host_is_not_followed(bot: BotServer, waits: list[float]) -> None:
    bot.replies = [Reply(status=307, headers={"Location": "http://collector.invalid/steal"}, body=b"")]
    result = deliver(WebhookTarget(bot.url(), "generic", "s"), CASE_ASSIGNED, waits)

    assert not result.ok and result.status == 307 and result.attempts == 1
    assert "collector.invalid" in result.error and "not followed" in result.error
    assert len(bot.received) == 1


def test_same_host_redirect_reposts_the_same_signed_body(bot: BotServer, waits: list[float]) -> None:
    bot.replies = [Reply(status=308, headers={"Location": "/hook/v2"}, body=b""), Reply(status=204, body=b"")]
    result = deliver(WebhookTarget(bot.url(), "generic", "s"), CASE_ASSIGNED, waits)

    assert result.ok and result.status == 204
    first, second = bot.received
    assert second.path == "/hook/v2"
    assert second.body == first.body
    assert second.headers["x-closeloop-signature"] == first.headers["x-closeloop-signature"]


# ------------------------------------------------------------------------------------------ rendering


@pytest.mark.parametrize("kind", ["generic", "feishu", "dingtalk", "wecom", "slack"])
def test_render_is_utf8_json_naming_the_title(kind: str) -> None:
    body, headers, url = render(WebhookTarget("https://bots.example/hook?x=1", kind), CASE_ASSIGNED, now=NOW)

    assert headers["Content-Type"].startswith("application/json")
    assert "新工单 #42" in json.dumps(json.loads(body.decode("utf-8")), ensure_ascii=False)
    assert "新工单".encode() in body  # Chinese sent as UTF-8, not \\u escapes
    assert url == "https://bots.example/hook?x=1"
