"""Schemathesis drives the read API from its own /openapi.json with a valid key: never a 5xx.

The API runs as its real process (`vitalstream api`, as vitalstream_reader) on the real broker
and database; the stream is left out (an endless response), tested in test_api.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings

from tests.api_helpers import start_api
from tests.fix_pipeline import pipeline_env
from vitalstream.platform.settings import Settings


def test_no_generated_request_gets_a_server_error(db_settings: Settings, tmp_path: Path) -> None:
    api = start_api(pipeline_env(db_settings, tmp_path), tmp_path)
    try:
        key = api.key("fuzz", "--subjects", "*")
        schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
        checked: list[str] = []
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.path == "/v1/stream":
                continue

            @given(case=operation.as_strategy())
            @hsettings(
                max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
            )
            def run(case: Any) -> None:
                response = case.call(base_url=api.url, headers={"Authorization": f"Bearer {key}"}, timeout=10)
                assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:200])

            run()
            checked.append(f"{operation.method.upper()} {operation.path}")
        assert {"GET /v1/subjects/{subject}/metrics", "GET /v1/subjects/{subject}/observations"} <= set(checked)
        assert "Traceback" not in api.log.read_text()
    finally:
        api.stop()
