"""One typed settings object, read from the environment (prefix ``CLOSELOOP_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting closeloop reads. Each field is ``CLOSELOOP_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="CLOSELOOP_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///closeloop.db",
        description="SQLAlchemy URL of the store; default is a SQLite file in the working directory.",
    )
    max_text_chars: int = Field(default=20_000, description="Longest feedback text accepted, in characters.")
    max_batch_items: int = Field(default=1_000, description="Most items accepted in one API batch.")
    max_body_bytes: int = Field(default=10_000_000, description="Largest accepted HTTP request body.")
    import_batch_rows: int = Field(default=50_000, description="Rows written per atomic import batch.")
    webhook_tolerance_seconds: int = Field(
        default=300, description="How far a webhook timestamp may be from now before it counts as a replay."
    )
    model_dir: Path | None = Field(default=None, description="Analysis model directory (default: built-in).")
    analysis_in_background: bool = Field(
        default=True, description="Analyse new feedback in an in-process background worker."
    )
    demo_seed: int = Field(default=7, description="Random seed of the demo data generator.")
    secret_keys: str | None = Field(
        default=None,
        description="Fernet keys encrypting personal data at rest, newest first, comma separated "
        "(default: a key file closeloop.key next to the database, created on first use).",
    )
    redact_pii: bool = Field(
        default=True,
        description="Redact phone, ID card, bank card, email, IM ids and addresses in feedback text "
        "before analysis and display (the original is kept encrypted).",
    )
    min_free_disk_mb: int = Field(
        default=200, description="Readiness fails when the data directory has less free disk than this."
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP server for survey e-mail (unset: none sent)."
    )
    smtp_port: int = Field(default=25, description="SMTP port.")
    smtp_username: str | None = Field(default=None, description="SMTP login name (unset: no login).")
    smtp_password: str | None = Field(default=None, description="SMTP password.")
    smtp_starttls: bool = Field(default=False, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_ssl: bool = Field(default=False, description="Connect to SMTP over TLS (port 465 style).")
    smtp_sender: str | None = Field(default=None, description="From address of e-mail closeloop sends.")
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="The app's address as customers reach it (links in e-mail).",
    )
    scheduler_interval_seconds: int = Field(
        default=60, description="How often the background worker sends due survey invitations and reminders."
    )
    digest_days: int = Field(default=7, description="Period of each team's e-mailed digest, in days.")
    purge_interval_seconds: int = Field(
        default=3600, description="How often the background worker applies channels' retention periods."
    )
    alert_team: str = Field(
        default="insight",
        description="The team (its webhook and e-mail) told about new trend alerts.",
    )
    community_banned_words: str = Field(
        default="",
        description="Extra words (comma separated) that hold a community post or comment for moderation.",
    )
    capture_locations: str = Field(
        default="",
        description="Stores or sites offered on the frontline capture page, comma separated, each CODE=Name "
        "(e.g. 'SH01=上海南京路店,BJ02=北京三里屯店'); empty: staff type the location.",
    )
    # scale: distributed workers (docs/scaling.md)
    broker_url: str | None = Field(
        default=None,
        description="Celery broker (redis://host:6379/0) for distributed workers; unset: all background "
        "work runs in-process.",
    )
    broker_visibility_timeout_seconds: int = Field(
        default=600,
        description="Seconds after which a task taken by a worker that died is handed to another worker "
        "(longer than the slowest analysis batch).",
    )


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()


def data_dir() -> Path:
    """Where closeloop keeps files next to the database (rejects, models)."""
    return Path.cwd()
