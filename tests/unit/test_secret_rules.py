"""Secrets that mean something: weak, empty and placeholder secrets are refused when settings are read."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys

import pytest
from pydantic import ValidationError

from vitalstream.platform.secret_rules import WeakSecretError, check_opaque, check_whsec
from vitalstream.platform.settings import Settings


def whsec(n: int) -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(n)).decode()


def test_whsec_keys_need_24_decoded_bytes() -> None:
    check_whsec(whsec(24), "k")
    check_whsec(whsec(32), "k")
    for bad in ("whsec_", whsec(1), whsec(23), "whsec_REPLACE_ME", "whsec_not base64!", "whsec_changeme"):
        with pytest.raises(WeakSecretError):
            check_whsec(bad, "k")


def test_opaque_secrets_need_24_characters_and_no_placeholder() -> None:
    check_opaque(secrets.token_hex(12), "s")
    check_opaque(secrets.token_urlsafe(24), "s")
    for bad in ("", "   ", "x" * 23, "REPLACE_ME", "REPLACE_ME_WITH_A_LONG_RANDOM_TOKEN", "changeme" * 4, "x" * 40):
        with pytest.raises(WeakSecretError):
            check_opaque(bad, "s")


def test_messages_never_contain_the_secret() -> None:
    value = "short-but-real-" + secrets.token_hex(2)
    with pytest.raises(WeakSecretError) as caught:
        check_opaque(value, "a Terra signing secret")
    assert value not in str(caught.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("terra_secrets", "REPLACE_ME"),
        ("terra_secrets", f"{secrets.token_hex(16)},tooshort"),
        ("webhook_secrets", "acme=whsec_"),
        ("webhook_secrets", f"acme={whsec(1)}"),
        ("webhook_secrets", "example=whsec_REPLACE_ME"),
        ("admin_token", "REPLACE_ME_WITH_A_LONG_RANDOM_TOKEN"),
        ("admin_token", "abc"),
    ],
)
def test_settings_refuse_weak_secrets_without_echoing_them(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(**{field: value})  # type: ignore[arg-type]
    assert value not in str(caught.value)


def test_strong_secrets_and_an_empty_admin_token_are_accepted() -> None:
    s = Settings(
        terra_secrets=f"{secrets.token_hex(16)},{secrets.token_hex(24)}",  # type: ignore[arg-type]
        webhook_secrets=f"acme={whsec(24)},acme={whsec(32)}",  # type: ignore[arg-type]
        admin_token="",  # type: ignore[arg-type]
    )
    assert len(s.terra_secrets) == 2 and s.admin_token is None


def test_trusted_proxies_are_cidr_ranges_and_the_hop_count_is_refused() -> None:
    s = Settings(gateway_trusted_proxies="10.0.0.0/8, 192.168.1.7,fd00::/8")  # type: ignore[arg-type]
    assert s.gateway_trusted_proxies == ["10.0.0.0/8", "192.168.1.7", "fd00::/8"]
    with pytest.raises(ValidationError, match="not an IP address"):
        Settings(gateway_trusted_proxies="proxy.local")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="GATEWAY_TRUSTED_PROXIES"):
        Settings(gateway_trusted_proxy_hops=1)


def test_the_cli_refuses_a_placeholder_with_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VITALSTREAM_")}
    env.update(VITALSTREAM_TERRA_SECRETS="REPLACE_ME", VITALSTREAM_STACK_DIR="/nonexistent-stack")
    out = subprocess.run(
        [sys.executable, "-m", "vitalstream.cli", "gateway"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert "VITALSTREAM_TERRA_SECRETS" in lines[0] and "placeholder" in lines[0]
    assert "Traceback" not in out.stderr and "REPLACE_ME" not in out.stderr
