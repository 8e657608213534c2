"""The e2e sweep's verdicts: the rates asked for, the knee, the targets and the hop that holds a missed one."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner

from vitalstream.bench import report, sweep
from vitalstream.cli import main


def point(rate: int, p50: float, p99: float, not_visible: int = 0, slowest: str = "sink") -> dict[str, Any]:
    budget = {hop: {"p50_ms": 1.0, "p99_ms": 2.0} for hop in sweep.HOPS}
    budget[slowest] = {"p50_ms": p50 / 2, "p99_ms": p99 / 2}
    return {"rate": rate, "accepted": 100, "not_visible": not_visible, "p50_ms": p50, "p99_ms": p99, "budget": budget}


def test_rates_parse_sorted_without_repeats() -> None:
    assert sweep.parse_rates("500, 100,250,100") == (100, 250, 500)


@pytest.mark.parametrize("text", ["", "100,,250", "0", "-5", "1e3", "fast", "100000"])
def test_bad_rates_are_refused_with_what_to_type(text: str) -> None:
    with pytest.raises(sweep.RatesError, match="like 100,250,500"):
        sweep.parse_rates(text)


def test_knee_is_the_last_rate_before_the_first_over_the_limit() -> None:
    points = [point(100, 20, 80), point(500, 40, 300), point(250, 30, 90), point(750, 900, 1500), point(1000, 50, 400)]
    assert sweep.knee(points) == 500  # 1,000/s under 1 s again does not count: 750/s already was not


def test_a_rate_with_invisible_webhooks_is_past_the_knee() -> None:
    assert sweep.knee([point(100, 20, 80), point(250, 30, 90, not_visible=3)]) == 100
    assert sweep.knee([point(100, 900, 1000)]) is None  # "under 1 s": exactly 1 s is not


def test_holding_stage_is_the_hop_with_the_largest_quantile() -> None:
    assert sweep.holding_stage(point(250, 60, 400, slowest="score")["budget"]) == "score"
    assert sweep.holding_stage(point(250, 60, 400, slowest="accept")["budget"], "p50_ms") == "accept"
    assert sweep.holding_stage(None) is None


def test_verdicts_name_met_and_missed_targets_and_their_stage() -> None:
    points = [point(100, 20, 80), point(250, 40, 600, slowest="sink"), point(500, 900, 2000, slowest="score")]
    v = sweep.verdicts(points)
    assert v["p50_ms_at_250"] == {"value": 40, "target": 50.0, "met": True, "held_by": None}
    assert v["p99_ms_at_250"]["met"] is False and v["p99_ms_at_250"]["held_by"] == "sink"
    assert v["knee_per_s"] == {"value": 250, "target": 1000, "met": False, "held_by": "score"}


def test_a_knee_not_reached_by_the_sweep_is_unknown_not_met() -> None:
    assert sweep.verdicts([point(100, 20, 80), point(250, 30, 90)])["knee_per_s"]["met"] is None
    assert sweep.verdicts([point(1000, 30, 200)])["knee_per_s"]["met"] is True
    assert sweep.verdicts([])["p50_ms_at_250"]["met"] is None


def test_the_sweep_section_shows_each_rate_beside_main_and_the_verdicts() -> None:
    points = [point(100, 20, 80), point(250, 40, 600)]
    sw = {"points": points, "knee_per_s": 250, "targets": sweep.verdicts(points), "duration_per_rate_s": 10.0}
    text = "\n".join(report._sweep_section(sw, {}, {}))
    assert "| 250 | 100 of not measured | 0 | 40 | 600 | 375 / 682 |" in text
    assert "knee ≥ 1,000/s | 250 | — |" in text  # not reached by the sweep: neither met nor missed
    assert "p99 ≤ 250 ms at 250/s | 600 | **missed** | sink |" in text
    assert "up to 300 s" in text
    assert report.headline({"e2e_sweep": sw})["e2e_p99_ms_at_250"] == 600


def test_rates_only_with_e2e_and_well_formed() -> None:
    wrong = CliRunner().invoke(main, ["bench", "gateway", "--rates", "100"])
    assert wrong.exit_code == 1 and "vitalstream bench e2e --rates 100" in wrong.output
    bad = CliRunner().invoke(main, ["bench", "e2e", "--rates", "100,lots"])
    assert bad.exit_code == 1 and "like 100,250,500" in bad.output and "Traceback" not in bad.output


def test_no_body_comes_round_twice_within_a_signature_second() -> None:
    """The gateway answers a signed body seen again in the same second as a replay (nothing produced)."""
    from vitalstream.bench.loadgen import LoadSpec

    for rate in (10, 256, 2000, 12_000):
        spec = LoadSpec("127.0.0.1", 1, rate, 4.0, "s", "run")
        assert spec.pool_size / rate > 1.0 or spec.pool_size == spec.total
    assert LoadSpec("127.0.0.1", 1, 100, 1.0, "s", "run").pool_size == 100  # never more bodies than requests


def test_the_warm_up_at_load_is_reported_apart_from_the_sweep() -> None:
    points = [point(100, 20, 80)]
    sw = {"points": points, "targets": sweep.verdicts(points), "duration_per_rate_s": 10.0}
    assert "Before it was measured" not in "\n".join(report._sweep_section(sw, {}, {}))
    sw["warm_up_at_load"] = {"rate": 250, "duration_s": 15.0, "freshness_ms": {"p50": 160.5, "p99": 552.0}}
    assert (
        "Before it was measured, the pipeline ran 15.0 s at 250/s, not counted (its first seconds are slower; "
        "accept → visible then: p50 160 / p99 552 ms)." in "\n".join(report._sweep_section(sw, {}, {}))
    )


def test_the_sweep_says_how_late_its_poll_may_have_seen_a_row() -> None:
    points = [point(100, 20, 80), point(500, 900, 2400)]
    points[0]["poll_interval_ms"] = {"max": 10.0}
    points[1]["poll_interval_ms"] = {"max": 120.0}
    text = "\n".join(report._sweep_section({"points": points, "targets": sweep.verdicts(points)}, {}, {}))
    assert "polled every 10.0 ms while at most 100 rows are missing" in text
    assert "the longest interval was 10.0 ms at 100/s, 120 ms at 500/s." in text
