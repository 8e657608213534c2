"""Terra large requests tracked end to end on the real broker and PostgreSQL (design §13, issue 12.5).

Gateway, worker and sink run as processes. One request is announced (processing → sending with
``expected_payloads=3``) and delivered in three chunks, one of them twice: it ends ``complete`` in
``backfill.jobs`` and ``backfill_jobs``, and ``vitalstream backfill show`` says so. Another misses
a chunk: after the (test-short) timeout it turns ``incomplete``, with the missing chunk named.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from schemas.codec import Codec
from schemas.records import BackfillJob
from tests.fix_pipeline import Pipeline, running_pipeline
from tests.terra_requests import large_request
from vitalstream.platform import kafka
from vitalstream.platform.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
INCOMPLETE_AFTER_S = 4


@pytest.fixture
def tracked(db_settings: Settings, tmp_path: Path) -> Iterator[Pipeline]:
    yield from running_pipeline(db_settings, tmp_path, VITALSTREAM_BACKFILL_INCOMPLETE_AFTER_S=str(INCOMPLETE_AFTER_S))


def _row(p: Pipeline, reference: str) -> tuple[Any, ...] | None:
    with p.db() as conn:
        return conn.execute(
            "SELECT status, expected_payloads, received_chunks, chunks, user_id FROM backfill_jobs"
            " WHERE reference = %s",
            (reference,),
        ).fetchone()


def test_a_chunked_request_is_tracked_to_complete_and_a_gap_turns_incomplete(tracked: Pipeline) -> None:
    p = tracked
    done, gap = f"ref-{uuid.uuid4().hex[:8]}", f"ref-{uuid.uuid4().hex[:8]}"
    large_request(p.gateway_url, p.terra_secret, done, "u-done", [1, 2, 2, 3], expected=3)  # chunk 2 twice
    large_request(p.gateway_url, p.terra_secret, gap, "u-gap", [1, 3], expected=3)

    p.wait_for(lambda: (_row(p, done) or ("",))[0] == "complete", 90, "the complete request in backfill_jobs")
    assert _row(p, done) == ("complete", 3, 3, [1, 2, 3], "u-done")
    p.wait_for(lambda: (_row(p, gap) or ("",))[0] == "incomplete", 60, "the request with a gap to turn incomplete")
    assert _row(p, gap) == ("incomplete", 3, 2, [1, 3], "u-gap")

    jobs = kafka.read_compacted(p.settings, p.settings.topic("backfill.jobs"), "test-backfill")
    codec = Codec()
    topic = {k.decode(): codec.decode_as(v, BackfillJob) for k, v in jobs.items()}
    assert topic[done].status == "complete" and topic[done].chunks == [1, 2, 3]
    assert topic[gap].status == "incomplete" and topic[gap].chunks == [1, 3]

    shown = p.cli("backfill", "show", done)
    assert shown.returncode == 0, shown.stderr
    described = json.loads(shown.stdout)
    assert described["status"] == "complete" and described["missing_chunks"] == []
    gap_shown = json.loads(p.cli("backfill", "show", gap).stdout)
    assert gap_shown["status"] == "incomplete" and gap_shown["missing_chunks"] == [2]
    listed = p.cli("backfill", "ls")
    assert listed.returncode == 0 and done in listed.stdout and "3/3" in listed.stdout, listed.stdout

    unknown = p.cli("backfill", "show", "no-such-ref")
    assert unknown.returncode == 1 and "no large request 'no-such-ref'" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_backfill_cli_says_in_one_line_when_the_database_is_unreachable(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "VITALSTREAM_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
        "VITALSTREAM_STACK_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "vitalstream.cli", "backfill", "ls"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: cannot reach PostgreSQL at VITALSTREAM_DATABASE_URL: is it running (`vitalstream status`)?"
    ]
