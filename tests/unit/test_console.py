"""The console's pure pieces: roles, password hashes, throttle, CSRF comparison, charts, SSE frames, feeds."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import orjson
import pytest
from aiohttp import web
from multidict import MultiDict, MultiDictProxy

from vitalstream.console import accounts, audit, charts, data
from vitalstream.console.actions import filters_from, parse_since
from vitalstream.console.auth import tokens_match
from vitalstream.console.live import Feed, guarded, sse_frame
from vitalstream.console.pages import _mask_credentials


def test_roles_grow_viewer_operator_admin() -> None:
    assert accounts.can("viewer", "read") and not accounts.can("viewer", "replay")
    assert accounts.can("operator", "replay") and accounts.can("operator", "recompute")
    assert not accounts.can("operator", "accounts") and not accounts.can("operator", "unmasked")
    assert all(accounts.can("admin", c) for c in ("read", "replay", "recompute", "accounts", "unmasked"))
    assert not accounts.can("intruder", "read")


def test_new_accounts_are_checked() -> None:
    assert accounts.check_new_account("alice", "operator", "x" * 12) is None
    assert "names" in (accounts.check_new_account("Alice Smith", "viewer", "x" * 12) or "")
    assert "role" in (accounts.check_new_account("alice", "root", "x" * 12) or "")
    assert "12" in (accounts.check_new_account("alice", "viewer", "short") or "")


def test_passwords_are_argon2id_and_verified() -> None:
    stored = accounts.hash_password("correct horse battery")
    assert stored.startswith("$argon2id$") and "correct" not in stored
    assert accounts.verify_password(stored, "correct horse battery")
    assert not accounts.verify_password(stored, "wrong")
    assert not accounts.verify_password("not a hash", "wrong")


def test_throttle_per_account_and_per_address() -> None:
    assert not audit.throttled(4, 19, 5, 20)
    assert audit.throttled(5, 0, 5, 20)
    assert audit.throttled(0, 20, 5, 20)


def test_csrf_tokens_must_be_present_and_equal() -> None:
    assert tokens_match("abc", "abc")
    assert not tokens_match("abc", "abd")
    assert not tokens_match("abc", None) and not tokens_match(None, "abc") and not tokens_match("", "")


def test_bar_chart_scales_to_the_largest_value() -> None:
    chart = charts.bar_chart([("a", 10), ("b", 5), ("c", 0)], width=100, height=120)
    a, b, c = chart.bars
    assert a.height == 100 and b.height == 50 and c.height == 0  # plot height = 120 - 20 for labels
    assert a.y == 0 and b.y == 50 and a.x < b.x < c.x
    assert all(bar.height == 0 for bar in charts.bar_chart([("a", 0)]).bars)


def test_level_chart_has_every_level_in_order() -> None:
    chart = charts.level_chart({"good": 3, "poor": 1})
    assert [b.label for b in chart.bars] == ["excellent", "good", "fair", "poor"]
    assert [b.value for b in chart.bars] == [0, 3, 0, 1]
    assert chart.bars[1].css == "bar level-good"


def test_line_chart_maps_values_inside_the_box() -> None:
    line = charts.line_chart([("d1", 100), ("d2", 0), ("d3", 150)], width=112, height=112)
    (x1, y1, *_), (x2, y2, *_), (x3, y3, *_) = line.dots
    assert (x1, y1) == (6, 6) and (x2, y2) == (56, 106) and (x3, y3) == (106, 6)  # 150 clamped to 100
    assert line.points == "6.0,6.0 56.0,106.0 106.0,6.0"
    assert charts.line_chart([("only", 50)], width=112).dots[0][0] == 56


def test_quality_series_group_days_and_sum_levels() -> None:
    day = datetime(2026, 11, 30, tzinfo=UTC).date()
    rows = [
        {"day": day, "metric": "steps", "provider": "OURA", "count": 2, "avg_confidence": 80.0}
        | {"excellent": 1, "good": 1, "fair": 0, "poor": 0},
        {"day": day, "metric": "steps", "provider": "WHOOP", "count": 1, "avg_confidence": 40.0}
        | {"excellent": 0, "good": 0, "fair": 0, "poor": 1},
    ]
    oura, whoop = data.quality_series(rows)
    assert oura["days"] == [("2026-11-30", 80.0, 2)] and oura["levels"]["good"] == 1
    assert whoop["levels"] == {"excellent": 0, "good": 0, "fair": 0, "poor": 1}


def test_throughput_over_fifteen_minutes() -> None:
    assert data.Throughput(900, 9).per_second == 1.0
    assert data.Throughput(900, 9).success_rate == 99.0
    assert data.Throughput(0, 0).success_rate is None


def test_personal_fields_masked_unless_allowed() -> None:
    rows = [{"metric": "steps", "user_id": "u-1"}, {"metric": "sleep", "user_id": None}]
    assert data.mask_rows(rows, ("user_id",), unmasked=False) == [
        {"metric": "steps", "user_id": "***"},
        {"metric": "sleep", "user_id": None},
    ]
    assert data.mask_rows(rows, ("user_id",), unmasked=True) == rows


def test_an_admins_unmasked_view_still_hides_credentials() -> None:
    body = {
        "user": {"email": "a@example.org", "token": "t"},
        "url": "https://bucket/x?sig=1",
        "items": [{"x_secret": 1}],
    }
    assert _mask_credentials(body) == {
        "user": {"email": "a@example.org", "token": "***"},
        "url": "***",
        "items": [{"x_secret": "***"}],
    }


def test_ago_is_short() -> None:
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    assert data.ago(datetime(2026, 12, 1, 11, 59, 18, tzinfo=UTC), now) == "42s"
    assert data.ago(datetime(2026, 11, 29, 12, tzinfo=UTC), now) == "2d"
    assert data.ago(None, now) == "—"


def _form(**values: str | list[str]) -> MultiDictProxy[str]:
    pairs: list[tuple[str, str]] = []
    for k, v in values.items():
        pairs += [(k, x) for x in v] if isinstance(v, list) else [(k, v)]
    return MultiDictProxy(MultiDict(pairs))


def test_replay_forms_name_a_selection_or_a_group() -> None:
    filters, summary = filters_from(_form(ref=["0:1", "2:5"]))
    assert filters.refs == {"0:1", "2:5"} and "2 selected" in summary
    filters, summary = filters_from(_form(stage="normalize", error_class="SchemaInvalidError"))
    assert (filters.stage, filters.error_class, filters.refs) == ("normalize", "SchemaInvalidError", frozenset())
    with pytest.raises(web.HTTPBadRequest):
        filters_from(_form(stage="normalize"))  # a stage alone would replay more than one group
    with pytest.raises(web.HTTPBadRequest):
        filters_from(_form(ref=[f"0:{i}" for i in range(501)]))


def test_recompute_since_is_utc_or_a_clear_400() -> None:
    assert parse_since("") is None
    assert parse_since("2026-11-30T10:00") == datetime(2026, 11, 30, 10, tzinfo=UTC)
    with pytest.raises(web.HTTPBadRequest):
        parse_since("yesterday")


def test_sse_frames_are_one_json_line() -> None:
    frame = sse_frame("update", {"html": "<p>a\nb</p>"}, event_id="7")
    assert frame.endswith(b"\n\n")
    lines = frame.decode().splitlines()
    assert lines[:2] == ["event: update", "id: 7"]
    assert orjson.loads(lines[2].removeprefix("data: ")) == {"html": "<p>a\nb</p>"}


async def test_a_feed_pushes_changes_only_and_survives_a_failing_source() -> None:
    values = iter([{"n": 1}, {"n": 1}, {"n": 2}])
    calls = 0

    async def compute() -> dict[str, int]:
        nonlocal calls
        calls += 1
        try:
            return next(values)
        except StopIteration:
            raise RuntimeError("source down") from None

    feed = Feed("test", compute, interval_s=0.01)
    seen = []
    async with feed.subscribe() as queue:
        for _ in range(3):
            seen.append(await asyncio.wait_for(queue.get(), 2))
    await feed.close()
    assert seen[:2] == [{"n": 1}, {"n": 2}]  # the repeated {"n": 1} was not pushed again
    assert "could not read" in seen[2]["error"]
    assert calls >= 4


async def test_guarded_turns_exceptions_into_an_error_value() -> None:
    async def broken() -> None:
        raise ConnectionError("x")

    assert (await guarded("dlq", broken))["error"].startswith("ConnectionError")
