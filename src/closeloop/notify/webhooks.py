"""Outgoing webhook notifications (a case assigned, an SLA breach, a digest …) to chat bots and to any
HTTP endpoint, signed where the platform supports it.

``render`` is pure (notification in, request out); ``send`` posts it with a bounded retry and never raises
for network trouble: it returns a ``DeliveryResult`` for the caller to record.

Message formats and signing, per platform (as documented by each vendor):

- ``generic``: closeloop's own JSON, signed exactly like the webhooks closeloop receives
  (``closeloop.collect.webhooks``): ``X-Closeloop-Timestamp: <unix seconds>`` and
  ``X-Closeloop-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>``.
- ``feishu`` (Feishu/Lark custom bot, open.feishu.cn/document/client-docs/bot-v3/add-custom-bot):
  ``{"msg_type": "post", "content": {"post": {"zh_cn": {"title", "content": [[elements]]}}}}``; with
  signature verification on, the body also carries ``"timestamp"`` (unix seconds, within 1 h of Feishu's
  clock) and ``"sign" = base64(HMAC-SHA256(key=f"{timestamp}\\n{secret}", msg=b""))``. Errors come back as
  HTTP 200 with a non-zero ``code`` (e.g. 19021: bad signature or stale timestamp).
- ``dingtalk`` (DingTalk custom robot, open.dingtalk.com/document/orgapp/custom-robots-send-group-messages):
  ``{"msgtype": "markdown", "markdown": {"title", "text"}}``; with "加签" on, the URL gets
  ``&timestamp=<unix ms>&sign=<urlencode(base64(HMAC-SHA256(key=secret, msg=f"{timestamp}\\n{secret}")))>``.
  Errors are HTTP 200 with a non-zero ``errcode`` (130101: more than 20 messages a minute).
- ``wecom`` (WeChat Work group bot, developer.work.weixin.qq.com/document/path/91770):
  ``{"msgtype": "markdown", "markdown": {"content"}}``, content at most 4096 bytes of UTF-8; no signature
  (the ``key`` in the URL is the credential). Errors are HTTP 200 with ``errcode`` (45009: rate limited).
- ``slack`` (incoming webhook, api.slack.com/messaging/webhooks and Block Kit): ``{"text", "blocks"}``
  with a header block (plain text, ≤ 150 chars), mrkdwn sections (≤ 3000 chars, ``& < >`` escaped) and
  field sections (≤ 10 fields, ≤ 2000 chars each); no signature (the URL is the credential). Errors are
  4xx with a short text body (``invalid_payload``, ``channel_not_found`` …).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import httpx

from closeloop.collect.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

WebhookKind = Literal["generic", "feishu", "dingtalk", "wecom", "slack"]
KINDS: tuple[str, ...] = ("generic", "feishu", "dingtalk", "wecom", "slack")
SIGNED_KINDS: tuple[str, ...] = ("generic", "feishu", "dingtalk")
EVENT_HEADER = "X-Closeloop-Event"
USER_AGENT = "closeloop-webhooks/1"
OPEN_LINK_LABEL = "查看 / Open"

# Platform answers that mean "slow down", worth retrying like HTTP 429.
RATE_LIMIT_CODES: dict[str, frozenset[int]] = {
    "feishu": frozenset({11232}),
    "dingtalk": frozenset({130101}),
    "wecom": frozenset({45009}),
}
MAX_REDIRECTS = 3
MAX_RETRY_AFTER = 30.0
WECOM_MARKDOWN_BYTES = 4096
SLACK_HEADER_CHARS = 150
SLACK_SECTION_CHARS = 3000
SLACK_FIELD_CHARS = 2000
SLACK_FIELDS_PER_SECTION = 10
TEXT_CHARS = 4000


def check_url(url: str) -> None:
    """Raise ``ValueError`` unless ``url`` is http(s) with a host (file:, ftp:, javascript: … are refused)."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(
            f"webhook URL must start with http:// or https:// (网址必须以 http:// 或 https:// 开头), "
            f"got scheme {parts.scheme or '(none)'!r}"
        )
    if not parts.hostname:
        raise ValueError("webhook URL has no host (网址缺少主机名)")


def url_host(url: str) -> str:
    """``host[:port]`` of a URL: what error texts show, never the path or query (bot keys live there)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """Where a team's notifications go: a bot URL of one ``kind``, with the signing secret if it has one.

    Raises ``ValueError`` for an unknown kind, a non-http(s) URL, or a secret for a kind that is not signed
    (WeCom and Slack authenticate by the key in the URL).
    """

    url: str
    kind: WebhookKind = "generic"
    secret: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"unknown webhook kind {self.kind!r} (未知类型); expected one of {', '.join(KINDS)}"
            )
        check_url(self.url)
        if self.secret and self.kind not in SIGNED_KINDS:
            raise ValueError(
                f"{self.kind} bots are not signed; the key in the URL is the credential (无需密钥)"
            )

    def __repr__(self) -> str:
        return f"WebhookTarget(kind={self.kind!r}, host={url_host(self.url)!r}, signed={bool(self.secret)})"


@dataclass(frozen=True, slots=True)
class Notification:
    """What to tell a team: title and text (Chinese and/or English), a link, labelled fields, and for the
    ``generic`` kind the machine-readable ``event`` name and ``payload``."""

    title: str
    text: str
    url: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    event: str = "notification"
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """How a send went: ``status`` is the last HTTP status (None: no answer); ``error`` says why not ok."""

    ok: bool
    status: int | None
    error: str | None
    attempts: int


# ---------------------------------------------------------------------------------------------- signing


def feishu_sign(secret: str, timestamp: str) -> str:
    """Feishu/Lark custom bot ``sign``: base64(HMAC-SHA256 keyed by ``"<timestamp>\\n<secret>"`` of b"")."""
    digest = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def dingtalk_sign(secret: str, timestamp_ms: str) -> str:
    """DingTalk robot ``sign``, not yet URL-encoded: base64(HMAC-SHA256(secret, "<ms>\\n<secret>"))."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


# --------------------------------------------------------------------------------------------- rendering


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _clip_utf8(text: str, limit_bytes: int) -> str:
    """Cut ``text`` so its UTF-8 form fits ``limit_bytes``, never splitting a character."""
    if len(text.encode()) <= limit_bytes:
        return text
    cut = text.encode()[: limit_bytes - len("…".encode())].decode(errors="ignore")
    return cut + "…"


def _json_default(value: Any) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _json_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, default=_json_default, separators=(",", ":")).encode()


def _json_headers() -> dict[str, str]:
    return {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}


def generic_document(notification: Notification) -> dict[str, Any]:
    return {
        "event": notification.event,
        "title": notification.title,
        "text": notification.text,
        "url": notification.url,
        "fields": {str(name): str(value) for name, value in notification.fields.items()},
        "payload": notification.payload,
    }


def feishu_document(notification: Notification) -> dict[str, Any]:
    """A Feishu ``post`` (rich text): one paragraph per text line, one per field, then the link."""
    paragraphs: list[list[dict[str, str]]] = [
        [{"tag": "text", "text": line}] for line in _clip(notification.text, TEXT_CHARS).split("\n")
    ]
    paragraphs += [
        [{"tag": "text", "text": f"{name}: {value}"}] for name, value in notification.fields.items()
    ]
    if notification.url:
        paragraphs.append([{"tag": "a", "text": OPEN_LINK_LABEL, "href": notification.url}])
    post = {"zh_cn": {"title": notification.title, "content": paragraphs}}
    return {"msg_type": "post", "content": {"post": post}}


def dingtalk_document(notification: Notification) -> dict[str, Any]:
    """A DingTalk ``markdown`` message; DingTalk needs a blank line between markdown paragraphs."""
    parts = [f"#### {notification.title}", _clip(notification.text, TEXT_CHARS).replace("\n", "\n\n")]
    parts += [f"- **{name}**: {value}" for name, value in notification.fields.items()]
    if notification.url:
        parts.append(f"[{OPEN_LINK_LABEL}]({notification.url})")
    return {"msgtype": "markdown", "markdown": {"title": notification.title, "text": "\n\n".join(parts)}}


def wecom_document(notification: Notification) -> dict[str, Any]:
    """A WeCom ``markdown`` message (bold title, quoted grey fields, link), cut to 4096 UTF-8 bytes."""
    lines = [f"**{notification.title}**", notification.text]
    lines += [
        f'> {name}: <font color="comment">{value}</font>' for name, value in notification.fields.items()
    ]
    # The link goes last and is kept whole: when too long, the text is cut, not the link.
    link = f"\n[{OPEN_LINK_LABEL}]({notification.url})" if notification.url else ""
    content = _clip_utf8("\n".join(lines), WECOM_MARKDOWN_BYTES - len(link.encode())) + link
    return {"msgtype": "markdown", "markdown": {"content": content}}


def slack_escape(text: str) -> str:
    """Slack mrkdwn control characters: ``&``, ``<`` and ``>`` must be sent as HTML entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_document(notification: Notification) -> dict[str, Any]:
    """Slack Block Kit: header, text section, field sections (10 a block), link; ``text`` is the fallback."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": _clip(notification.title, SLACK_HEADER_CHARS)},
        }
    ]
    if notification.text.strip():
        body = _clip(slack_escape(notification.text), SLACK_SECTION_CHARS)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body}})
    field_texts = [
        {"type": "mrkdwn", "text": _clip(f"*{slack_escape(name)}*\n{slack_escape(value)}", SLACK_FIELD_CHARS)}
        for name, value in notification.fields.items()
    ]
    for start in range(0, len(field_texts), SLACK_FIELDS_PER_SECTION):
        blocks.append({"type": "section", "fields": field_texts[start : start + SLACK_FIELDS_PER_SECTION]})
    if notification.url:
        link = notification.url.replace("|", "%7C").replace(">", "%3E")
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"<{link}|{OPEN_LINK_LABEL}>"}})
    fallback = _clip(f"{notification.title}\n{notification.text}", SLACK_SECTION_CHARS)
    return {"text": fallback, "blocks": blocks}


def render(
    target: WebhookTarget, notification: Notification, *, now: float | None = None
) -> tuple[bytes, dict[str, str], str]:
    """The request to send: ``(body bytes, headers, final URL)``, signed at ``now`` (default time.time())."""
    now = time.time() if now is None else now
    headers = _json_headers()
    if target.kind == "generic":
        body = _json_bytes(generic_document(notification))
        headers[EVENT_HEADER] = notification.event
        if target.secret:
            timestamp = str(int(now))
            headers[TIMESTAMP_HEADER] = timestamp
            headers[SIGNATURE_HEADER] = sign(target.secret, timestamp, body)
        return body, headers, target.url
    if target.kind == "feishu":
        document = feishu_document(notification)
        if target.secret:
            timestamp = str(int(now))
            document = {"timestamp": timestamp, "sign": feishu_sign(target.secret, timestamp), **document}
        return _json_bytes(document), headers, target.url
    if target.kind == "dingtalk":
        url = target.url
        if target.secret:
            timestamp_ms = str(int(now * 1000))
            signature = urllib.parse.quote_plus(dingtalk_sign(target.secret, timestamp_ms))
            separator = "&" if urllib.parse.urlsplit(url).query else "?"
            url += f"{separator}timestamp={timestamp_ms}&sign={signature}"
        return _json_bytes(dingtalk_document(notification)), headers, url
    if target.kind == "wecom":
        return _json_bytes(wecom_document(notification)), headers, target.url
    return _json_bytes(slack_document(notification)), headers, target.url


# ----------------------------------------------------------------------------------------------- sending


@dataclass(frozen=True, slots=True)
class _Attempt:
    ok: bool
    status: int | None
    error: str | None
    retryable: bool
    retry_after: float | None = None


def _excerpt(response: httpx.Response, limit: int = 200) -> str:
    text = response.content[: limit * 4].decode("utf-8", errors="replace")
    return " ".join(_clip(text, limit).split()) or "(empty body)"


def _platform_error(kind: str, response: httpx.Response) -> tuple[int, str] | None:
    """The (code, message) of a bot that answered HTTP 2xx but refused the message, else None."""
    if kind not in RATE_LIMIT_CODES:
        return None
    try:
        answer = response.json()
    except ValueError:
        return None
    if not isinstance(answer, dict):
        return None
    code = (
        answer.get("errcode")
        if kind in ("dingtalk", "wecom")
        else answer.get("code", answer.get("StatusCode"))
    )
    if not isinstance(code, int) or code == 0:
        return None
    message = answer.get("errmsg") if kind in ("dingtalk", "wecom") else answer.get("msg")
    return code, str(message or "")


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return min(float(response.headers.get("Retry-After", "")), MAX_RETRY_AFTER)
    except ValueError:
        return None


def _judge(kind: str, where: str, response: httpx.Response) -> _Attempt:
    """Success, a refusal to give up on (4xx, platform error), or trouble worth another try (5xx, 429)."""
    status = response.status_code
    if 200 <= status < 300:
        refused = _platform_error(kind, response)
        if refused is None:
            return _Attempt(True, status, None, retryable=False)
        code, message = refused
        return _Attempt(
            False,
            status,
            f"{where}: HTTP {status} but the bot refused the message: code {code}: {message}",
            retryable=code in RATE_LIMIT_CODES.get(kind, frozenset()),
        )
    retryable = status == 429 or status >= 500
    return _Attempt(
        False,
        status,
        f"{where}: HTTP {status}: {_excerpt(response)}",
        retryable=retryable,
        retry_after=_retry_after(response) if retryable else None,
    )


def _same_host_redirect(current: httpx.URL, location: str) -> httpx.URL | None:
    """The URL a redirect points to when it stays on the same host (http→https allowed), else None."""
    target = current.join(location)
    if target.host != current.host or target.scheme not in ("http", "https"):
        return None
    if current.scheme == "https" and target.scheme == "http":
        return None
    return target


def _post_once(client: httpx.Client, kind: str, url: str, body: bytes, headers: dict[str, str]) -> _Attempt:
    """One POST, following at most ``MAX_REDIRECTS`` same-host redirects by re-posting the same body."""
    where = f"{kind} webhook {url_host(url)}"
    current = httpx.URL(url)
    try:
        for _ in range(MAX_REDIRECTS + 1):
            response = client.post(current, content=body, headers=headers)
            location = response.headers.get("Location")
            if not (response.is_redirect and location):
                return _judge(kind, where, response)
            following = _same_host_redirect(current, location)
            if following is None:
                return _Attempt(
                    False,
                    response.status_code,
                    f"{where}: HTTP {response.status_code} redirect to "
                    f"{url_host(str(current.join(location)))} not followed (only same-host redirects are)",
                    retryable=False,
                )
            current = following
        return _Attempt(False, response.status_code, f"{where}: more than {MAX_REDIRECTS} redirects", False)
    except httpx.TimeoutException as exc:
        return _Attempt(False, None, f"{where}: timed out ({type(exc).__name__})", retryable=True)
    except httpx.TransportError as exc:
        return _Attempt(False, None, f"{where}: cannot connect: {exc or type(exc).__name__}", retryable=True)


def send(
    target: WebhookTarget,
    notification: Notification,
    *,
    timeout: float = 10.0,
    clock: Callable[[], float] = time.time,
    attempts: int = 3,
    backoff: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
) -> DeliveryResult:
    """Deliver ``notification`` to ``target``, up to ``attempts`` tries (waiting ``backoff`` s, then
    doubling, or the server's ``Retry-After`` up to 30 s) on connection errors, timeouts, 5xx, 429 and bot
    rate limits; never on other 4xx or refusals. Each try is signed afresh with ``clock()``. Never raises
    for network errors: the returned ``DeliveryResult`` says what happened, naming the host, not the URL."""
    last = _Attempt(False, None, "no attempt made", retryable=False)
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        for attempt in range(1, max(attempts, 1) + 1):
            body, headers, url = render(target, notification, now=clock())
            last = _post_once(client, target.kind, url, body, headers)
            if last.ok or not last.retryable or attempt >= attempts:
                return DeliveryResult(last.ok, last.status, last.error, attempt)
            delay = backoff * 2 ** (attempt - 1)
            sleep(max(delay, last.retry_after or 0.0))
    return DeliveryResult(last.ok, last.status, last.error, max(attempts, 1))
