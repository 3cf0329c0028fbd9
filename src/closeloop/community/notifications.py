"""Closing the loop in public: e-mail every follower and voter of a post when its status changes.

The job takes status changes not yet notified, and for each writes one ``CommunityNotification`` per
member (unique per change and member, so a retried run never e-mails anyone twice): ``sent``, or
``skipped`` with the reason (``unsubscribed``, ``no_consent`` when the customer's newest ``contact``
decision is a no, ``banned``). A change is marked notified when every member has a row; an SMTP failure
leaves the rest for the next run. Sign-in links are e-mailed here too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from html import escape

from sqlalchemy import select, union
from sqlalchemy.orm import Session, selectinload, sessionmaker

from closeloop.collect.customers import consent_refused
from closeloop.community.members import (
    find_or_create_member,
    issue_sign_in_link,
    normalize_email,
    sign_in_path,
)
from closeloop.community.moderation import check_rate
from closeloop.notify.mailer import Mail, MailError, SmtpMailer, mailer_from_settings
from closeloop.settings import Settings
from closeloop.store.models import (
    CommunityFollower,
    CommunityMember,
    CommunityNotification,
    CommunityPost,
    CommunityStatusChange,
    CommunityVote,
    Customer,
    utcnow,
)
from closeloop.web.i18n import TEXTS

log = logging.getLogger("closeloop.community")

_WORDS = {
    "zh": {
        "subject": "「{title}」状态更新：{status}",
        "intro": "您关注或支持的帖子状态已更新为：{status}",
        "reason": "说明",
        "changed": "改进内容",
        "changelog": "查看更新日志",
        "open": "查看帖子",
        "unsubscribe": "不想再收到社区邮件？退订",
        "sign_in_subject": "登录用户社区",
        "sign_in_body": "点击下面的链接登录用户社区（30 分钟内有效，仅可使用一次）：",
        "sign_in_ignore": "如果不是您本人操作，请忽略这封邮件。",
    },
    "en": {
        "subject": "“{title}” is now: {status}",
        "intro": "A post you follow or voted for is now: {status}",
        "reason": "Why",
        "changed": "What changed",
        "changelog": "See the changelog",
        "open": "Open the post",
        "unsubscribe": "Don't want community e-mail? Unsubscribe",
        "sign_in_subject": "Sign in to the community",
        "sign_in_body": "Follow this link to sign in (valid for 30 minutes, once):",
        "sign_in_ignore": "If you did not ask for it, ignore this e-mail.",
    },
}


class MailNotConfiguredError(MailError):
    """No SMTP server is configured, so nothing can be e-mailed (a setting to fix, not an outage)."""


@dataclass(slots=True)
class NotificationRun:
    """What one run did: e-mails sent, members skipped, changes completed, failures left for later."""

    sent: int = 0
    skipped: int = 0
    changes: int = 0
    failed: int = 0


def post_path(post_id: int) -> str:
    return f"/community/p/{post_id}"


def unsubscribe_path(token: str) -> str:
    return f"/community/unsubscribe/{token}"


CHANGELOG_PATH = "/community/changelog"


def compose_status_mail(
    post: CommunityPost, change: CommunityStatusChange, member: CommunityMember, *, public_url: str
) -> Mail:
    """The bilingual-aware e-mail (in the member's language) telling one member about one status change."""
    lang = member.language if member.language in _WORDS else "zh"
    words, base = _WORDS[lang], public_url.rstrip("/")
    status = TEXTS[lang].get(f"community_status_{change.status}", change.status)
    post_url, unsubscribe_url = base + post_path(post.id), base + unsubscribe_path(member.unsubscribe_token)
    lines = [words["intro"].format(status=status), "", post.title, "", f"{words['reason']}: {change.reason}"]
    html = [
        f"<p>{escape(words['intro'].format(status=status))}</p>",
        f"<h2>{escape(post.title)}</h2>",
        f"<p><strong>{escape(words['reason'])}:</strong> {escape(change.reason)}</p>",
    ]
    if change.status == "done":
        changelog_url = post.changelog_url or CHANGELOG_PATH
        if changelog_url.startswith("/"):
            changelog_url = base + changelog_url
        if post.changelog_note:
            lines.append(f"{words['changed']}: {post.changelog_note}")
            html.append(f"<p><strong>{escape(words['changed'])}:</strong> {escape(post.changelog_note)}</p>")
        lines.append(f"{words['changelog']}: {changelog_url}")
        html.append(f'<p><a href="{escape(changelog_url)}">{escape(words["changelog"])}</a></p>')
    lines += ["", f"{words['open']}: {post_url}", "", f"{words['unsubscribe']}: {unsubscribe_url}"]
    html.append(f'<p><a href="{escape(post_url)}">{escape(words["open"])}</a></p>')
    html.append(
        f'<p style="font-size:12px;color:#666"><a href="{escape(unsubscribe_url)}">'
        f"{escape(words['unsubscribe'])}</a></p>"
    )
    return Mail(
        to=member.email,
        subject=words["subject"].format(title=post.title[:80], status=status),
        text="\n".join(lines) + "\n",
        html="\n".join(html),
        headers={
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "X-Closeloop-Community-Change": str(change.id),
        },
    )


def compose_sign_in_mail(member: CommunityMember, secret: str, *, public_url: str) -> Mail:
    """The e-mail with a member's sign-in link (both languages, the member's first)."""
    link = public_url.rstrip("/") + sign_in_path(secret)
    first = member.language if member.language in _WORDS else "zh"
    order = [first, "en" if first == "zh" else "zh"]
    text = "\n\n".join(
        f"{_WORDS[lang]['sign_in_body']}\n{link}\n{_WORDS[lang]['sign_in_ignore']}" for lang in order
    )
    html = "".join(
        f'<p>{escape(_WORDS[lang]["sign_in_body"])}</p><p><a href="{escape(link)}">{escape(link)}</a></p>'
        f'<p style="color:#666">{escape(_WORDS[lang]["sign_in_ignore"])}</p>'
        for lang in order
    )
    subject = f"{_WORDS['zh']['sign_in_subject']} / {_WORDS['en']['sign_in_subject']}"
    return Mail(to=member.email, subject=subject, text=text + "\n", html=html)


def audience(session: Session, post_id: int) -> list[CommunityMember]:
    """The post's followers and voters, each once."""
    ids = union(
        select(CommunityFollower.member_id).where(CommunityFollower.post_id == post_id),
        select(CommunityVote.member_id).where(CommunityVote.post_id == post_id),
    ).subquery()
    return list(
        session.scalars(
            select(CommunityMember)
            .where(CommunityMember.id.in_(select(ids.c[0])))
            .order_by(CommunityMember.id)
        )
    )


def skip_reason(session: Session, member: CommunityMember) -> str | None:
    """Why a member must not get community e-mail, or None."""
    if member.banned:
        return "banned"
    if member.unsubscribed_at is not None:
        return "unsubscribed"
    if member.customer_id is not None:
        customer = session.scalars(
            select(Customer).where(Customer.id == member.customer_id).options(selectinload(Customer.consents))
        ).first()
        if customer is not None and consent_refused(customer, "contact"):
            return "no_consent"
    return None


def send_status_notifications(
    factory: sessionmaker[Session], mailer: SmtpMailer, *, public_url: str
) -> NotificationRun:
    """E-mail followers and voters about every status change not yet notified (the periodic job)."""
    run = NotificationRun()
    with factory() as session:
        pending = session.scalars(
            select(CommunityStatusChange.id)
            .where(CommunityStatusChange.notified_at.is_(None))
            .order_by(CommunityStatusChange.id)
        ).all()
    for change_id in pending:
        with factory() as session:
            if _notify_change(session, change_id, mailer, public_url=public_url, run=run):
                run.changes += 1
    return run


def _notify_change(
    session: Session, change_id: int, mailer: SmtpMailer, *, public_url: str, run: NotificationRun
) -> bool:
    """Notify one change's audience; True when every member has been handled."""
    change = session.get(CommunityStatusChange, change_id)
    post = session.get(CommunityPost, change.post_id)
    done = set(
        session.scalars(
            select(CommunityNotification.member_id).where(CommunityNotification.change_id == change_id)
        )
    )
    for member in audience(session, post.id):
        if member.id in done:
            continue
        reason = skip_reason(session, member)
        if reason is None:
            try:
                mailer.send(compose_status_mail(post, change, member, public_url=public_url))
            except MailError as exc:
                log.warning("community notification %s to member %s failed: %s", change_id, member.id, exc)
                run.failed += 1
                session.commit()
                return False
        session.add(
            CommunityNotification(
                change_id=change_id,
                member_id=member.id,
                status="skipped" if reason else "sent",
                skipped_reason=reason,
            )
        )
        # One commit per e-mail: a crash after sending re-sends at most that one.
        session.commit()
        if reason:
            run.skipped += 1
        else:
            run.sent += 1
    change = session.get(CommunityStatusChange, change_id)
    change.notified_at = utcnow()
    session.commit()
    return True


def send_sign_in_link(
    session: Session, settings: Settings, *, email: str, language: str, next_path: str | None, ip: str | None
) -> None:
    """Find or create the member, count the request against the sign-in rate limit, commit a single-use
    link and e-mail it. Raises ``InvalidEmailError``, ``RateLimitedError``, ``MailNotConfiguredError`` or
    ``MailError`` (the SMTP server refused or is unreachable)."""
    normalize_email(email)  # a wrong address is the caller's to fix first
    mailer = mailer_from_settings(settings)
    if mailer is None:
        raise MailNotConfiguredError(
            "no SMTP server configured (CLOSELOOP_SMTP_HOST); sign-in links cannot be sent"
        )
    member = find_or_create_member(session, email, language=language)
    check_rate(session, "sign_in", member_id=member.id, ip=ip)
    secret = issue_sign_in_link(session, member, next_path=next_path)
    mail = compose_sign_in_mail(member, secret, public_url=settings.public_url)
    session.commit()
    mailer.send(mail)
