"""Sending e-mail over SMTP, with settings from the environment and errors that say what went wrong."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from closeloop.settings import Settings


class MailError(Exception):
    """A message could not be handed to the SMTP server (it is retried later; nothing is marked sent)."""


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a message (a report's spreadsheet)."""

    filename: str
    content: bytes
    media_type: str = "application/octet-stream"


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    message_id: str | None = None
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class SmtpMailer:
    """Hands messages to one SMTP server (STARTTLS or implicit TLS, optional login)."""

    host: str
    port: int = 25
    sender: str = "closeloop <noreply@localhost>"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    use_ssl: bool = False
    timeout: float = 20.0

    def message(self, mail: Mail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Message-ID"] = mail.message_id or make_msgid(domain="closeloop.local")
        for name, value in mail.headers.items():
            message[name] = value
        message.set_content(mail.text)
        if mail.html is not None:
            message.add_alternative(mail.html, subtype="html")
        for attachment in mail.attachments:
            maintype, _, subtype = attachment.media_type.partition("/")
            message.add_attachment(
                attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
            )
        return message

    def send(self, mail: Mail) -> None:
        """Send ``mail``; raises ``MailError`` naming the server and the reason."""
        try:
            if self.use_ssl:
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=ssl.create_default_context()
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            with client:
                if self.starttls:
                    client.starttls(context=ssl.create_default_context())
                if self.username:
                    client.login(self.username, self.password or "")
                client.send_message(self.message(mail))
        except (OSError, smtplib.SMTPException) as exc:
            raise MailError(f"SMTP {self.host}:{self.port} refused or unreachable: {exc}") from exc


def mailer_from_settings(settings: Settings) -> SmtpMailer | None:
    """The configured mailer, or None when ``CLOSELOOP_SMTP_HOST`` is not set (nothing is e-mailed)."""
    if not settings.smtp_host:
        return None
    return SmtpMailer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_sender or formataddr(("closeloop", "noreply@localhost")),
        username=settings.smtp_username,
        password=settings.smtp_password,
        starttls=settings.smtp_starttls,
        use_ssl=settings.smtp_ssl,
    )
