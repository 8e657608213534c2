"""Structured JSON logging (structlog) with redaction, and small Prometheus helpers.

Every service calls ``configure_logging()`` once. A redaction processor drops any
key that looks like a secret or personal field (the contract's list, :mod:`schemas.personal`),
so a careless ``log.info(..., headers=h)`` cannot leak a signature, an authorization header
or an e-mail address (design §10.7). Exceptions are rendered as class names and code
locations only (their text can quote values, :func:`schemas.deadletter.stacktrace`), and
every secret the process holds is scrubbed from each line, structlog's and the standard
library's (Faust, aiokafka) alike.
"""

from __future__ import annotations

import faulthandler
import logging
import random
import signal
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import orjson
import structlog

from schemas.deadletter import stacktrace
from schemas.personal import is_personal

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


SCRUBBED = "[secret]"
_secrets: list[str] = []
"""The values ``configure_logging`` registered, longest first."""


def _is_sensitive(key: str) -> bool:
    k = key.lower()
    return k in SENSITIVE_KEYS or is_personal(k)


def scrub(text: str) -> str:
    """``text`` with every registered secret value replaced."""
    for secret in _secrets:
        if secret in text:
            text = text.replace(secret, SCRUBBED)
    return text


def _scrub_values(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, MutableMapping):
        return {k: _scrub_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub_values(v) for v in value]
    return value


def _exception_processor(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """``exc_info`` → ``exception``: class names and code locations, never the exception's text."""
    exc_info = event_dict.pop("exc_info", None)
    if exc_info:
        exc = exc_info[1] if isinstance(exc_info, tuple) else exc_info
        if not isinstance(exc, BaseException):
            exc = sys.exc_info()[1]
        if exc is not None:
            event_dict["exception"] = stacktrace(exc)
    return event_dict


def _scrub_processor(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    if _secrets:
        for key in list(event_dict):
            event_dict[key] = _scrub_values(event_dict[key])
    return event_dict


class SafeFormatter(logging.Formatter):
    """Standard-library lines (Faust, aiokafka): value-free tracebacks, secrets scrubbed."""

    def formatException(self, ei: Any) -> str:
        return stacktrace(ei[1]) if ei and ei[1] is not None else ""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


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


def configure_logging(level: str = "INFO", service: str = "vitalstream", secrets: Iterable[str] = ()) -> None:
    """JSON lines on stderr, one per event, with timestamp, level, service and logger name.

    ``secrets`` (``Settings.secret_values()``) are scrubbed from every line, longest first.
    """
    _secrets[:] = sorted({s for s in secrets if s}, key=len, reverse=True)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeFormatter("%(message)s"))
    logging.basicConfig(handlers=[handler], level=level.upper(), force=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _exception_processor,
            _redact_processor,
            _scrub_processor,
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
