"""Whose data is it: subjects and user ids per source (design §4).

Terra is the home namespace: a Terra user id is kept as Terra sends it and the subject is
Terra's ``reference_id`` when present, else ``terra:<user_id>``. Every other source (a
Standard Webhooks sender such as ``acme``) lives in its own namespace ``<source>:…``: its
user ids become ``acme:<user_id>``, its reference ids ``acme:<reference_id>`` and its
subjects one of those two. A payload therefore names only users of the source that signed
it: an ``acme`` deauth of a Terra user id purges ``acme:<that id>``, never the Terra user,
and ``acme`` data carrying a Terra user's reference id lands on ``acme:<reference id>``.

Which payload format a source speaks (how its bodies are parsed) is separate
configuration (``VITALSTREAM_SOURCE_FORMATS``); the namespace follows the source, never
the format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TERRA = "terra"
TERRA_SUBJECT_PREFIX = "terra:"
SOURCE_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
"""A source name: lowercase letters, digits, ``_`` and ``-`` (never ``:``, the namespace separator)."""
FORMATS = frozenset({"terra"})
"""Payload formats the worker can parse; ``terra`` is Terra's webhook schema."""
DEFAULT_FORMAT = "terra"


def check_source_name(source: str) -> str:
    """``source`` if it can name a namespace; ValueError (saying what is allowed) otherwise."""
    if not SOURCE_NAME.fullmatch(source):
        raise ValueError(
            f"source name {source[:64]!r} is not allowed: use 1-64 of a-z, 0-9, '_' and '-' "
            "(starting with a letter or digit)"
        )
    return source


@dataclass(frozen=True, slots=True)
class Namespace:
    """The identifiers of one source. ``user_id``/``reference_id`` take the ids as the payload has them."""

    source: str

    @property
    def is_terra(self) -> bool:
        return self.source == TERRA

    def _scoped(self, value: str) -> str:
        return value if self.is_terra else f"{self.source}:{value}"

    def user_id(self, raw: str) -> str:
        """The stored user id (an empty id, a failed auth flow's, stays empty)."""
        return raw if not raw else self._scoped(raw)

    def reference_id(self, raw: str | None) -> str | None:
        return None if raw is None else self._scoped(raw)

    def user_subject(self, user_id: str) -> str:
        """The subject of a user without a reference id; ``user_id`` is the stored (namespaced) id."""
        return TERRA_SUBJECT_PREFIX + user_id if self.is_terra else user_id

    def subject(self, user_id: str, reference_id: str | None) -> str:
        """The subject of an observation: its (stored) reference id, else its user's subject."""
        return reference_id if reference_id is not None else self.user_subject(user_id)

    def owns_user(self, user_id: str) -> bool:
        """Whether a stored user id belongs to this source (Terra owns the ids without a namespace)."""
        if self.is_terra:
            return True
        return user_id.startswith(f"{self.source}:") and len(user_id) > len(self.source) + 1


def namespace(source: str | None) -> Namespace:
    """The namespace of a record's source; records written before sources were recorded are Terra's."""
    return Namespace(source or TERRA)


def source_formats(pairs: dict[str, str]) -> dict[str, str]:
    """Validated ``source -> format`` map (``VITALSTREAM_SOURCE_FORMATS``); ValueError names the bad entry."""
    out: dict[str, str] = {}
    for source, fmt in pairs.items():
        check_source_name(source)
        if fmt not in FORMATS:
            known = ", ".join(sorted(FORMATS))
            raise ValueError(f"source {source!r}: unknown payload format {fmt[:32]!r} (known: {known})")
        out[source] = fmt
    return out
