"""Exception text and tracebacks pass the redactor; so do the standard library's log lines."""

from __future__ import annotations

import base64
import faulthandler
import logging
import secrets
import signal
from collections.abc import Iterator

import pytest
import structlog
from pydantic import SecretStr

from gateway.signatures import terra_header
from vitalstream.platform.observability import configure_logging, get_logger, register_secrets, scrub
from vitalstream.platform.settings import Settings, secret_values

TERRA = secrets.token_hex(16)
WHSEC = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
ADMIN = secrets.token_urlsafe(24)
DB_PASSWORD = "pa" + secrets.token_hex(8)


def settings() -> Settings:
    return Settings(
        terra_secrets=[SecretStr(TERRA)],
        webhook_secrets={"acme": SecretStr(WHSEC)},
        admin_token=SecretStr(ADMIN),
        database_url=SecretStr(f"postgresql://vs:{DB_PASSWORD}@db:5432/vs"),
    )


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    register_secrets([])
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)
    if hasattr(signal, "SIGUSR1"):
        faulthandler.unregister(signal.SIGUSR1)


def test_secret_values_cover_every_secret_kind() -> None:
    values = set(secret_values(settings()))
    assert {TERRA, WHSEC, ADMIN, DB_PASSWORD} <= values


def test_patterns_scrub_credentials_in_free_text() -> None:
    text = (
        f"Authorization: Bearer {ADMIN} key {WHSEC} sig {terra_header('k' * 24, 1, b'x')} "
        f"dsn postgresql://vs:{DB_PASSWORD}@db/vs password={DB_PASSWORD}"
    )
    out = scrub(text)
    for value in (ADMIN, WHSEC.removeprefix("whsec_"), DB_PASSWORD):
        assert value not in out
    assert "v1=" in out and "[redacted]" in out and "postgresql://vs:[redacted]@db/vs" in out


def test_registered_values_are_scrubbed_wherever_they_appear() -> None:
    register_secrets(secret_values(settings()))
    assert scrub(f"a bare {TERRA} inside text") == "a bare [redacted] inside text"


def test_tracebacks_and_exception_text_pass_the_redactor(capfd: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", service="test", secrets=secret_values(settings()))
    log = get_logger("test")
    try:
        raise RuntimeError(f"could not connect with secret {TERRA} and Bearer {ADMIN}")
    except RuntimeError:
        log.exception("failed", detail=f"whsec was {WHSEC}")
    logging.getLogger("aiohttp.server").error("boom %s", DB_PASSWORD, exc_info=ValueError(f"token={ADMIN}"))
    err = capfd.readouterr().err
    assert "RuntimeError" in err and "Traceback" in err and "boom" in err
    for value in (TERRA, ADMIN, WHSEC, DB_PASSWORD):
        assert value not in err, value
