"""Failure classes shared by every stream stage (design §7).

A :class:`PermanentError` can never succeed on retry (the record goes straight to the
dead-letter topic with ``reason`` and ``error_class`` in its headers); a
:class:`TransientError` may succeed later (the record goes through the retry topics).
"""

from __future__ import annotations

from schemas.deadletter import VettedError


class StageError(VettedError):
    """A failure whose ``reason`` is fixed text of ours: safe in DLQ headers and logs (no payload, no secrets)."""


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
