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


def _acl_rows() -> dict[str, list[str]]:
    """README 'Least privilege' ACL table: principal → [topics, groups, cluster] cells."""
    section = README.split("### Least privilege", 1)[1].split("\n### ", 1)[0]
    rows = [line.strip("|").split("|") for line in section.splitlines() if line.startswith("| ")]
    return {cells[0].strip(): [c.strip() for c in cells[1:]] for cells in rows[1:]}


def _token(grant: object) -> str:
    from vitalstream.stack.secure import Grant

    assert isinstance(grant, Grant)
    return f"{grant.name}*" if grant.prefixed else grant.name


def test_the_acl_table_in_the_readme_is_acl_table() -> None:
    """Same principals; per row, exactly the resources of its grants (`name`, `prefix*`) and its cluster rights."""
    from vitalstream.stack.secure import ACL_TABLE

    rows = _acl_rows()
    assert list(rows) == list(ACL_TABLE)
    for principal, grants in ACL_TABLE.items():
        topics, groups, cluster = rows[principal]
        want_topics = {_token(g) for g in grants if g.kind in ("topic", "internal")}
        want_groups = {_token(g) for g in grants if g.kind == "group"}
        want_cluster = {op.title().replace("_", "") for g in grants if g.kind == "cluster" for op in g.operations}
        assert set(re.findall(r"`([^`]+)`", topics)) == want_topics, principal
        assert set(re.findall(r"`([^`]+)`", groups)) == want_groups, principal
        assert {c.strip() for c in cluster.split(",") if c.strip() not in ("", "—")} == want_cluster, principal
