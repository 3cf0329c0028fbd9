"""Load test (issue 5): post feedback at a rising rate while the dashboard is read; count what was kept.

    .venv/bin/python benchmarks/load.py                       # SQLite, background analysis on
    .venv/bin/python benchmarks/load.py --no-analysis         # the server without its analysis worker
    .venv/bin/python benchmarks/load.py --analysis worker     # analysis in a separate `closeloop worker`
    .venv/bin/python benchmarks/load.py --database-url "$(scripts/postgres start)"   # a fresh PG database
    .venv/bin/python benchmarks/load.py --rates 100,200 --step-seconds 2 --json-out summary.json

It starts its own server (`closeloop serve`) on 127.0.0.1 and a free port, in a temporary working
directory with a fresh database, creates an admin and an API token through the CLI, then:

- posts feedback items open-loop (each request leaves at its scheduled time whether or not earlier ones
  were answered, so a slow server shows as latency, not as a lower offered rate) in steps of rising
  rate (items/s), one item per request (`--batch N` for batches); each item has a unique external id;
- reads the dashboard queries (`DASHBOARD_QUERIES`) at `--dashboard-rate` requests/s meanwhile;
- prints per step: offered/s, accepted/s, post latency p50/p95/p99, errors by status, dashboard p95,
  and the CPU used by the load generator and by the server;
- stops the server, counts the run's items in the store with SQLAlchemy: lost = acknowledged (2xx) but
  not stored, duplicates = stored more than once. Exit code 1 when items were lost, else 0.

Target (issue 5): 500 accepted items/s with post p95 < 200 ms and zero lost items.
Bounded: at most `--max-items` items, scheduling stops after `--max-seconds`, and answers still
outstanding then are awaited at most `--drain-seconds`. Loopback only: the server binds 127.0.0.1.
Latency is measured from each request's scheduled time, so it includes the wait for one of the
`--connections` client connections ("wait" in the table: the client-side backlog of a slow server).
By default the climb stops after a step in which the server accepted under half of the offered rate.
The load generator runs on the same machine as the server and competes with it for the CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import math
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from closeloop.api.policy import SESSION_COOKIE
from closeloop.store.models import Analysis, Event, FeedbackItem
from closeloop.store.session import make_engine, normalize_url

TARGET_ACCEPTED_PER_S = 500
TARGET_P95_MS = 200.0
DEFAULT_RATES = (100, 200, 400, 600, 800)
FEEDBACK_PATH = "/api/v1/feedback"
BATCH_PATH = "/api/v1/feedback/batch"
LOGIN_CSRF_COOKIE = "closeloop_login_csrf"
ADMIN_EMAIL = "load-test@example.com"
ANALYSIS_MODES = ("in-process", "worker", "off")


@dataclass(frozen=True, slots=True)
class DashboardQuery:
    """One request a dashboard makes: a name, a path with its query string, and how it signs in
    ("token": API token, "session": browser sign-in cookie, "public": nothing)."""

    name: str
    path: str
    auth: str


# The dashboard's reads, queried round-robin during the run. Extend when the dashboard (issue 8) lands.
DASHBOARD_QUERIES: tuple[DashboardQuery, ...] = (
    DashboardQuery("inbox page 收件箱", "/", "session"),
    DashboardQuery("newest 50 via API 最新反馈", "/api/v1/feedback?limit=50&channel=api", "token"),
    DashboardQuery(
        "low ratings + analysis 差评", "/api/v1/feedback?limit=50&rating_max=2&with_analysis=true", "token"
    ),
    DashboardQuery("text search 物流", "/api/v1/feedback?limit=50&q=%E7%89%A9%E6%B5%81", "token"),
    DashboardQuery("overview 看板总览", "/api/v1/insight/overview?granularity=week", "token"),
    DashboardQuery("health 健康检查", "/healthz", "public"),
)

PHRASES_ZH = (
    "物流很快",
    "包装有点破损",
    "客服态度很好",
    "质量不错",
    "价格偏贵",
    "用了两天就坏了",
    "发货太慢了",
    "性价比高",
    "尺码偏小",
    "会回购",
)
PHRASES_EN = ("fast delivery", "box was damaged", "great support", "poor quality", "arrived late", "love it")


# ---------------------------------------------------------------- plan and payloads (pure)


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """What to offer: item rates per step, step length, the hard caps, batch size, dashboard rate."""

    rates: tuple[int, ...] = DEFAULT_RATES
    step_seconds: float = 10.0
    max_items: int = 50_000
    max_seconds: float = 120.0
    drain_seconds: float = 30.0
    batch: int = 1
    dashboard_rate: float = 5.0
    connections: int = 64
    keep_climbing: bool = False


def parse_rates(text_rates: str) -> tuple[int, ...]:
    """``"100,200,400"`` -> (100, 200, 400); every rate must be a positive whole number of items/s."""
    rates = tuple(int(part) for part in text_rates.replace(" ", "").split(",") if part)
    if not rates or any(rate <= 0 for rate in rates):
        raise ValueError(f"rates must be positive integers, got {text_rates!r}")
    return rates


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def external_id(run_id: str, seq: int) -> str:
    """The unique external id of item number ``seq`` of run ``run_id``."""
    return f"load-{run_id}-{seq:08d}"


def feedback_item(run_id: str, seq: int, rng: random.Random) -> dict[str, Any]:
    """A realistic feedback item (80 % Chinese, 20 % English review, half with a known customer)."""
    if rng.random() < 0.8:
        review = "，".join(rng.sample(PHRASES_ZH, 3)) + f"。第{seq}单"
    else:
        review = ", ".join(rng.sample(PHRASES_EN, 2)) + f". order {seq}"
    item: dict[str, Any] = {
        "text": review,
        "channel": "api",
        "external_id": external_id(run_id, seq),
        "rating": rng.randint(1, 5),
        "rating_scale": [1, 5],
        "product": f"商品{rng.randint(1, 50)}",
        "order_id": f"O{seq:09d}",
    }
    if rng.random() < 0.5:
        item["customer"] = {"external_id": f"C-{rng.randint(1, 2000):05d}"}
    return item


def request_body(run_id: str, first_seq: int, items: int, batch_mode: bool, rng: random.Random) -> bytes:
    """The JSON body of one post: a single item, or ``{"items": [...]}`` in batch mode."""
    if not batch_mode:
        return json.dumps(feedback_item(run_id, first_seq, rng), ensure_ascii=False).encode()
    batch = [feedback_item(run_id, seq, rng) for seq in range(first_seq, first_seq + items)]
    return json.dumps({"items": batch}, ensure_ascii=False).encode()


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


# ---------------------------------------------------------------- what happened


@dataclass(slots=True)
class PostOutcome:
    """One feedback post: when it was due, started and answered; its status (0 = transport error,
    -1 = never answered); how many items it carried and how many the server acknowledged."""

    step: int
    first_seq: int
    items: int
    scheduled: float
    started: float = 0.0
    finished: float | None = None
    status: int = -1
    acknowledged: int = 0
    error: str | None = None


@dataclass(slots=True)
class DashboardOutcome:
    step: int
    query: str
    scheduled: float
    finished: float | None = None
    status: int = -1


@dataclass(frozen=True, slots=True)
class CpuReading:
    """CPU seconds used so far by this load generator, by the server, and by the whole machine."""

    generator: float = 0.0
    server: float = 0.0
    machine: float = 0.0


@dataclass(slots=True)
class StepWindow:
    """The time a step's rate was offered, with CPU readings at its edges."""

    index: int
    rate: float
    start: float
    end: float = 0.0
    cpu_before: CpuReading = field(default_factory=CpuReading)
    cpu_after: CpuReading = field(default_factory=CpuReading)


@dataclass(slots=True)
class LoadRecord:
    posts: list[PostOutcome] = field(default_factory=list)
    reads: list[DashboardOutcome] = field(default_factory=list)
    steps: list[StepWindow] = field(default_factory=list)
    drain: StepWindow | None = None
    stopped_early: str | None = None


@dataclass(frozen=True, slots=True)
class StepFigures:
    """The figures printed for one step (latencies in ms, CPU in % of one core)."""

    step: str
    offered_per_s: float
    accepted_per_s: float
    post_p50_ms: float | None
    post_p95_ms: float | None
    post_p99_ms: float | None
    errors: dict[str, int]
    client_wait_p95_ms: float | None
    dashboard_p95_ms: float | None
    dashboard_errors: int
    generator_cpu_pct: float | None
    server_cpu_pct: float | None
    others_cpu_pct: float | None

    def meets_target(self) -> bool:
        return (
            self.accepted_per_s >= TARGET_ACCEPTED_PER_S
            and self.post_p95_ms is not None
            and self.post_p95_ms < TARGET_P95_MS
            and not self.errors
        )


def saturated(record: LoadRecord, window: StepWindow) -> bool:
    """True when the answers accepted within the step's window fall under half of the items it offered:
    a higher rate would only grow the backlog."""
    offered = sum(p.items for p in record.posts if p.step == window.index)
    accepted = sum(
        p.acknowledged
        for p in record.posts
        if p.finished is not None and window.start <= p.finished < window.end
    )
    return offered > 0 and accepted < offered / 2


def status_label(status: int, error: str | None = None) -> str:
    """How an outcome's status is shown among the errors (transport errors by their exception name)."""
    return {0: error or "conn", -1: "unanswered"}.get(status, str(status))


def _ms(seconds: list[float], q: float) -> float | None:
    value = percentile(seconds, q)
    return None if value is None else value * 1000


def _cpu_pct(window: StepWindow, which: str) -> float | None:
    """CPU use over the window in % of one core (``which``: generator, server, or other processes);
    None for windows too short to say (< 0.5 s)."""
    length = window.end - window.start
    if length < 0.5:
        return None
    before, after = window.cpu_before, window.cpu_after
    used = {
        "generator": after.generator - before.generator,
        "server": after.server - before.server,
    }
    used["others"] = max(0.0, after.machine - before.machine - used["generator"] - used["server"])
    return 100 * used[which] / length


def step_figures(record: LoadRecord, window: StepWindow, label: str) -> StepFigures:
    """Figures of one step: latencies of the posts scheduled in it; accepted/s from answers that
    arrived within its window (the drain window collects answers after the last step)."""
    length = max(window.end - window.start, 1e-9)
    scheduled = [p for p in record.posts if p.step == window.index]
    answered_in_window = [
        p for p in record.posts if p.finished is not None and window.start <= p.finished < window.end
    ]
    latencies = [p.finished - p.scheduled for p in scheduled if p.finished is not None]
    errors = Counter(status_label(p.status, p.error) for p in scheduled if not 200 <= p.status < 300)
    reads = [r for r in record.reads if r.step == window.index]
    read_latencies = [r.finished - r.scheduled for r in reads if r.finished is not None]
    return StepFigures(
        step=label,
        offered_per_s=sum(p.items for p in scheduled) / length,
        accepted_per_s=sum(p.acknowledged for p in answered_in_window) / length,
        post_p50_ms=_ms(latencies, 50),
        post_p95_ms=_ms(latencies, 95),
        post_p99_ms=_ms(latencies, 99),
        errors=dict(sorted(errors.items())),
        client_wait_p95_ms=_ms([p.started - p.scheduled for p in scheduled if p.started], 95),
        dashboard_p95_ms=_ms(read_latencies, 95),
        dashboard_errors=sum(1 for r in reads if not 200 <= r.status < 300),
        generator_cpu_pct=_cpu_pct(window, "generator"),
        server_cpu_pct=_cpu_pct(window, "server"),
        others_cpu_pct=_cpu_pct(window, "others"),
    )


def acknowledged_ids(record: LoadRecord, run_id: str) -> set[str]:
    """External ids of every item the server acknowledged with a 2xx answer."""
    return {
        external_id(run_id, seq)
        for p in record.posts
        if 200 <= p.status < 300
        for seq in range(p.first_seq, p.first_seq + p.items)
    }


def unacknowledged_ids(record: LoadRecord, run_id: str) -> set[str]:
    """External ids of items sent without a 2xx answer (refused, failed or unanswered)."""
    return {
        external_id(run_id, seq)
        for p in record.posts
        if not 200 <= p.status < 300
        for seq in range(p.first_seq, p.first_seq + p.items)
    }


@dataclass(frozen=True, slots=True)
class StoreCount:
    """What the store holds of a run, compared with what the server acknowledged."""

    stored_items: int
    distinct_stored: int
    lost: int
    duplicates: int
    stored_unacknowledged: int
    analysed: int
    pending_events: int


def compare_with_store(
    stored: Counter[str], acknowledged: set[str], unacknowledged: set[str], *, analysed: int, pending: int
) -> StoreCount:
    """Lost = acknowledged but absent; duplicates = extra copies of an id; plus items kept although
    their post got no 2xx answer (not lost, but the client would resend them)."""
    return StoreCount(
        stored_items=sum(stored.values()),
        distinct_stored=len(stored),
        lost=len(acknowledged - stored.keys()),
        duplicates=sum(count - 1 for count in stored.values() if count > 1),
        stored_unacknowledged=len(unacknowledged & stored.keys()),
        analysed=analysed,
        pending_events=pending,
    )


def count_in_store(database_url: str, run_id: str) -> tuple[Counter[str], int, int]:
    """(copies per external id of the run's items, how many of them are analysed, pending events)."""
    engine = make_engine(database_url)
    prefix = f"load-{run_id}-%"
    try:
        with engine.connect() as conn:
            stored = Counter(
                conn.scalars(select(FeedbackItem.external_id).where(FeedbackItem.external_id.like(prefix)))
            )
            analysed = conn.scalar(
                select(func.count(func.distinct(Analysis.feedback_id)))
                .join(FeedbackItem, FeedbackItem.id == Analysis.feedback_id)
                .where(FeedbackItem.external_id.like(prefix))
            )
            pending = conn.scalar(select(func.count()).select_from(Event).where(Event.processed_at.is_(None)))
    finally:
        engine.dispose()
    return stored, int(analysed or 0), int(pending or 0)


# ---------------------------------------------------------------- the server under test


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(slots=True)
class ServerUnderTest:
    """A ``closeloop serve`` process on 127.0.0.1 with its database, admin password and API token."""

    process: subprocess.Popen[bytes]
    base_url: str
    database_url: str
    token: str
    password: str
    log_path: Path
    worker: subprocess.Popen[bytes] | None = None

    def cpu_seconds(self) -> float:
        """CPU time (user + system) of the server, its web workers and the job worker process so far."""
        total = 0.0
        for process in (self.process, self.worker):
            if process is None:
                continue
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(process.pid)
                total += sum(proc.cpu_times()[:2])
                for child in proc.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        total += sum(child.cpu_times()[:2])
        return total

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the server (and job worker) to shut down: SIGTERM, then SIGKILL after ``timeout``."""
        for process in (self.process, self.worker):
            if process is None or process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def _cli(args: list[str], *, env: dict[str, str], cwd: Path, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "closeloop", *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"closeloop {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


@contextlib.contextmanager
def fresh_postgres_database(admin_url: str, name: str, keep: bool) -> Iterator[str]:
    """A new, empty database ``name`` on the PostgreSQL server of ``admin_url``; dropped afterwards."""
    admin = create_engine(normalize_url(admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(normalize_url(admin_url)).set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def running_server(
    database_url: str, workdir: Path, *, analysis: str, workers: int = 1, start_timeout: float = 120.0
) -> Iterator[ServerUnderTest]:
    """Initialise ``database_url``, add an admin and a token, run ``closeloop serve`` until the block ends.

    ``analysis``: "in-process" (the server's embedded worker), "worker" (a separate ``closeloop worker``
    process beside a server without one) or "off".
    """
    env = {
        **os.environ,
        "CLOSELOOP_DATABASE_URL": database_url,
        "CLOSELOOP_ANALYSIS_IN_BACKGROUND": "true" if analysis == "in-process" else "false",
    }
    _cli(["init"], env=env, cwd=workdir)
    password = secrets.token_urlsafe(18)
    _cli(
        ["user", "add", ADMIN_EMAIL, "--role", "admin", "--password-stdin"],
        env=env,
        cwd=workdir,
        stdin=password + "\n",
    )
    token = json.loads(
        _cli(["token", "create", ADMIN_EMAIL, "--name", "load-test"], env=env, cwd=workdir)
        .strip()
        .splitlines()[-1]
    )["token"]
    port = free_port()
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "closeloop",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=env,
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = ServerUnderTest(process, f"http://127.0.0.1:{port}", database_url, token, password, log_path)
    if analysis == "worker":
        with (workdir / "worker.log").open("wb") as log:
            server.worker = subprocess.Popen(
                [sys.executable, "-m", "closeloop", "worker"], env=env, cwd=workdir, stdout=log, stderr=log
            )
    try:
        _wait_until_ready(server, start_timeout)
        yield server
    finally:
        server.stop()


def _wait_until_ready(server: ServerUnderTest, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{server.base_url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited:\n{server.log_path.read_text(errors='replace')[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not answer /healthz in time")
        time.sleep(0.2)


# ---------------------------------------------------------------- the load itself


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> bool:
    """Sign ``client`` in through the login form (its cookie jar keeps the session); True on success."""
    await client.get("/login")
    csrf = client.cookies.get(LOGIN_CSRF_COOKIE)
    if not csrf:
        return False
    answer = await client.post(
        "/login", data={"email": email, "password": password, "csrf_token": csrf, "next": "/"}
    )
    return answer.status_code == 303 and client.cookies.get(SESSION_COOKIE) is not None


async def _post(
    client: httpx.AsyncClient,
    gate: asyncio.Semaphore,
    outcome: PostOutcome,
    path: str,
    body: bytes,
    loop: asyncio.AbstractEventLoop,
) -> None:
    # The gate queues posts here (O(1) a post) rather than in httpx's pool, which slows down
    # quadratically with thousands of waiting requests and would make the generator the bottleneck.
    try:
        async with gate:
            outcome.started = loop.time()
            answer = await client.post(path, content=body)
        outcome.status = answer.status_code
        if 200 <= answer.status_code < 300:
            written = answer.json()
            outcome.acknowledged = int(written["imported"]) + int(written["duplicates"])
    except httpx.HTTPError as exc:
        outcome.status, outcome.error = 0, type(exc).__name__
    finally:
        if outcome.status != -1:
            outcome.finished = loop.time()


async def _read(
    client: httpx.AsyncClient,
    outcome: DashboardOutcome,
    query: DashboardQuery,
    token: str,
    loop: asyncio.AbstractEventLoop,
) -> None:
    headers = {"Authorization": f"Bearer {token}"} if query.auth == "token" else {}
    try:
        answer = await client.get(query.path, headers=headers)
        outcome.status = answer.status_code
    except httpx.HTTPError:
        outcome.status = 0
    finally:
        if outcome.status != -1:
            outcome.finished = loop.time()


def _cpu_now(server: ServerUnderTest) -> CpuReading:
    machine = psutil.cpu_times()
    busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
    return CpuReading(time.process_time(), server.cpu_seconds(), busy)


async def offer_feedback(
    client: httpx.AsyncClient,
    plan: LoadPlan,
    run_id: str,
    record: LoadRecord,
    server: ServerUnderTest,
    deadline: float,
    pending: set[asyncio.Task[None]],
) -> None:
    """Schedule posts open-loop, step by step, until the rates, ``max_items`` or ``deadline`` run out,
    or (unless ``plan.keep_climbing``) a step leaves the server saturated."""
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(plan.connections)
    rng = random.Random(run_id)
    path = BATCH_PATH if plan.batch > 1 else FEEDBACK_PATH
    seq = 0
    step_start = loop.time()
    for index, rate in enumerate(plan.rates):
        window = StepWindow(index, rate, step_start)
        window.cpu_before = _cpu_now(server)
        record.steps.append(window)
        requests_per_s = rate / plan.batch
        step_end = min(step_start + plan.step_seconds, deadline)
        # Whole requests in the step, counted once: adding 1/rate repeatedly would drift by rounding.
        requests = math.floor(requests_per_s * (step_end - step_start) + 1e-9)
        for number in range(requests):
            if seq >= plan.max_items:
                break
            due = step_start + number / requests_per_s
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            items = min(plan.batch, plan.max_items - seq)
            outcome = PostOutcome(index, seq, items, due)
            record.posts.append(outcome)
            body = request_body(run_id, seq, items, plan.batch > 1, rng)
            task = asyncio.create_task(_post(client, gate, outcome, path, body, loop))
            pending.add(task)
            task.add_done_callback(pending.discard)
            seq += items
        if step_end > loop.time():
            await asyncio.sleep(step_end - loop.time())
        window.end = loop.time()
        window.cpu_after = _cpu_now(server)
        step_start = step_end
        if seq >= plan.max_items or step_start >= deadline:
            break
        if not plan.keep_climbing and saturated(record, window):
            record.stopped_early = f"the server accepted under half of step {index + 1}'s rate"
            break


async def read_dashboard(
    client: httpx.AsyncClient,
    plan: LoadPlan,
    record: LoadRecord,
    token: str,
    stop: asyncio.Event,
    queries: Sequence[DashboardQuery],
    pending: set[asyncio.Task[None]],
) -> None:
    """Query the dashboard round-robin at ``plan.dashboard_rate`` requests/s until ``stop`` is set."""
    if plan.dashboard_rate <= 0 or not queries:
        return
    loop = asyncio.get_running_loop()
    due = loop.time()
    turn = 0
    while not stop.is_set():
        delay = due - loop.time()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                return
        query = queries[turn % len(queries)]
        step = record.steps[-1].index if record.steps else 0
        outcome = DashboardOutcome(step, query.name, due)
        record.reads.append(outcome)
        task = asyncio.create_task(_read(client, outcome, query, token, loop))
        pending.add(task)
        task.add_done_callback(pending.discard)
        turn += 1
        due += 1 / plan.dashboard_rate


async def run_load(server: ServerUnderTest, plan: LoadPlan, run_id: str, console: Console) -> LoadRecord:
    """Offer the plan's load to ``server`` while reading its dashboard; wait (bounded) for the answers."""
    record = LoadRecord()
    limits = httpx.Limits(max_connections=plan.connections, max_keepalive_connections=plan.connections)
    timeout = httpx.Timeout(plan.drain_seconds + plan.step_seconds)
    headers = {"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"}
    async with (
        httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=timeout, headers=headers) as posts,
        httpx.AsyncClient(
            base_url=server.base_url, limits=httpx.Limits(max_connections=8), timeout=timeout
        ) as dashboard,
    ):
        queries = list(DASHBOARD_QUERIES)
        if any(q.auth == "session" for q in queries) and not await sign_in(
            dashboard, ADMIN_EMAIL, server.password
        ):
            console.print("[yellow]could not sign in through /login: page queries skipped[/]")
            queries = [q for q in queries if q.auth != "session"]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + plan.max_seconds
        pending: set[asyncio.Task[None]] = set()
        stop = asyncio.Event()
        reader = asyncio.create_task(
            read_dashboard(dashboard, plan, record, server.token, stop, queries, pending)
        )
        try:
            await offer_feedback(posts, plan, run_id, record, server, deadline, pending)
            drain = StepWindow(len(record.steps), 0.0, loop.time(), cpu_before=_cpu_now(server))
            record.drain = drain
            stop.set()
            await reader
            if pending:
                await asyncio.wait(set(pending), timeout=plan.drain_seconds)
            drain.end = loop.time()
            drain.cpu_after = _cpu_now(server)
        finally:
            stop.set()
            for task in [*pending, reader]:
                task.cancel()
            await asyncio.gather(*pending, reader, return_exceptions=True)
    return record


# ---------------------------------------------------------------- report


def _fmt(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}%"


def figures_table(figures: Sequence[StepFigures]) -> Table:
    table = Table(
        title="load steps 负载阶段 (latency in ms from the scheduled send time; CPU in % of one core)"
    )
    for column in (
        "step",
        "offered/s",
        "accepted/s",
        "p50",
        "p95",
        "p99",
        "errors",
        "wait p95",
        "dash p95",
        "dash err",
        "gen CPU",
        "server CPU",
        "other CPU",
        "target",
    ):
        table.add_column(column, justify="left" if column in ("step", "errors") else "right")
    for f in figures:
        table.add_row(
            f.step,
            _fmt(f.offered_per_s),
            _fmt(f.accepted_per_s),
            _fmt(f.post_p50_ms, 1),
            _fmt(f.post_p95_ms, 1),
            _fmt(f.post_p99_ms, 1),
            ", ".join(f"{k}×{v}" for k, v in f.errors.items()) or "0",
            _fmt(f.client_wait_p95_ms, 1),
            _fmt(f.dashboard_p95_ms, 1),
            str(f.dashboard_errors),
            _pct(f.generator_cpu_pct),
            _pct(f.server_cpu_pct),
            _pct(f.others_cpu_pct),
            ("[green]met 达标[/]" if f.meets_target() else "") if not f.step.startswith("drain") else "",
        )
    return table


def dashboard_table(record: LoadRecord) -> Table:
    table = Table(title="dashboard queries 看板查询 (ms)")
    for column in ("query", "count", "p50", "p95", "max", "errors"):
        table.add_column(column, justify="left" if column == "query" else "right")
    for name in dict.fromkeys(r.query for r in record.reads):
        reads = [r for r in record.reads if r.query == name]
        latencies = [r.finished - r.scheduled for r in reads if r.finished is not None]
        failed = Counter(status_label(r.status) for r in reads if not 200 <= r.status < 300)
        table.add_row(
            name,
            str(len(reads)),
            _fmt(_ms(latencies, 50), 1),
            _fmt(_ms(latencies, 95), 1),
            _fmt(max(latencies) * 1000 if latencies else None, 1),
            ", ".join(f"{k}×{v}" for k, v in sorted(failed.items())) or "0",
        )
    return table


def all_figures(record: LoadRecord) -> list[StepFigures]:
    figures = [step_figures(record, w, f"{w.index + 1}: {w.rate:g}/s") for w in record.steps]
    if record.drain is not None:
        figures.append(step_figures(record, record.drain, "drain 收尾"))
    return figures


def summary(
    record: LoadRecord,
    figures: Sequence[StepFigures],
    count: StoreCount,
    *,
    backend: str,
    analysis: str,
    plan: LoadPlan,
) -> dict[str, Any]:
    """Everything the run measured, as one JSON-ready dict."""
    steps = [f for f in figures if not f.step.startswith("drain")]
    met = [f.step for f in steps if f.meets_target()]
    statuses = Counter(status_label(p.status, p.error) for p in record.posts)
    return {
        "backend": backend,
        "analysis": analysis,
        "plan": asdict(plan),
        "cpu_count": os.cpu_count(),
        "requests": len(record.posts),
        "items_sent": sum(p.items for p in record.posts),
        "items_accepted": sum(p.acknowledged for p in record.posts),
        "statuses": dict(sorted(statuses.items())),
        "store": asdict(count),
        "steps": [asdict(f) for f in figures],
        "stopped_early": record.stopped_early,
        "target_met_at": met,
        "target_met": bool(met) and count.lost == 0,
    }


def print_report(
    console: Console, record: LoadRecord, result: dict[str, Any], figures: list[StepFigures]
) -> None:
    console.print(figures_table(figures))
    console.print(dashboard_table(record))
    store = result["store"]
    generator = max((f.generator_cpu_pct or 0.0 for f in figures), default=0.0)
    others = max((f.others_cpu_pct or 0.0 for f in figures), default=0.0)
    console.print(
        f"backend {result['backend']}, background analysis {result['analysis']}, "
        f"batch {result['plan']['batch']}; "
        f"sent {result['items_sent']:,} items in {result['requests']:,} "
        f"requests, accepted {result['items_accepted']:,}; answers by status: {result['statuses']}",
        highlight=False,
    )
    console.print(
        f"store 存储核对: {store['distinct_stored']:,} of the run's items stored, lost 丢失 {store['lost']}, "
        f"duplicates 重复 {store['duplicates']}, "
        f"stored without a 2xx answer {store['stored_unacknowledged']}; "
        f"analysed {store['analysed']:,}, events still pending {store['pending_events']:,}",
        highlight=False,
    )
    if result["stopped_early"]:
        console.print(f"stopped climbing 提前停止: {result['stopped_early']}", highlight=False)
    if result["target_met"]:
        verdict = f"[green]target met 达标[/] at {', '.join(result['target_met_at'])}"
    else:
        verdict = "[red]target not met 未达标[/]"
    console.print(
        f"target 目标: ≥ {TARGET_ACCEPTED_PER_S} accepted items/s at post p95 < {TARGET_P95_MS:.0f} ms, "
        f"zero lost — {verdict}"
    )
    console.print(
        f"note: {result['cpu_count']} CPU cores shared by the server and this load generator "
        f"(which used up to {generator:.0f}% of one core); other processes used up to {others:.0f}% "
        "of one core meanwhile. Figures are for this machine as loaded.",
        highlight=False,
    )


# ---------------------------------------------------------------- command line


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", default=",".join(map(str, DEFAULT_RATES)), help="items/s per step")
    parser.add_argument("--step-seconds", type=float, default=10.0)
    parser.add_argument("--max-items", type=int, default=50_000, help="hard cap on items sent")
    parser.add_argument("--max-seconds", type=float, default=120.0, help="hard cap on the sending time")
    parser.add_argument("--drain-seconds", type=float, default=30.0, help="longest wait for late answers")
    parser.add_argument("--batch", type=int, default=1, help="items per request (>1: the batch endpoint)")
    parser.add_argument("--dashboard-rate", type=float, default=5.0, help="dashboard requests/s")
    parser.add_argument("--connections", type=int, default=64, help="HTTP connections for posting")
    parser.add_argument(
        "--keep-climbing", action="store_true", help="go on rising after a step saturates the server"
    )
    parser.add_argument(
        "--analysis",
        choices=ANALYSIS_MODES,
        default="in-process",
        help="background analysis: in the server (default, as shipped), a separate worker process, or off",
    )
    parser.add_argument("--no-analysis", action="store_true", help="same as --analysis off")
    parser.add_argument("--workers", type=int, default=1, help="web worker processes of the server")
    parser.add_argument("--database-url", help="PostgreSQL admin URL: a fresh database is made on it")
    parser.add_argument("--keep-database", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--json-out", type=Path, help="also write the summary as JSON to this file")
    args = parser.parse_args(argv)
    try:
        args.rates = parse_rates(args.rates)
    except ValueError as exc:
        parser.error(str(exc))
    if args.batch < 1 or args.max_items < 1 or args.max_seconds <= 0 or args.step_seconds <= 0:
        parser.error("--batch, --max-items, --max-seconds and --step-seconds must be positive")
    if args.database_url:
        url = make_url(normalize_url(args.database_url))
        if not url.drivername.startswith("postgresql"):
            parser.error("--database-url must be a PostgreSQL URL (SQLite is the default)")
        if url.host and not is_loopback(url.host):
            parser.error("loopback only: the database must be on this machine")
    return args


def run(args: argparse.Namespace, console: Console) -> int:
    """Run one load test as ``args`` describe; the exit code (1 when acknowledged items were lost)."""
    plan = LoadPlan(
        rates=args.rates,
        step_seconds=args.step_seconds,
        max_items=args.max_items,
        max_seconds=args.max_seconds,
        drain_seconds=args.drain_seconds,
        batch=args.batch,
        dashboard_rate=args.dashboard_rate,
        connections=args.connections,
        keep_climbing=args.keep_climbing,
    )
    run_id = secrets.token_hex(4)
    analysis = "off" if args.no_analysis else args.analysis
    with tempfile.TemporaryDirectory(prefix="closeloop-load-") as tmp, contextlib.ExitStack() as stack:
        workdir = Path(tmp)
        if args.database_url:
            database_url = stack.enter_context(
                fresh_postgres_database(args.database_url, f"closeloop_load_{run_id}", args.keep_database)
            )
            backend = "postgresql"
        else:
            database_url, backend = f"sqlite:///{workdir / 'load.db'}", "sqlite"
        console.print(
            f"run {run_id}: {backend}, background analysis {analysis}, rates {plan.rates} "
            f"items/s × {plan.step_seconds:g} s, batch {plan.batch}, caps {plan.max_items:,} items / "
            f"{plan.max_seconds:g} s",
            highlight=False,
        )
        with running_server(database_url, workdir, analysis=analysis, workers=args.workers) as server:
            record = asyncio.run(run_load(server, plan, run_id, console))
        stored, analysed, pending = count_in_store(database_url, run_id)
    count = compare_with_store(
        stored,
        acknowledged_ids(record, run_id),
        unacknowledged_ids(record, run_id),
        analysed=analysed,
        pending=pending,
    )
    figures = all_figures(record)
    result = summary(record, figures, count, backend=backend, analysis=analysis, plan=plan)
    print_report(console, record, result, figures)
    if args.json_out:
        args.json_out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    return 1 if count.lost else 0


def main(argv: Sequence[str] | None = None) -> int:
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # a log file or pipe: keep the step table on one line per step
    args = parse_args(argv)
    try:
        return run(args, console)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted 已中断: the server was stopped[/]")
        return 130


if __name__ == "__main__":
    sys.exit(main())
