"""Structured JSON logging (structlog) with redaction, and small Prometheus helpers.

Every service calls ``configure_logging()`` once. A redaction processor drops any
key that looks like a secret or personal field, so a careless ``log.info(..., headers=h)``
cannot leak a signature, an authorization header or an e-mail address (design §10.7).
Text is scrubbed too — exception messages and tracebacks (rendered *before* the redactor),
and every line of the standard ``logging`` handlers (aiohttp's, librdkafka's): bearer
tokens, ``whsec_`` keys, signature values, URL passwords and the process's own secret
values (``configure_logging(secrets=…)``) become ``[redacted]``. Exceptions are rendered
as class names and code locations only (:func:`schemas.deadletter.stacktrace`): their text
can quote payload or row values that no pattern knows. Keys are redacted by the contract's
list of personal fields too (:mod:`schemas.personal`).
"""

from __future__ import annotations

import faulthandler
import logging
import random
import re
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


_PATTERNS = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[^\s\"',;]+"), r"\1 " + REDACTED),
    (re.compile(r"whsec_[A-Za-z0-9+/=_-]*"), "whsec_" + REDACTED),
    (re.compile(r"\bv1[=,][A-Za-z0-9+/=]{16,}"), "v1=" + REDACTED),
    (re.compile(r"(?i)\b(password|passwd|pwd|secret|token)(\s*[=:]\s*)[^\s\"',;&]+"), r"\1\2" + REDACTED),
    (re.compile(r"(://[^/\s:@]*:)[^@\s/]+@"), r"\1" + REDACTED + "@"),
)
# one cheap search decides whether a string needs the patterns at all (most log values do not)
_TRIGGER = re.compile(r"(?i)bearer|basic|whsec_|v1[=,]|passw|pwd|secret|token|://")
_KNOWN: list[re.Pattern[str]] = []
MIN_KNOWN_SECRET = 6


def register_secrets(values: Iterable[str]) -> None:
    """Secret values of this process: any occurrence in any logged text becomes ``[redacted]``."""
    known = sorted({v for v in values if len(v) >= MIN_KNOWN_SECRET}, key=len, reverse=True)
    _KNOWN[:] = [re.compile("|".join(re.escape(v) for v in known))] if known else []


def scrub(text: str) -> str:
    """``text`` with credentials replaced (the registered secret values, then the patterns above)."""
    for known in _KNOWN:
        text = known.sub(REDACTED, text)
    if _TRIGGER.search(text):
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
    return text


class ScrubbingFormatter(logging.Formatter):
    """For the standard library's handlers: tracebacks value-free, the formatted line scrubbed."""

    def formatException(self, ei: Any) -> str:
        return stacktrace(ei[1]) if ei and ei[1] is not None else ""

    def format(self, record: logging.LogRecord) -> str:
        return scrub(super().format(record))


def _is_sensitive(key: str) -> bool:
    k = key.lower()
    return k in SENSITIVE_KEYS or "signature" in k or is_personal(k)


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


def redact(value: Any) -> Any:
    """Recursively replace sensitive keys in mappings with a marker, and scrub text."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, MutableMapping):
        return {k: (REDACTED if _is_sensitive(str(k)) else redact(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, BaseException):  # never its text: it can quote values
        return type(value).__name__
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


def configure_logging(level: str = "INFO", service: str = "vitalstream", *, secrets: Iterable[str] = ()) -> None:
    """JSON lines on stderr, one per event, with timestamp, level, service and logger name.

    ``secrets``: this process's secret values, scrubbed from every line wherever they appear.
    """
    register_secrets(secrets)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ScrubbingFormatter("%(message)s"))
    logging.basicConfig(handlers=[handler], level=level.upper(), force=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            # tracebacks are value-free text first, so the redactor sees (and scrubs) them too
            _exception_processor,
            _redact_processor,
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
