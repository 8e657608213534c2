"""The README stays true: every setting documented, every alert runbook anchor present."""

from __future__ import annotations

import re
from pathlib import Path

from vitalstream.platform.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_every_setting_is_documented() -> None:
    missing = [f"VITALSTREAM_{n.upper()}" for n in Settings.model_fields if f"`VITALSTREAM_{n.upper()}`" not in README]
    assert missing == []


def test_every_alert_runbook_link_resolves() -> None:
    alerts = (ROOT / "deploy" / "prometheus" / "alerts.yml").read_text()
    anchors = set(re.findall(r"README\.md#([a-z0-9-]+)", alerts))
    headings = {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in re.findall(r"^#+ (.+)$", README, re.M)}
    assert anchors and anchors <= headings, anchors - headings


def test_the_two_commands_are_documented() -> None:
    assert "make up" in README and "make test" in README


def test_every_metric_is_in_the_vocabulary_table_with_its_unit() -> None:
    from schemas.vocabulary import VOCABULARY

    section = README.split("## Metric vocabulary", 1)[1].split("\n## ", 1)[0]
    missing = [name for name, spec in VOCABULARY.items() if f"`{name}` {spec.unit}" not in section]
    assert missing == []
