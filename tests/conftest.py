"""Fixtures: a real, migrated database per test (SQLite file, and PostgreSQL when the suite has one),
the app on it, and real HTTP requests through httpx."""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from closeloop.collect.channels import ensure_default_channels
from closeloop.settings import Settings, get_settings
from closeloop.store.migrate import upgrade
from closeloop.store.session import engine_for, session_factory, session_scope

# One encryption key for the whole run (subprocesses of CLI tests inherit it); without it every test
# directory would get a key file of its own.
os.environ.setdefault("CLOSELOOP_SECRET_KEYS", Fernet.generate_key().decode())

# Set by scripts/test (and so by CI): an admin URL of a real PostgreSQL server for the suite.
POSTGRES_ADMIN_URL = os.environ.get("CLOSELOOP_TEST_POSTGRES_URL")
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
BACKENDS = ["sqlite", "postgresql"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if POSTGRES_ADMIN_URL:
        return
    skip = pytest.mark.skip(reason="no PostgreSQL for this run (set CLOSELOOP_TEST_POSTGRES_URL)")
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("database_url") == "postgresql":
            item.add_marker(skip)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database migrated to the newest schema, with the default channels."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'closeloop.db'}"
        _prepare(url)
        yield url
        engine_for(url).dispose()
        return
    assert POSTGRES_ADMIN_URL
    name = f"closeloop_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(_psycopg(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = _psycopg(POSTGRES_ADMIN_URL).rsplit("/", 1)[0] + f"/{name}"
    try:
        _prepare(url)
        yield url
    finally:
        engine_for(url).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _psycopg(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1]


def _prepare(url: str) -> None:
    upgrade(url)
    with session_scope(engine_for(url)) as session:
        ensure_default_channels(session)


@pytest.fixture
def settings(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Settings pointing at the test database, also seen by the CLI through the environment."""
    monkeypatch.setenv("CLOSELOOP_DATABASE_URL", database_url)
    monkeypatch.setenv("CLOSELOOP_ANALYSIS_IN_BACKGROUND", "false")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def db(settings: Settings) -> sessionmaker[Session]:
    """A session factory on the test database."""
    return session_factory(engine_for(settings.database_url))


@contextmanager
def serve_app(settings: Settings) -> Iterator[str]:
    """The app served by a real uvicorn server on a free loopback port; yields its base URL."""
    import socket
    import threading
    import time

    import uvicorn

    from closeloop.app import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(settings), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def live_server(settings: Settings) -> Iterator[str]:
    with serve_app(settings) as base_url:
        yield base_url


@pytest.fixture
def background_server(settings: Settings) -> Iterator[str]:
    """Like ``live_server``, with the embedded background worker running in the app."""
    with serve_app(settings.model_copy(update={"analysis_in_background": True})) as base_url:
        yield base_url


PASSWORD = "correct horse battery staple"


def create_account(
    db: sessionmaker[Session], role: str, *, email: str | None = None, team: str | None = None
) -> str:
    """A user of ``role`` with an API token carrying every permission of the role; returns the token."""
    from closeloop.accounts.permissions import ROLE_PERMISSIONS
    from closeloop.accounts.users import create_token, create_user

    with db() as session:
        user = create_user(
            session,
            email=email or f"{role}-{uuid.uuid4().hex[:6]}@example.com",
            password=PASSWORD,
            role=role,
            team=team,
        )
        secret = create_token(session, user, name="tests", scopes=sorted(ROLE_PERMISSIONS[role])).secret
        session.commit()
    return secret


@pytest.fixture
def admin_token(db: sessionmaker[Session]) -> str:
    """An API token of a new admin user."""
    return create_account(db, "admin")


@pytest.fixture
def client_as(live_server: str, db: sessionmaker[Session]) -> Iterator:
    """``client_as(role)``: a real HTTP client signed in (by API token) as a new user of that role;
    ``client_as(None)`` is anonymous."""
    opened: list[httpx.Client] = []

    def make(role: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {create_account(db, role)}"} if role else {}
        http = httpx.Client(base_url=live_server, timeout=30, headers=headers)
        opened.append(http)
        return http

    yield make
    for http in opened:
        http.close()


@pytest.fixture
def client(client_as) -> httpx.Client:
    """Real HTTP requests over loopback to the live test server, as an admin."""
    return client_as("admin")


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture
def serve():
    """``serve(settings)``: a context manager running the app on ``settings`` at a loopback URL."""
    return serve_app


@pytest.fixture
def make_account(db: sessionmaker[Session]):
    """``make_account(role)``: a new user of that role; returns an API token with the role's permissions."""
    return lambda role, **kwargs: create_account(db, role, **kwargs)


class SmtpSink:
    """A real SMTP server (aiosmtpd) on loopback keeping what it receives; ``stop``/``start`` = outage."""

    def __init__(self) -> None:
        import socket

        from aiosmtpd.controller import Controller

        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.host = "127.0.0.1"
        self.messages: list = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                import email
                import email.policy

                sink.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
                return "250 OK"

        self._new_controller = lambda: Controller(Handler(), hostname=self.host, port=self.port)
        self._controller = None

    def start(self) -> None:
        self._controller = self._new_controller()  # a stopped controller cannot start again
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpSink]:
    """A running local SMTP server; its ``messages`` are the e-mails received."""
    sink = SmtpSink()
    sink.start()
    yield sink
    with contextlib.suppress(AssertionError, RuntimeError):
        sink.stop()  # unless the test left it stopped


@pytest.fixture
def browser_as(live_server: str, make_account):
    """``browser_as(role, **account)``: an httpx client signed in through the real /login form (session
    cookie, no redirects followed) and a ``csrf(page)`` reader for the token of a page's forms."""
    import re

    opened: list[httpx.Client] = []

    def make(role: str, **account) -> httpx.Client:
        email = account.pop("email", None) or f"{role}-{uuid.uuid4().hex[:6]}@example.com"
        make_account(role, email=email, **account)
        http = httpx.Client(base_url=live_server, follow_redirects=False, timeout=30)
        opened.append(http)
        form = http.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        signed = http.post(
            "/login", data={"email": email, "password": PASSWORD, "csrf_token": token, "next": "/"}
        )
        assert signed.status_code == 303, signed.text
        return http

    yield make
    for http in opened:
        http.close()


@pytest.fixture
def csrf_of():
    """``csrf_of(page)``: the CSRF token in a page's forms."""
    import re

    return lambda page: re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


@pytest.fixture
def model_dir(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the packaged model as CLOSELOOP_MODEL_DIR, so its taxonomy can be edited."""
    from closeloop.analysis.engine import DEFAULT_MODEL_DIR
    from closeloop.jobs.analysis import load_engine

    directory = tmp_path / "model"
    shutil.copytree(DEFAULT_MODEL_DIR, directory)
    monkeypatch.setenv("CLOSELOOP_MODEL_DIR", str(directory))
    get_settings.cache_clear()
    load_engine.cache_clear()
    yield directory
    load_engine.cache_clear()
    get_settings.cache_clear()
