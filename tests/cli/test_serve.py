"""`closeloop init` and `closeloop serve` as a user runs them: a real process answering /healthz."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
from sqlalchemy import inspect

from closeloop.store.session import make_engine


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_init_creates_the_sqlite_file_in_the_working_directory(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CLOSELOOP_DATABASE_URL"}
    done = subprocess.run(
        [sys.executable, "-m", "closeloop", "init"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "closeloop.db").exists()
    engine = make_engine(f"sqlite:///{tmp_path / 'closeloop.db'}")
    assert {"feedback_items", "customers", "consents", "analyses"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_serve_answers_healthz(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "CLOSELOOP_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "CLOSELOOP_ANALYSIS_IN_BACKGROUND": "false",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "closeloop", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
                assert time.monotonic() < deadline, "server did not answer"
                time.sleep(0.2)
        assert response.status_code == 200 and response.json()["database"] == "ok"
        assert httpx.get(f"http://127.0.0.1:{port}/docs", timeout=5).status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=20)
        if server.stdout:
            server.stdout.close()
