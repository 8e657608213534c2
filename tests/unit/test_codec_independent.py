"""Our records, read by a second implementation of the Avro spec: the Apache ``avro`` package.

The reader knows only the ``.avsc`` files. It computes every schema's Parsing Canonical Form
and CRC-64-AVRO fingerprint with ``avro.schema``, finds each record's writer schema by the
8 bytes after ``C3 01`` (little-endian, as the spec writes them), and decodes the body with
``avro.io.DatumReader``. Nothing of ``schemas.codec`` or fastavro is on the reading side.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import avro.io
import avro.schema
import pytest

from schemas import records
from schemas.codec import Codec
from schemas.topics import CATALOGUE
from tests.unit.test_codec import samples

AVSC = Path(__file__).resolve().parents[2] / "schemas" / "avro"


def _without_logical_types(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _without_logical_types(v) for k, v in node.items() if k != "logicalType"}
    if isinstance(node, list):
        return [_without_logical_types(v) for v in node]
    return node


def _parse_all(transform: Any) -> dict[str, avro.schema.Schema]:
    """Every ``.avsc`` parsed into one avro ``Names`` scope (file order puts Observation before its user)."""
    names = avro.schema.Names()
    parsed = {}
    for path in sorted(AVSC.glob("*.avsc")):
        schema = avro.schema.make_avsc_object(transform(json.loads(path.read_text())), names)
        assert isinstance(schema, avro.schema.NamedSchema)
        parsed[schema.fullname] = schema
    return parsed


def writer_schemas_by_fingerprint() -> dict[bytes, avro.schema.Schema]:
    """avro 1.12's canonical form keeps ``{"type":"long"}`` for a logical type, where the spec
    ([STRIP], then [PRIMITIVES]) and the Java reference (``SchemaNormalization``) write ``"long"``;
    so the fingerprint is taken over the schemas without their ``logicalType`` attributes (which
    the canonical form strips anyway), and the bodies are read with the full schemas."""
    plain = _parse_all(_without_logical_types)
    full = _parse_all(lambda s: s)
    return {plain[name].fingerprint("CRC-64-AVRO"): full[name] for name in full}


WRITERS = writer_schemas_by_fingerprint()


def read_single_object(data: bytes) -> tuple[str, Any]:
    assert data[:2] == b"\xc3\x01", "not single-object encoded"
    writer = WRITERS.get(data[2:10])
    assert writer is not None, f"cannot resolve schema for fingerprint {data[2:10].hex()}"
    assert isinstance(writer, avro.schema.NamedSchema)
    value = avro.io.DatumReader(writer).read(avro.io.BinaryDecoder(io.BytesIO(data[10:])))
    return writer.name, value


def test_every_catalogue_record_type_has_a_sample() -> None:
    catalogue = {t.value_schema for t in CATALOGUE if t.value_schema is not None}
    assert catalogue <= {r.SCHEMA for r in samples()}


@pytest.mark.parametrize("record", samples(), ids=lambda r: r.SCHEMA)
def test_the_avro_reference_package_reads_our_records(record: records._Record) -> None:
    name, value = read_single_object(Codec().encode(record))
    assert name == record.SCHEMA
    assert value == record.to_avro()


def test_the_avro_package_canonical_form_writes_the_nested_record_in_full() -> None:
    scored = _parse_all(_without_logical_types)["io.vitalstream.ScoredObservation"]
    assert '"type":{"name":"io.vitalstream.Observation","type":"record"' in scored.canonical_form
