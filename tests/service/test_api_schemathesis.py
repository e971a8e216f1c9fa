"""Property-based pass over the whole OpenAPI schema (schemathesis): for every operation,
schema-valid and schema-invalid requests, sent with a live key; no answer may be a server
error. Runs against PostgreSQL (the production backend) with bounded examples.

(schemathesis' own ``from_fixture`` pytest integration does not run under pytest 9, so the
operations are driven with hypothesis directly.)"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from .conftest import Api

EXAMPLES = {GenerationMode.POSITIVE: 60, GenerationMode.NEGATIVE: 30}


@pytest.fixture(scope="module")
def pg_api(pg_db):
    api = Api(pg_db, max_campaign_runs=3000)  # random campaigns stay small (the bulk path is tested elsewhere)
    with api.client:
        yield api


def test_no_server_errors_on_any_operation(pg_api):
    schema = schemathesis.openapi.from_asgi("/openapi.json", pg_api.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {
        "POST /v1/runs", "GET /v1/runs/{run_id}", "DELETE /v1/runs/{run_id}", "POST /v1/batches",
        "GET /v1/batches/{batch_id}", "GET /v1/archs/{arch}", "GET /v1/leaderboard", "GET /v1/rankings/kendall",
        "GET /healthz", "GET /readyz", "GET /metrics"}
    statuses: dict[str, set[int]] = {}
    for operation in operations:
        raw = operation.definition.raw
        has_inputs = bool(raw.get("parameters") or raw.get("requestBody"))
        for mode, examples in EXAMPLES.items():
            if mode is GenerationMode.NEGATIVE and not has_inputs:
                continue  # nothing to make invalid
            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def check(case) -> None:  # type: ignore[no-untyped-def]
                response = case.call_and_validate(checks=[not_a_server_error], headers={"X-API-Key": pg_api.key})
                statuses.setdefault(case.operation.label, set()).add(response.status_code)

            check()
    # the pass reached the handlers, not only the validation layer
    assert 200 in statuses["GET /v1/archs/{arch}"] and 202 in statuses["POST /v1/runs"]
    assert all(code < 500 for codes in statuses.values() for code in codes)
