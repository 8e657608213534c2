"""The read API with its database out of reach: a 503 problem with ``Retry-After``, never a 500."""

from __future__ import annotations

import secrets
import urllib.error
import urllib.request
from pathlib import Path

import orjson

from tests.api_helpers import start_api
from tests.fix_pipeline import pipeline_env
from vitalstream.api.keys import TOKEN_PREFIX
from vitalstream.platform.settings import Settings
from vitalstream.stack.ports import free_port

PASSWORD = "not-for-any-answer"


def test_an_unreachable_database_is_answered_503_with_retry_after(db_settings: Settings, tmp_path: Path) -> None:
    nowhere = free_port()  # nothing listens there
    api = start_api(
        pipeline_env(db_settings, tmp_path),
        tmp_path,
        VITALSTREAM_API_DATABASE_URL=f"postgresql://vitalstream_reader:{PASSWORD}@127.0.0.1:{nowhere}/vitalstream",
        VITALSTREAM_API_POOL_TIMEOUT_S="1",
    )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)  # well-formed, so the API looks it up in the database
    request = urllib.request.Request(
        f"{api.url}/v1/subjects/anyone/metrics", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        try:
            urllib.request.urlopen(request, timeout=30)
            raise AssertionError("answered 2xx without a database")
        except urllib.error.HTTPError as err:
            status, headers, body = err.code, err.headers, err.read()
    finally:
        api.stop()
    assert status == 503, body
    assert headers["Content-Type"].startswith("application/problem+json")
    assert headers["Retry-After"] == "1"
    assert orjson.loads(body)["status"] == 503
    logged = api.log.read_text()
    assert "database_unavailable" in logged
    for text in (body.decode(), logged):
        assert PASSWORD not in text
