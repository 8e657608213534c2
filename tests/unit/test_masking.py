"""Personal fields (schemas/personal_fields.json) are the schemas' and are masked wherever people read records."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.codec import Codec
from schemas.personal import MASK, is_personal, mask, personal_fields
from schemas.records import Observation, RawWebhook, UserEvent
from scripts.personal_fields import SCHEMA_DIRS, derive
from streams.normalize._device import device_label
from vitalstream.dlq import DeadLetter, describe
from vitalstream.tail import record_json

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "terra"
SENTINEL = "PERSONAL-VALUE-7f3a"
FILE = json.loads((ROOT / "schemas" / "personal_fields.json").read_text())


def test_the_field_list_is_what_the_terra_schemas_say() -> None:
    reference, copy = (d for d in SCHEMA_DIRS[:2] if d.is_dir()), SCHEMA_DIRS[2]
    directory = next(reference, None)
    if directory is not None:  # the whole reference set: the file is exactly what it derives
        assert derive(directory) == FILE, (
            "schemas changed: run scripts/personal_fields.py > schemas/personal_fields.json"
        )
    else:  # the repository's partial copy: nothing personal in it is missing from the file
        assert set(derive(copy)["fields"]) <= set(FILE["fields"])
    for name in ("first_name", "last_name", "email", "bio", "reference_id", "date_of_birth", "city", "serial_number"):
        assert name in FILE["fields"], name


@pytest.mark.parametrize("field", sorted(personal_fields()))
def test_every_personal_field_is_masked_at_any_depth(field: str) -> None:
    doc = {"user": {field: SENTINEL}, "data": [{"nested": {field.upper(): {"deeper": SENTINEL}}}]}
    assert SENTINEL not in json.dumps(mask(doc))
    assert is_personal(field)


def test_measurements_and_ids_are_kept() -> None:
    doc = {"user": {"user_id": "u-1", "provider": "GARMIN"}, "weight_kg": 80.5, "type": "body"}
    assert mask(doc) == doc
    assert mask({"webhook_token": "x", "ClientSecret": "y"}) == {"webhook_token": MASK, "ClientSecret": MASK}


def raw_record(body: bytes) -> RawWebhook:
    return RawWebhook(
        event_id="e", source="terra", received_at=datetime(2026, 7, 1, tzinfo=UTC), idempotency_key="k", body=body
    )


def every_value(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [v for sub in node.values() for v in every_value(sub)]
    if isinstance(node, list):
        return [v for sub in node for v in every_value(sub)]
    return [str(node)] if isinstance(node, str) and len(node) > 3 else []


@pytest.mark.parametrize("name", ["full_athlete.json", "full_activity.json", "full_body.json", "full_sleep.json"])
def test_tail_and_dlq_show_mask_a_raw_webhook(name: str) -> None:
    body = (DATA / name).read_bytes()
    personal = [v for k, v in _pairs(orjson.loads(body)) if is_personal(k) and isinstance(v, str) and len(v) > 3]
    codec = Codec()
    value = codec.encode(raw_record(body))
    tail_text = json.dumps(record_json(codec, value, b"k", None), default=str)
    letter = DeadLetter(0, 1, 0, b"k", value, {}, [])
    show_text = json.dumps(describe(letter, codec), default=str)
    for text in (tail_text, show_text):
        leaked = [v for v in personal if v in text]
        assert leaked == []
    assert "Jane" in json.dumps(record_json(codec, value, b"k", None, unmasked=True), default=str) or (
        name != "full_athlete.json"
    )


def _pairs(node: Any) -> list[tuple[str, Any]]:
    if isinstance(node, dict):
        return [(str(k), v) for k, v in node.items()] + [p for v in node.values() for p in _pairs(v)]
    if isinstance(node, list):
        return [p for v in node for p in _pairs(v)]
    return []


def test_tail_masks_other_records_too() -> None:
    codec = Codec()
    at = datetime(2026, 7, 1, tzinfo=UTC)
    user = UserEvent(event_id="e", kind="auth", user_id="u", occurred_at=at, ordering_ts=at, reference_id=SENTINEL)
    assert SENTINEL not in json.dumps(record_json(codec, codec.encode(user), None, None), default=str)
    obs = Observation("alice", "body_weight", 80.0, "kg", at, "GARMIN", "e", at, device="Garmin Index")
    assert record_json(codec, codec.encode(obs), None, None)["value"]["device"] == "Garmin Index"
    assert record_json(codec, codec.encode(raw_record(b"not json")), None, None)["value"]["body"] == {
        "unparseable_json": 8
    }


@pytest.mark.parametrize(
    ("maker", "name", "label"),
    [
        ("Apple", "Jane's Apple Watch", "Apple Watch"),
        ("Apple", "Jane Doe’s Apple Watch Series 9", "Apple Watch Series 9"),
        (None, "James' iPhone", "iPhone"),
        ("Apple", "Apple Watch de Jane", "Apple Watch"),
        ("Apple", "Jane's", "Apple"),
        ("Withings", "Body+", "Withings Body+"),
        ("Garmin", "Forerunner 945", "Garmin Forerunner 945"),
        ("Polar", None, "Polar"),
        (None, None, None),
    ],
)
def test_device_names_are_reduced_to_manufacturer_and_model(maker: str | None, name: str | None, label: str) -> None:
    assert device_label(maker, name) == label


def test_no_device_owner_name_reaches_an_observation() -> None:
    from streams.normalize import normalize

    payload = orjson.loads((DATA / "full_body.json").read_bytes())
    for item in payload["data"]:
        item["device_data"] = {"name": "Jane's Apple Watch", "manufacturer": "Apple"}
    observations = normalize(raw_record(b"{}"), payload).observations
    assert observations and {o.device for o in observations} == {"Apple Watch"}


def test_tail_unmasked_is_for_admins(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from vitalstream.cli import main

    monkeypatch.setenv("VITALSTREAM_ADMIN_TOKEN", "")
    monkeypatch.setenv("VITALSTREAM_STACK_DIR", "/nonexistent-stack")
    result = CliRunner().invoke(main, ["tail", "webhooks.raw", "--unmasked", "--max", "1"])
    assert result.exit_code != 0
    assert "--unmasked is for admins: set VITALSTREAM_ADMIN_TOKEN" in result.output
