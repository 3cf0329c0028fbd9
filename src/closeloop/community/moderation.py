"""Keeping the public portal clean: rate limits kept in the database, a spam and abuse filter that sends
suspect posts to the moderation queue instead of publishing them, and audited moderator actions.

The filter only holds text back for a person to look at; it never deletes. Its word list is a short,
hand-written default (spam and insults), extended per installation by ``CLOSELOOP_COMMUNITY_BANNED_WORDS``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from closeloop.accounts import audit
from closeloop.settings import Settings
from closeloop.store.models import (
    CommunityComment,
    CommunityPost,
    CommunityRateEvent,
    CommunityToken,
    utcnow,
)

# Hand-written defaults (not derived from any data set): gambling/adult/fraud spam and common insults.
DEFAULT_BANNED_WORDS: tuple[str, ...] = (
    "代开发票",
    "刷单",
    "加微信领",
    "博彩",
    "赌场",
    "色情",
    "傻逼",
    "操你",
    "casino",
    "viagra",
    "porn",
    "crypto giveaway",
    "fuck",
)
MAX_LINKS = 2
MIN_CAPS_LETTERS = 12
CAPS_SHARE = 0.7
MAX_EMOJI = 10
MAX_REPEATED_CHAR_RUN = 12
REPEAT_WINDOW = timedelta(hours=24)

_LINK = re.compile(r"https?://|www\.|\b[a-z0-9-]+\.(?:com|cn|net|top|xyz|io)\b", re.IGNORECASE)
_REPEATED_RUN = re.compile(r"(.)\1{" + str(MAX_REPEATED_CHAR_RUN) + ",}")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``per_member`` acts by one member and ``per_ip`` from one address within ``window``."""

    per_member: int
    per_ip: int
    window: timedelta


RATE_LIMITS: dict[str, RateLimit] = {
    "post": RateLimit(per_member=5, per_ip=20, window=timedelta(hours=1)),
    "comment": RateLimit(per_member=20, per_ip=60, window=timedelta(hours=1)),
    "vote": RateLimit(per_member=60, per_ip=200, window=timedelta(hours=1)),
    "sign_in": RateLimit(per_member=5, per_ip=20, window=timedelta(hours=1)),
}


class RateLimitedError(Exception):
    """Too many acts of one kind in the window; ``retry_after`` is in seconds."""

    def __init__(self, action: str, retry_after: int) -> None:
        super().__init__(f"too many {action}s; try again in {retry_after} seconds")
        self.action = action
        self.retry_after = retry_after


def check_rate(
    session: Session,
    action: str,
    *,
    member_id: int | None,
    ip: str | None,
    now: datetime | None = None,
) -> None:
    """Count this act against its limits and record it; raises ``RateLimitedError`` (recording nothing)
    when the member or the address has used up the window. Kept in the database, so every process of the
    app shares the count."""
    now = now or utcnow()
    limit = RATE_LIMITS[action]
    since = now - limit.window
    checks = [
        (CommunityRateEvent.member_id, member_id, limit.per_member),
        (CommunityRateEvent.ip, ip, limit.per_ip),
    ]
    for column, value, most in checks:
        if value is None:
            continue
        used, oldest = session.execute(
            select(func.count(), func.min(CommunityRateEvent.at)).where(
                CommunityRateEvent.action == action, CommunityRateEvent.at > since, column == value
            )
        ).one()
        if used >= most:
            retry = int(((oldest or now) + limit.window - now).total_seconds()) + 1
            raise RateLimitedError(action, max(retry, 1))
    session.add(CommunityRateEvent(action=action, member_id=member_id, ip=ip, at=now))
    session.flush()


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def _is_emoji(char: str) -> bool:
    return unicodedata.category(char) == "So" or 0x1F000 <= ord(char) <= 0x1FAFF


def spam_reasons(text: str, *, banned_words: Iterable[str] = ()) -> list[str]:
    """Why ``text`` should wait for a moderator: ``links``, ``banned_word``, ``shouting``, ``emoji_flood``,
    ``character_flood``; empty when it may be published at once."""
    folded = _fold(text)
    reasons = []
    if len(_LINK.findall(text)) > MAX_LINKS:
        reasons.append("links")
    words = [_fold(w).strip() for w in (*DEFAULT_BANNED_WORDS, *banned_words)]
    if any(word and word in folded for word in words):
        reasons.append("banned_word")
    letters = [c for c in text if c.isascii() and c.isalpha()]
    if len(letters) >= MIN_CAPS_LETTERS and sum(c.isupper() for c in letters) / len(letters) >= CAPS_SHARE:
        reasons.append("shouting")
    if sum(_is_emoji(c) for c in text) > MAX_EMOJI:
        reasons.append("emoji_flood")
    if _REPEATED_RUN.search(text):
        reasons.append("character_flood")
    return reasons


def is_repeat(session: Session, member_id: int | None, title: str, body: str, *, now: datetime) -> bool:
    """True when the member posted the same title and text in the last day (copy-paste flooding)."""
    if member_id is None:
        return False
    same = session.scalar(
        select(func.count()).where(
            CommunityPost.member_id == member_id,
            CommunityPost.title == title,
            CommunityPost.body == body,
            CommunityPost.created_at > now - REPEAT_WINDOW,
        )
    )
    return bool(same)


def banned_words_setting(value: str | None) -> list[str]:
    """The installation's extra banned words: comma or newline separated."""
    return [word.strip() for word in re.split(r"[,\n，]", value or "") if word.strip()]


def banned_words_for(settings: Settings) -> tuple[str, ...]:
    """The extra banned words configured for this installation (``CLOSELOOP_COMMUNITY_BANNED_WORDS``)."""
    return tuple(banned_words_setting(settings.community_banned_words))


MODERATION_ACTIONS = ("approve", "hide", "unhide", "lock", "unlock", "delete")


def moderate_post(
    session: Session, post: CommunityPost, action: str, *, actor: str, ip: str | None = None, reason: str = ""
) -> CommunityPost:
    """Apply a moderator ``action`` to a post and write it to the audit log. ``approve`` publishes a held
    post (the caller then files its feedback item); ``delete`` keeps the row but never shows it again."""
    if action not in MODERATION_ACTIONS:
        raise ValueError(f"unknown moderation action {action!r}; one of {', '.join(MODERATION_ACTIONS)}")
    before = {"visibility": post.visibility, "locked": post.locked}
    if action in ("approve", "unhide"):
        post.visibility = "published"
    elif action == "hide":
        post.visibility = "hidden"
    elif action == "delete":
        post.visibility = "deleted"
    else:
        post.locked = action == "lock"
    post.updated_at = utcnow()
    audit.record(
        session,
        f"community.post_{action}",
        actor=actor,
        target=f"community_post:{post.id}",
        ip=ip,
        detail={"before": before, "reason": reason[:500]},
    )
    return post


def moderate_comment(
    session: Session, comment: CommunityComment, action: str, *, actor: str, ip: str | None = None
) -> CommunityComment:
    """Approve, hide or unhide a comment (audited)."""
    visibility = {"approve": "published", "unhide": "published", "hide": "hidden", "delete": "hidden"}
    if action not in visibility:
        raise ValueError(f"unknown comment moderation action {action!r}")
    before = comment.visibility
    comment.visibility = visibility[action]
    audit.record(
        session,
        f"community.comment_{action}",
        actor=actor,
        target=f"community_comment:{comment.id}",
        ip=ip,
        detail={"before": before},
    )
    return comment


def prune(session: Session, *, now: datetime | None = None) -> int:
    """Delete rate-limit records older than every window and expired or used sign-in links and sessions;
    returns how many rows went. Run hourly by the background worker."""
    now = now or utcnow()
    oldest_window = max(limit.window for limit in RATE_LIMITS.values())
    gone = session.execute(
        delete(CommunityRateEvent).where(CommunityRateEvent.at < now - oldest_window)
    ).rowcount
    gone += session.execute(
        delete(CommunityToken).where(
            or_(CommunityToken.expires_at < now, CommunityToken.used_at < now - timedelta(days=1))
        )
    ).rowcount
    return gone or 0
