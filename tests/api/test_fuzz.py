"""Property-based fuzzing of the whole API from its OpenAPI spec (schemathesis + hypothesis): no 500."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

pytestmark = pytest.mark.slow

FUZZ = settings(
    max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
)


def test_api_never_answers_500(live_server, admin_token):
    schema = schemathesis.openapi.from_url(f"{live_server}/openapi.json")
    headers = {"Authorization": f"Bearer {admin_token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    calls: list[int] = []
    assert len(operations) >= 15
    for operation in operations:
        fuzz_operation(operation, live_server, headers, calls)
    assert len(calls) >= 5 * len(operations)  # the fuzzer really called every operation, repeatedly
    assert any(200 <= code < 300 for code in calls) and any(code == 422 for code in calls)


def fuzz_operation(operation, base_url: str, headers: dict[str, str], calls: list[int]) -> None:
    @FUZZ
    @given(case=operation.as_strategy())
    def no_server_error(case):
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        calls.append(response.status_code)
        assert response.status_code < 500, (
            f"{operation.method.upper()} {case.formatted_path}: {response.status_code} {response.text[:300]}"
        )

    no_server_error()
