"""Our murmur2 is Kafka's: the vectors of Kafka's own ``UtilsTest.testMurmur2``."""

from __future__ import annotations

import pytest

from vitalstream.platform.partitioning import java_partition, murmur2

KAFKA_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.mark.parametrize(("key", "signed"), KAFKA_VECTORS.items())
def test_murmur2_matches_kafkas_vectors(key: bytes, signed: int) -> None:
    assert murmur2(key) == signed & 0xFFFFFFFF


def test_partition_is_the_positive_hash_modulo_the_count() -> None:
    assert java_partition(b"foobar", 6) == (-790332482 & 0x7FFFFFFF) % 6
