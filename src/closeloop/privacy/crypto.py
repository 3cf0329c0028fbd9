"""Encryption at rest of personal data: customers' contact fields and the unredacted text of feedback.

Keys are Fernet keys (AES-128-CBC + HMAC-SHA256, from ``cryptography``) listed newest first in
``CLOSELOOP_SECRET_KEYS`` (comma separated). The first key encrypts; every key decrypts, so rotation is:
put a new key in front, run ``closeloop keys rotate`` (re-encrypts every value with the new key), then
drop the old key. Without the setting, a key file ``closeloop.key`` next to the database is created on
first use (good for a laptop; servers should set the environment variable and keep the key elsewhere).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text, TypeDecorator

from closeloop.settings import data_dir, get_settings

KEY_FILE = "closeloop.key"


class KeyringError(Exception):
    """The configured keys are unusable, or a value was encrypted with a key that is not configured."""


class Keyring:
    """Seal and open values with the newest key; open values sealed by any configured key."""

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        if not keys:
            raise KeyringError("no encryption key configured (CLOSELOOP_SECRET_KEYS)")
        try:
            self._fernets = [Fernet(key) for key in keys]
        except (ValueError, TypeError) as exc:
            raise KeyringError(
                "CLOSELOOP_SECRET_KEYS must hold Fernet keys (32 url-safe base64 bytes, "
                f"e.g. from `closeloop keys generate`): {exc}"
            ) from None
        self._multi = MultiFernet(self._fernets)

    @property
    def key_count(self) -> int:
        return len(self._fernets)

    def seal(self, plaintext: str) -> str:
        return self._multi.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def open(self, token: str) -> str:
        try:
            return self._multi.decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise KeyringError(
                "a stored value cannot be decrypted with the configured keys "
                "(was a key removed from CLOSELOOP_SECRET_KEYS before `closeloop keys rotate`?)"
            ) from exc

    def is_current(self, token: str) -> bool:
        """True when ``token`` opens with the newest key (rotation can skip it)."""
        try:
            self._fernets[0].decrypt(token.encode("ascii"))
        except InvalidToken:
            return False
        return True

    def rotate(self, token: str) -> str:
        """``token`` re-encrypted with the newest key."""
        try:
            return self._multi.rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken as exc:
            raise KeyringError("a stored value cannot be decrypted with the configured keys") from exc


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def _key_file_keys(path: Path) -> list[str]:
    if not path.exists():
        # Created once, readable by the owner only.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(generate_key() + "\n")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def configured_keys(setting: str | None, directory: Path) -> list[str]:
    """Keys from the setting (newest first), else from (a new) key file in ``directory``."""
    if setting and setting.strip():
        return [part.strip() for part in setting.split(",") if part.strip()]
    return _key_file_keys(directory / KEY_FILE)


@lru_cache(maxsize=4)
def _keyring(setting: str | None, directory: str) -> Keyring:
    return Keyring(configured_keys(setting, Path(directory)))


def keyring() -> Keyring:
    """The process keyring for the current settings."""
    return _keyring(get_settings().secret_keys, str(data_dir()))


class EncryptedText(TypeDecorator[str]):
    """A text column stored as a Fernet token: plaintext in Python, ciphertext in the database."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else keyring().seal(value)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else keyring().open(value)
