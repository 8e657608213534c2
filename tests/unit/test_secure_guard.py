"""The secure-mode skip guard (tests/secure_guard.py) on a throwaway suite."""

from __future__ import annotations

import pytest

SUITE = """
import pytest

@pytest.mark.secure
def test_secure_ran():
    pass

@pytest.mark.secure
def test_secure_skipped():
    pytest.skip("no broker")

def test_plain_skipped():
    pytest.skip("fine")
"""


def _run(pytester: pytest.Pytester, source: str) -> pytest.RunResult:
    pytester.makeini("[pytest]\nasyncio_default_fixture_loop_scope = function\nmarkers =\n    secure: secure mode\n")
    pytester.makepyfile(test_suite=source)
    return pytester.runpytest_inprocess("-p", "tests.secure_guard", "-p", "no:cacheprovider")


def test_a_skipped_secure_test_fails_the_run(pytester: pytest.Pytester) -> None:
    result = _run(pytester, SUITE)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*1 secure-mode test(s) skipped*test_secure_skipped*"])


def test_other_skips_and_deselection_do_not(pytester: pytest.Pytester) -> None:
    result = _run(pytester, SUITE.replace('pytest.skip("no broker")', "pass"))
    assert result.ret == pytest.ExitCode.OK
