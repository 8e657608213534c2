"""Failure classes shared by every stream stage (design §7).

A :class:`PermanentError` can never succeed on retry (the record goes straight to the
dead-letter topic with ``reason`` and ``error_class`` in its headers); a
:class:`TransientError` may succeed later (the record goes through the retry topics).
"""

from __future__ import annotations


class StageError(Exception):
    """A failure with a ``reason`` safe to put in DLQ headers and logs (no payload, no secrets)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    @property
    def error_class(self) -> str:
        return type(self).__name__


class PermanentError(StageError):
    """A record that no retry can fix."""


class UndecodableError(PermanentError):
    """The body is not UTF-8 JSON (or the record is not decodable at all)."""


class SchemaInvalidError(PermanentError):
    """Well-formed JSON whose shape the stage cannot understand."""


class NormalizeError(PermanentError):
    """The normalizer failed on a payload it accepted (a bug or an unforeseen shape)."""


class TransientError(StageError):
    """A failure that may pass on retry (broker or database hiccup, download timeout)."""
