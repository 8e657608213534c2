import pytest
from tests.chaos.harness import finish, start_load
pytestmark = [pytest.mark.chaos, pytest.mark.timeout(480)]
def test_baseline(rig):
    load = start_load(rig, seconds=20, seed=101)
    finish(rig, load, "baseline")
