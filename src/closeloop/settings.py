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


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()


def data_dir() -> Path:
    """Where closeloop keeps files next to the database (rejects, models)."""
    return Path.cwd()
