"""Structured JSON logging (structlog) with redaction, and small Prometheus helpers.

Every service calls ``configure_logging()`` once. A redaction processor drops any
key that looks like a secret or personal field, so a careless ``log.info(..., headers=h)``
cannot leak a signature, an authorization header or an e-mail address (design §10.7).
"""

from __future__ import annotations

import faulthandler
import logging
import random
import signal
import sys
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog

REDACTED = "[redacted]"
SENSITIVE_KEYS = frozenset(
    {
        "authorization",
        "body",
        "cookie",
        "date_of_birth",
        "email",
        "first_name",
        "last_name",
        "name",
        "password",
        "payload",
        "secret",
        "secrets",
        "signature",
        "terra-signature",
        "token",
        "webhook-signature",
        "x-terra-signature",
        "admin_token",
        "database_url",
        "dsn",
    }
)


def _is_sensitive(key: str) -> bool:
    k = key.lower()
    return k in SENSITIVE_KEYS or "secret" in k or "signature" in k or "password" in k or "token" in k


def redact(value: Any) -> Any:
    """Recursively replace sensitive keys in mappings with a marker."""
    if isinstance(value, MutableMapping):
        return {k: (REDACTED if _is_sensitive(str(k)) else redact(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


def _redact_processor(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if key != "event" and _is_sensitive(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = redact(event_dict[key])
    return event_dict


def _dumps(value: Any, **_kw: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def configure_logging(level: str = "INFO", service: str = "vitalstream") -> None:
    """JSON lines on stderr, one per event, with timestamp, level, service and logger name."""
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=level.upper(), force=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _redact_processor,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=_dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    if hasattr(signal, "SIGUSR1"):
        # `kill -USR1 <pid>` writes every thread's stack to the log: how to see where a process hangs
        faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)


def get_logger(name: str) -> Any:
    return structlog.get_logger(name)


def sampled(rate: float) -> bool:
    """True for roughly ``rate`` of calls: used to log 1 % of health/metrics requests."""
    return random.random() < rate
