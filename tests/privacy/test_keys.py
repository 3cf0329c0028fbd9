"""Encryption keys: values are sealed with the newest key, rotation re-encrypts everything, a removed key
is a clear error, and without a configured key a private key file is made once."""

from __future__ import annotations

import stat

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from typer.testing import CliRunner

from closeloop.cli import app
from closeloop.collect.customers import get_customer, upsert_customer
from closeloop.collect.records import CustomerRef
from closeloop.privacy import crypto
from closeloop.settings import get_settings


def _use_keys(monkeypatch, *keys: str) -> None:
    monkeypatch.setenv("CLOSELOOP_SECRET_KEYS", ",".join(keys))
    get_settings.cache_clear()
    crypto._keyring.cache_clear()


def _raw_emails(db) -> list[str]:
    with db() as session:
        return list(session.execute(text("SELECT email FROM customers ORDER BY id")).scalars())


def test_rotation_reencrypts_every_value_with_the_new_key(settings, db, monkeypatch):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    _use_keys(monkeypatch, old)
    with db() as session:
        for n in range(5):
            upsert_customer(
                session, CustomerRef(external_id=f"C-{n}", email=f"c{n}@example.com", phone="13800138000")
            )
        session.commit()
    assert all(Fernet(old.encode()).decrypt(v.encode()) for v in _raw_emails(db))

    _use_keys(monkeypatch, new, old)
    result = CliRunner().invoke(app, ["keys", "rotate"])
    assert result.exit_code == 0, result.output
    assert '"customers.email": 5' in result.stdout and '"customers.phone": 5' in result.stdout
    assert all(Fernet(new.encode()).decrypt(v.encode()) for v in _raw_emails(db))
    again = CliRunner().invoke(app, ["keys", "rotate"])  # nothing left to do
    assert '"customers.email": 0' in again.stdout

    _use_keys(monkeypatch, new)  # the old key can go now
    with db() as session:
        assert get_customer(session, "C-3").email == "c3@example.com"

    _use_keys(monkeypatch, Fernet.generate_key().decode())  # a key that never sealed anything
    with db() as session, pytest.raises(crypto.KeyringError, match="cannot be decrypted"):
        get_customer(session, "C-3").email  # noqa: B018
    crypto._keyring.cache_clear()


def test_a_malformed_key_is_refused_clearly():
    with pytest.raises(crypto.KeyringError, match="Fernet keys"):
        crypto.Keyring(["not-a-key"])


def test_without_a_configured_key_a_private_key_file_is_made_once(tmp_path):
    first = crypto.configured_keys(None, tmp_path)
    path = tmp_path / crypto.KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert crypto.configured_keys("", tmp_path) == first and len(first) == 1
    ring = crypto.Keyring(first)
    assert ring.open(ring.seal("张三 13800138000")) == "张三 13800138000"
