"""A device as analysts may see it: manufacturer and model, never the name its owner gave it.

Terra's ``device_data.name`` is often what the user called the device ("Jane's Apple
Watch", "iPhone de Marie"). Only the model survives: everything up to the last possessive
word ("Jane Doe's", "James'") and trailing "de/di/da/von/van/of <name>" phrases are
dropped; when nothing is left, only the manufacturer is kept. A device its owner named
with a bare first name ("Jane") cannot be told from a model and is kept as it is.
"""

from __future__ import annotations

import re

_POSSESSIVE = re.compile(r"\b[\w.-]+(?:['’`´]s|s['’`´])(?=\s|$)", re.UNICODE)
_OWNER_SUFFIX = re.compile(r"\s+(?:de|di|da|do|von|van|of|for|by)\s+.*$", re.IGNORECASE)
_SPACES = re.compile(r"\s+")


def model_of(name: str | None) -> str | None:
    """``name`` without the owner's part (None when nothing of the model is left)."""
    if name is None:
        return None
    owners = list(_POSSESSIVE.finditer(name))
    cleaned = name[owners[-1].end() :] if owners else name
    cleaned = _OWNER_SUFFIX.sub("", cleaned)
    cleaned = _SPACES.sub(" ", cleaned).strip(" -_,:;")
    return cleaned or None


def device_label(manufacturer: str | None, name: str | None) -> str | None:
    """``"<manufacturer> <model>"`` (whichever parts are present), the model stripped of its owner."""
    model = model_of(name)
    if model and manufacturer and not model.lower().startswith(manufacturer.lower()):
        return f"{manufacturer} {model}"
    return model or manufacturer
