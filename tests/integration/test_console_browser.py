"""The ops console in a real browser (Playwright driving Debian's Chromium) against the real pipeline.

One pipeline (gateway, worker, sink on real Kafka and PostgreSQL), one console process and one
browser serve the whole module. Accounts are made with the ``vitalstream accounts`` CLI.
With ``VITALSTREAM_SCREENSHOT_DIR`` set, the page tour also writes the README's screenshots.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from playwright import sync_api as playwright_sync
from pydantic import SecretStr

from tests.fix_kafka import make_settings
from tests.fix_payloads import PayloadServer
from tests.fix_pg import with_search_path
from tests.fix_pipeline import SERVICES, Pipeline, pipeline_env
from tests.terra_requests import large_request
from vitalstream.platform.topics import ensure_topics
from vitalstream.simulate import Delivery, deliveries, send_all
from vitalstream.stack import proc
from vitalstream.stack.ports import free_port, wait_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORDS = {
    "admin": "admin-" + uuid.uuid4().hex,
    "operator": "oper-" + uuid.uuid4().hex,
    "viewer": "view-" + uuid.uuid4().hex,
}
PAGES = ["/", "/dlq", "/recompute", "/quality", "/subjects", "/backfill", "/audit"]
SCREENSHOTS = os.environ.get("VITALSTREAM_SCREENSHOT_DIR")


@dataclass
class Console:
    pipeline: Pipeline
    url: str
    files: dict[str, bytes]
    files_url: str
    pid: int = 0
    errors: list[str] = field(default_factory=list)

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return self.pipeline.cli(*args, stdin=stdin)

    def outcome(self, event_id: str) -> str | None:
        with self.pipeline.db() as conn:
            row = conn.execute("SELECT outcome FROM ingested_events WHERE event_id = %s", (event_id,)).fetchone()
        return row[0] if row else None


@pytest.fixture(scope="module")
def console(kafka_bootstrap: str, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    from sinks.migrate import upgrade

    schema = f"t_{uuid.uuid4().hex[:12]}"
    upgrade(database_url, schema=schema)
    settings = make_settings(kafka_bootstrap, database_url=SecretStr(with_search_path(database_url, schema)))
    assert not ensure_topics(settings).problems
    workdir = tmp_path_factory.mktemp("console")
    pipeline = Pipeline(settings, workdir, pipeline_env(settings, workdir))
    port = free_port()
    pipeline.env.update({"VITALSTREAM_CONSOLE_PORT": str(port), "VITALSTREAM_CONSOLE_LIVE_INTERVAL_S": "1"})
    payloads = PayloadServer().start()
    c = Console(pipeline, f"http://127.0.0.1:{port}", payloads.files, payloads.base)
    try:
        for service in SERVICES:
            pipeline.start(service)
        for role, password in PASSWORDS.items():
            secret = workdir / f"{role}.password"
            secret.write_text(password + "\n")
            args = ["accounts", "add", role, "--role", role]
            done = (
                c.cli(*args, stdin=password + "\n")
                if role == "viewer"
                else c.cli(*args, "--password-file", str(secret))
            )
            assert done.returncode == 0 and f"created {role}" in done.stdout, done.stdout + done.stderr
        c.pid = proc.spawn(
            [sys.executable, "-m", "vitalstream.cli", "console"], workdir / "console.log", env=pipeline.env
        )
        assert wait_port(port, timeout_s=30), (workdir / "console.log").read_text()
        yield c
    finally:
        proc.stop(c.pid or None, timeout_s=20)
        for service in list(pipeline.pids):
            pipeline.stop(service)
        payloads.stop()
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    log = (workdir / "console.log").read_text()
    assert '"request_failed"' not in log, "the console failed a request: see its log"
    for role, password in PASSWORDS.items():
        assert password not in log, f"the {role} password reached the console log"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/ensure-system-deps.sh (it installs Debian's chromium)")
    with playwright_sync.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def open_page(browser: Any, console: Console) -> Iterator[Any]:
    """``open_page(role)``: a fresh browser context logged in as that role; no console error allowed."""
    contexts: list[Any] = []
    errors: list[str] = []

    def make(role: str | None, width: int = 1280, expected_statuses: tuple[int, ...] = ()) -> Any:
        def on_console(m: Any) -> None:
            expected = any(f"status of {code}" in m.text for code in expected_statuses)
            if m.type == "error" and not expected:
                errors.append(f"{m.type}: {m.text}")

        ctx = browser.new_context(viewport={"width": width, "height": 900}, base_url=console.url)
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("console", on_console)
        page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
        if role is not None:
            login(page, role)
        return page

    yield make
    for ctx in contexts:
        ctx.close()
    assert not errors, errors


def login(page: Any, role: str) -> None:
    page.goto("/login")
    page.get_by_label("Account").fill(role)
    page.get_by_label("Password").fill(PASSWORDS[role])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")
    assert page.locator(".who .account").inner_text() == role


def _send(c: Console, items: list[Delivery]) -> list[str]:
    # Playwright's sync API keeps an event loop in this thread: the sender gets its own.
    url, secret = f"{c.pipeline.gateway_url}/webhooks/terra", c.pipeline.terra_secret
    with ThreadPoolExecutor(1) as pool:
        stats = pool.submit(asyncio.run, send_all(url, secret, items, rate=200)).result()
    assert stats.errors == 0 and stats.rejected == 0, stats.by_status
    return sorted(stats.accepted_ids)


def _poison(c: Console, user: str) -> str:
    """An s3_payload whose download URL answers 404: dead-lettered at fetch until the file exists."""
    body = orjson.dumps(
        {"type": "s3_payload", "user": {"user_id": user, "provider": "WITHINGS"}, "url": f"{c.files_url}/{user}.json"}
    )
    [event_id] = _send(c, [Delivery("s3_payload", "WITHINGS", user, f"trace-{user}", int(time.time() * 1000), body)])
    return event_id


def test_the_backfill_page_lists_the_tracked_large_requests(open_page: Any, console: Console) -> None:
    """Runs before the page tour, so the screenshot of ``/backfill`` shows a real request."""
    p = console.pipeline
    reference = f"ref-{uuid.uuid4().hex[:8]}"
    large_request(p.gateway_url, p.terra_secret, reference, "console-u9", [1, 2], expected=2)

    def complete() -> bool:
        with p.db() as conn:
            row = conn.execute("SELECT status FROM backfill_jobs WHERE reference = %s", (reference,)).fetchone()
        return row is not None and row[0] == "complete"

    p.wait_for(complete, 90, "the large request in backfill_jobs")
    page = open_page("viewer")
    page.goto("/backfill")
    row = page.locator("tbody tr", has_text=reference)
    assert row.count() == 1 and "complete" in row.inner_text() and "console-u9" in row.inner_text()


def test_each_role_logs_in_and_sees_what_it_may(open_page: Any, console: Console) -> None:
    ids = _send(console, list(deliveries(30, users=4, seed=3)))
    console.pipeline.wait_for(lambda: all(console.outcome(i) for i in ids), 90, "the first events to be processed")
    for role in ("admin", "operator", "viewer"):
        page = open_page(role)
        for path in PAGES if role == "admin" else PAGES[:2]:
            t0 = time.monotonic()
            response = page.goto(path)
            took = time.monotonic() - t0
            assert response.status == 200, (role, path, response.status)
            assert took < 2.0, f"{path} took {took:.2f}s for {role}"
        assert (page.get_by_role("link", name="Accounts").count() == 1) == (role == "admin")
        assert page.request.get("/accounts").status == (200 if role == "admin" else 403)
        page.goto("/")
        page.keyboard.press("Tab")  # the skip link comes first, then the navigation
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page = open_page("admin")
    page.goto("/subjects")
    page.get_by_label("Subject").fill(_a_subject(console))
    page.get_by_role("button", name="Look up").click()
    assert page.locator(".badge").count() > 0
    page.get_by_role("link", name="history").first.click()
    assert page.locator("svg.chart polyline").count() == 1


def _a_subject(c: Console) -> str:
    with c.pipeline.db() as conn:
        row = conn.execute("SELECT subject FROM latest_metrics ORDER BY subject LIMIT 1").fetchone()
    assert row is not None
    return str(row[0])


def _screenshots(open_page: Any, out: Path, subject_url: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    page = open_page("admin")
    for name, path in [
        ("overview", "/"),
        ("dlq", "/dlq"),
        ("recompute", "/recompute"),
        ("quality", "/quality"),
        ("subject", subject_url),
        ("backfill", "/backfill"),
        ("accounts", "/accounts"),
        ("audit", "/audit"),
    ]:
        page.goto(path)
        page.screenshot(path=str(out / f"{name}.png"), full_page=True)
    phone = open_page("operator", width=390)
    phone.goto("/")
    phone.screenshot(path=str(out / "overview-phone.png"))
    login_page = open_page(None)
    login_page.goto("/login")
    login_page.screenshot(path=str(out / "login.png"))


def test_overview_shows_the_numbers_of_vitalstream_health(open_page: Any, console: Console) -> None:
    health = console.cli("health")
    assert health.returncode == 0, health.stdout + health.stderr
    checks = json.loads(health.stdout)["checks"]
    page = open_page("viewer")
    page.goto("/")
    for stage, lag in checks["consumer_lag"].items():
        assert page.get_by_test_id(f"lag-{stage}").inner_text() == str(lag)
    assert page.get_by_test_id("dead-letters").inner_text() == str(checks["deadLetters"])


def test_poison_appears_live_and_an_operator_replays_it(open_page: Any, console: Console) -> None:
    page = open_page("operator")
    page.goto("/dlq")
    page.evaluate("window.__sameDocument = true")
    event_id = _poison(console, "console-u1")
    row = page.locator(f"[data-testid=dlq-record][data-event-id='{event_id}']")
    row.wait_for(timeout=30_000)  # pushed over SSE: the page was not reloaded
    assert page.evaluate("window.__sameDocument") is True
    assert "pending" in row.inner_text()

    console.files["console-u1.json"] = (ROOT / "tests/data/terra/examples/body__body.json").read_bytes()  # the fix
    row.get_by_role("checkbox").check()
    page.get_by_test_id("replay-selected").click()
    preview = page.get_by_test_id("preview-row")
    assert preview.count() == 1 and event_id in preview.inner_text() and "WITHINGS" in preview.inner_text()
    assert console.outcome(event_id) == "dead_lettered", "a dry run changes nothing"
    page.get_by_label("I have checked this list").check()
    page.get_by_test_id("confirm-replay").click()
    page.wait_for_url("**/dlq#jobs")
    page.locator("[data-testid=replay-job] .job-done").first.wait_for(timeout=30_000)
    console.pipeline.wait_for(
        lambda: console.outcome(event_id) == "processed", 90, "the replayed event to be processed"
    )
    page.locator(f"[data-testid=dlq-record][data-event-id='{event_id}'] .replayed").wait_for(timeout=15_000)
    page.goto("/audit")
    assert "dlq.replay" in page.locator("table").inner_text()


def test_a_viewer_cannot_replay(open_page: Any, console: Console) -> None:
    event_id = _poison(console, "console-u2")
    console.pipeline.wait_for(
        lambda: console.outcome(event_id) == "dead_lettered", 60, "the poison to be dead-lettered"
    )
    page = open_page("viewer")
    page.goto("/dlq")
    page.locator(f"[data-testid=dlq-record][data-event-id='{event_id}']").wait_for()
    assert page.get_by_role("button", name="Replay selected…").count() == 0
    assert page.locator("form[action='/dlq/preview'] button").count() == 0
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    for path in ("/dlq/preview", "/dlq/replay"):
        answer = page.request.post(
            path, form={"csrf": csrf, "stage": "fetch", "error_class": "DownloadFailedError", "confirm": "yes"}
        )
        assert answer.status == 403, (path, answer.status)
    time.sleep(2)
    assert console.outcome(event_id) == "dead_lettered"


def test_posts_without_csrf_are_refused_and_logout_ends_the_session(open_page: Any, console: Console) -> None:
    page = open_page("operator")
    page.goto("/dlq")
    answer = page.request.post(
        "/dlq/replay", form={"stage": "fetch", "error_class": "DownloadFailedError", "confirm": "yes"}
    )
    assert answer.status == 403 and "CSRF" in answer.text()
    wrong = page.request.post("/recompute", form={"csrf": "forged", "confirm": "yes"})
    assert wrong.status == 403
    cookie = next(c for c in page.context.cookies() if c["name"] == "vs_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")
    assert not [c for c in page.context.cookies() if c["name"] == "vs_session"]
    page.context.add_cookies([{**cookie}])  # the old session id is dead on the server too
    page.goto("/")
    assert page.url.endswith("/login")


def test_an_admin_adds_an_account_and_failed_logins_are_throttled(open_page: Any, console: Console) -> None:
    admin = open_page("admin")
    admin.goto("/accounts")
    password = "dana-" + uuid.uuid4().hex
    admin.get_by_label("Account name").fill("dana")
    admin.get_by_label("Role").select_option("viewer")
    admin.get_by_label("Password (at least 12 characters)").fill(password)
    admin.get_by_role("button", name="Save account").click()
    assert "dana" in admin.locator("table").first.inner_text()

    page = open_page(None, expected_statuses=(401, 429))  # the answers to wrong and throttled logins
    for _ in range(5):  # VITALSTREAM_CONSOLE_LOGIN_MAX_FAILURES_PER_ACCOUNT
        page.goto("/login")
        page.get_by_label("Account").fill("dana")
        page.get_by_label("Password").fill("not-the-password")
        page.get_by_role("button", name="Log in").click()
        assert "Wrong account name or password" in page.locator(".error").inner_text()
    page.goto("/login")
    page.get_by_label("Account").fill("dana")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    assert "Too many failed logins" in page.locator(".error").inner_text()
    assert page.url.endswith("/login")
    admin.goto("/audit")
    audit_text = admin.locator("table").inner_text()
    assert "throttled" in audit_text and "account.add" in audit_text and password not in audit_text
    if SCREENSHOTS:  # last in the module: every page has something to show by now
        with console.pipeline.db() as conn:
            row = conn.execute(
                "SELECT subject, metric FROM observations GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1"
            ).fetchone()
        assert row is not None
        _screenshots(open_page, Path(SCREENSHOTS), f"/subjects/{row[0]}?metric={row[1]}")
