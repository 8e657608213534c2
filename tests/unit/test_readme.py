"""The README stays true: every setting documented, every alert runbook anchor present."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from schemas.codec import Codec
from tests.unit.test_codec import samples
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


def analyst_recipe() -> str:
    """The ``read_topic.py`` snippet of "Reading a topic as an analyst", exactly as printed."""
    section = README[README.index("Reading a topic as an analyst") :]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_analyst_recipe_reads_every_record_type_from_the_avsc_files_alone(tmp_path: Path) -> None:
    script = tmp_path / "read_topic.py"
    script.write_text(analyst_recipe())
    codec = Codec()
    values = [codec.encode(record) for record in samples()] + [b""]  # b"": a tombstone
    kcat_output = b"".join(b"%d:%s" % (len(v), v) for v in values)  # kcat -f '%S:%s'
    done = subprocess.run(
        [sys.executable, str(script), str(ROOT / "schemas" / "avro")],
        input=kcat_output,
        capture_output=True,
        check=True,
        cwd=tmp_path,
        timeout=60,
    )
    printed = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert printed == [json.loads(json.dumps(r.to_avro(), default=str)) for r in samples()]


def test_every_metric_is_in_the_vocabulary_table_with_its_unit() -> None:
    from schemas.vocabulary import VOCABULARY

    section = README.split("## Metric vocabulary", 1)[1].split("\n## ", 1)[0]
    missing = [name for name, spec in VOCABULARY.items() if f"`{name}` {spec.unit}" not in section]
    assert missing == []
