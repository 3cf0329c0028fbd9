"""The load test script (benchmarks/load.py): its counting rules, and one tiny real run against SQLite.

No timing is asserted: speed figures belong to the script's output, not to the test run.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "load.py"


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("closeloop_benchmark_load", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


load = _load_script()


@pytest.mark.parametrize(
    ("text", "rates"),
    [("100,200,400", (100, 200, 400)), (" 5 , 10 ", (5, 10)), ("600", (600,))],
)
def test_parse_rates_reads_a_rising_list(text, rates):
    assert load.parse_rates(text) == rates


@pytest.mark.parametrize("text", ["", "100,-5", "0", "fast"])
def test_parse_rates_refuses_nonsense(text):
    with pytest.raises(ValueError):
        load.parse_rates(text)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("10.0.0.5", False),
        ("0.0.0.0", False),
        ("db.example.com", False),
    ],
)
def test_only_loopback_hosts_pass(host, loopback):
    assert load.is_loopback(host) is loopback


def test_percentile_uses_the_nearest_rank():
    latencies = [float(n) for n in range(1, 101)]
    assert load.percentile(latencies, 50) == 50.0
    assert load.percentile(latencies, 95) == 95.0
    assert load.percentile(latencies, 100) == 100.0
    assert load.percentile([], 95) is None


def test_feedback_items_carry_unique_external_ids_of_the_run():
    rng = load.random.Random(1)
    body = json.loads(load.request_body("abcd", 10, 3, True, rng))
    ids = [item["external_id"] for item in body["items"]]
    assert ids == ["load-abcd-00000010", "load-abcd-00000011", "load-abcd-00000012"]
    single = json.loads(load.request_body("abcd", 7, 1, False, rng))
    assert single["external_id"] == "load-abcd-00000007" and single["channel"] == "api"


def test_lost_duplicates_and_unacknowledged_are_told_apart():
    stored = Counter({"a": 1, "b": 2, "x": 1})
    count = load.compare_with_store(stored, {"a", "b", "c"}, {"x", "y"}, analysed=2, pending=1)
    assert count.lost == 1  # c was acknowledged but is not stored
    assert count.duplicates == 1  # b twice
    assert count.stored_unacknowledged == 1  # x kept although its post failed
    assert (count.stored_items, count.distinct_stored) == (4, 3)


def test_step_figures_count_answers_in_the_window_and_errors_by_status():
    record = load.LoadRecord()
    window = load.StepWindow(0, 4.0, start=0.0, end=1.0)
    record.steps.append(window)
    record.posts += [
        load.PostOutcome(0, 0, 1, scheduled=0.0, started=0.0, finished=0.1, status=201, acknowledged=1),
        load.PostOutcome(0, 1, 1, scheduled=0.25, started=0.25, finished=0.45, status=201, acknowledged=1),
        load.PostOutcome(0, 2, 1, scheduled=0.5, started=0.5, finished=0.6, status=503),
        load.PostOutcome(0, 3, 1, scheduled=0.75, started=0.75, finished=1.5, status=201, acknowledged=1),
    ]
    figures = load.step_figures(record, window, "1")
    assert figures.offered_per_s == 4.0
    assert figures.accepted_per_s == 2.0  # the last answer came after the window
    assert figures.errors == {"503": 1}
    assert figures.post_p99_ms == pytest.approx(750.0)
    assert not figures.meets_target()
    assert load.acknowledged_ids(record, "r") == {"load-r-00000000", "load-r-00000001", "load-r-00000003"}


def test_a_tiny_real_run_loses_nothing(tmp_path):
    out = tmp_path / "summary.json"
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--rates",
            "10,20",
            "--step-seconds",
            "1",
            "--dashboard-rate",
            "4",
            "--max-seconds",
            "10",
            "--drain-seconds",
            "30",
            "--json-out",
            str(out),
            "--keep-climbing",  # a slow machine must not end the run early: the test checks counting only
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["backend"] == "sqlite" and result["analysis"] == "in-process"
    assert result["items_sent"] == 30
    assert result["store"]["lost"] == 0 and result["store"]["duplicates"] == 0
    assert result["store"]["distinct_stored"] >= result["items_accepted"] > 0
    assert [step["step"] for step in result["steps"]] == ["1: 10/s", "2: 20/s", "drain 收尾"]
    assert "lost 丢失 0" in done.stdout
