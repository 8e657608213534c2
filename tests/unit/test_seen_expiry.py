"""Expiry of normalize's event-id memory, on a real RocksDB store (rocksdict, as Faust uses it)."""

from __future__ import annotations

from pathlib import Path

from rocksdict import Rdict

from streams.expiry import SeenExpiry, expired

WINDOW = 7 * 24 * 3600
NOW = 1_795_000_000


def test_expired_only_past_the_window() -> None:
    assert expired(str(NOW - WINDOW).encode(), NOW, WINDOW)
    assert not expired(str(NOW - WINDOW + 1).encode(), NOW, WINDOW)
    assert not expired(b"not-a-number", NOW, WINDOW)  # kept: never forget what cannot be read


def test_a_pass_in_slices_deletes_exactly_the_expired_ids(tmp_path: Path) -> None:
    db = Rdict(str(tmp_path / "seen.db"))
    try:
        for i in range(250):
            age = WINDOW + 10 if i % 5 == 0 else 60
            db[f"event-{i:03d}".encode()] = str(NOW - age).encode()
        expiry = SeenExpiry(lambda: db, WINDOW, clock=lambda: NOW, slice_size=40)
        removed, finished, ticks = 0, False, 0
        while not finished:
            n, finished = expiry.tick()
            removed += n
            ticks += 1
        assert ticks == 7 and removed == 50 == expiry.removed_this_pass
        left = {bytes(k).decode() for k, _ in db.items()}
        assert len(left) == 200 and not any(int(k[-3:]) % 5 == 0 for k in left)
        assert expiry.tick() == (0, False)  # the next pass starts over, finding nothing more to delete
    finally:
        db.close()
