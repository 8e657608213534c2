"""Log lines never carry secrets, exception text or personal fields (design §10.7)."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from vitalstream.platform.observability import configure_logging, get_logger
from vitalstream.platform.settings import Settings, secret_values

TERRA = "terra-secret-7b1e2f-9c04d1a8e6b3"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TOKEN = "admin-token-4c9d0e-51f7a2b8c3d9"
DB_PASSWORD = "pg-pass-81c2a0"
EMAIL = "jane.doe@example.com"


@pytest.fixture
def settings() -> Settings:
    return Settings(
        terra_secrets=[SecretStr(TERRA)],
        webhook_secrets={"acme": SecretStr(WHSEC)},
        admin_token=SecretStr(TOKEN),
        database_url=SecretStr(f"postgresql://vs:{DB_PASSWORD}@db:5432/vs"),
    )


def test_every_secret_kind_is_known_to_the_scrubber(settings: Settings) -> None:
    values = secret_values(settings)
    for secret in (TERRA, WHSEC, WHSEC.removeprefix("whsec_"), TOKEN, DB_PASSWORD):
        assert secret in values


def test_no_secret_exception_text_or_personal_field_in_a_line(
    settings: Settings, capfd: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", service="test", secrets=secret_values(settings))
    log = get_logger("test")
    try:
        raise ValueError(f"row for {EMAIL} with {TOKEN}")
    except ValueError:
        log.exception("failed", detail=f"connecting with {DB_PASSWORD} and {WHSEC}", email=EMAIL, first_name="Jane")
        logging.getLogger("faust.test").exception("Drain raised %r", f"key {TERRA} for {EMAIL}")
    out = capfd.readouterr().err
    assert "test_log_safety" in out and "ValueError" in out  # where it broke is still there
    for needle in (TERRA, WHSEC, WHSEC.removeprefix("whsec_"), TOKEN, DB_PASSWORD, "Jane"):
        assert needle not in out, needle
    assert out.count(EMAIL) == 1  # the stdlib line's own message is not ours to parse; its traceback is value-free
    structlog_line = next(line for line in out.splitlines() if '"failed"' in line)
    assert EMAIL not in structlog_line
