"""Property tests: no JSON value in any field crashes the normalizer; outputs stay valid."""

from __future__ import annotations

import contextlib
import copy
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.records import RawWebhook
from schemas.vocabulary import VOCABULARY
from streams.errors import PermanentError, UndecodableError
from streams.normalize import NormalizeResult, normalize, parse_body
from streams.normalize._values import (
    glucose_mg_dl_to_mmol_l,
    glucose_mmol_l_to_mg_dl,
    grams_to_kg,
    kcal_to_kilojoules,
    kg_to_grams,
    kilojoules_to_kcal,
    parse_time,
)

DATA = Path(__file__).resolve().parent.parent / "data" / "terra"
PAYLOADS: dict[str, Any] = {
    path.name: orjson.loads(path.read_bytes())
    for path in sorted([*DATA.glob("examples/*.json"), *DATA.glob("full_*.json")])
}
RAW = RawWebhook(
    event_id="evt-p", source="terra", received_at=datetime(2026, 7, 5, 12, tzinfo=UTC), idempotency_key="k", body=b""
)

Path_ = tuple[str | int, ...]


def paths(node: Any, prefix: Path_ = ()) -> list[Path_]:
    """Every location in a JSON document (the root included)."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += paths(value, (*prefix, index))
    return found


PATHS: dict[str, list[Path_]] = {name: paths(doc) for name, doc in PAYLOADS.items()}
ALL_LOCATIONS = [(name, p) for name, ps in PATHS.items() for p in ps]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "2026-07-01T07:00:00Z",
            "2026-07-01T07:00:00.000000+14:00",
            "2026-07-01",
            "9999-12-31T23:59:59-12:00",
            "0001-01-01T00:00:00+01:00",
            "not a date",
            "body",
            "auth",
            "s3_payload",
            "lab_report.failed",
        ]
    )
)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


def replace(document: Any, location: Path_, value: Any) -> Any:
    if not location:
        return value
    parent = document
    for step in location[:-1]:
        parent = parent[step]
    parent[location[-1]] = value
    return document


def check(result: NormalizeResult) -> None:
    for obs in result.observations:
        spec = VOCABULARY[obs.metric]
        assert obs.unit == spec.unit
        assert spec.hard_low <= obs.value <= spec.hard_high
        assert type(obs.value) is float
        assert obs.measured_at.utcoffset() == timedelta(0)
        assert obs.ordering_ts.utcoffset() == timedelta(0)
        assert obs.measured_until is None or obs.measured_until.utcoffset() == timedelta(0)
        assert 0.0 <= obs.completeness <= 1.0
        assert obs.provenance in {"sensed", "self_reported", "unknown"}
        assert obs.subject and obs.provider and obs.user_id
    for user_event in result.user_events:
        assert user_event.occurred_at.utcoffset() == timedelta(0)
    keys = [(o.metric, o.measured_at, o.provider) for o in result.observations]
    assert len(keys) == len(set(keys))


def run(payload: Any) -> None:
    try:
        result = normalize(RAW, payload)
    except PermanentError:
        return
    check(result)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(location=st.sampled_from(ALL_LOCATIONS), value=json_values)
def test_any_value_in_any_field_never_crashes(location: tuple[str, Path_], value: Any) -> None:
    name, where = location
    run(replace(copy.deepcopy(PAYLOADS[name]), where, value))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_many_values_replaced_never_crash(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(PAYLOADS)))
    document = copy.deepcopy(PAYLOADS[name])
    for _ in range(data.draw(st.integers(1, 6))):
        locations = paths(document)
        where = data.draw(st.sampled_from(locations))
        document = replace(document, where, data.draw(json_values))
    run(document)


@settings(max_examples=200, deadline=None)
@given(value=json_values)
def test_any_json_document_never_crashes(value: Any) -> None:
    run(value)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(sorted(PAYLOADS)))
def test_unmodified_payloads_are_valid(name: str) -> None:
    check(normalize(RAW, copy.deepcopy(PAYLOADS[name])))


@given(st.binary(max_size=200))
def test_parse_body_accepts_or_reports(body: bytes) -> None:
    with contextlib.suppress(UndecodableError):
        parse_body(body)


finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)


@given(finite)
def test_unit_conversions_round_trip(value: float) -> None:
    tolerance = 1e-9 * max(1.0, abs(value))
    assert abs(grams_to_kg(kg_to_grams(value)) - value) <= tolerance
    assert abs(kilojoules_to_kcal(kcal_to_kilojoules(value)) - value) <= tolerance
    assert abs(glucose_mg_dl_to_mmol_l(glucose_mmol_l_to_mg_dl(value)) - value) <= tolerance


def test_unit_conversion_constants() -> None:
    assert grams_to_kg(3300) == 3.3
    assert abs(kilojoules_to_kcal(4184) - 1000.0) < 1e-9
    assert abs(glucose_mmol_l_to_mg_dl(5.5) - 99.1001) < 1e-9


offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2999, 1, 1), timezones=offsets))
def test_times_round_trip_to_utc(moment: datetime) -> None:
    parsed = parse_time(moment.isoformat())
    assert parsed is not None and parsed.tzinfo is UTC and parsed == moment
    naive = parse_time(moment.replace(tzinfo=None).isoformat())
    assert naive == moment.replace(tzinfo=UTC)
