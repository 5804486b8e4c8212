"""A test that points the process at a home of its own leaves it to no later test
(tests/environment.py): shown on a session of four tests, with and without the plugin."""

from __future__ import annotations

import pytest

TESTS = """
import os

import pytest

SESSION_HOME = os.environ["DATENWERK_HOME"]


@pytest.fixture(scope="session")
def installation(tmp_path_factory):
    home = tmp_path_factory.mktemp("installation")
    os.environ["DATENWERK_HOME"] = str(home)
    os.environ["DATENWERK_PSEUDONYM_KEY"] = "from the installation"
    return home


def test_moves_to_a_home_of_its_own(tmp_path):
    os.environ["DATENWERK_HOME"] = str(tmp_path)
    os.environ["DATENWERK_PSEUDONYM_KEY"] = "of its own"
    del os.environ["DATENWERK_STEWARDS_FILE"]


def test_finds_the_session_home_after_it():
    assert os.environ["DATENWERK_HOME"] == SESSION_HOME
    assert "DATENWERK_PSEUDONYM_KEY" not in os.environ
    assert os.environ["DATENWERK_STEWARDS_FILE"] == "stewards.yml"


def test_builds_the_installation(installation):
    assert os.environ["DATENWERK_HOME"] == SESSION_HOME


def test_uses_the_installation_built_before(installation):
    assert os.environ["DATENWERK_HOME"] == SESSION_HOME
    assert "DATENWERK_PSEUDONYM_KEY" not in os.environ
"""


@pytest.fixture
def session(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("DATENWERK_HOME", str(pytester.path / "session-home"))
    monkeypatch.setenv("DATENWERK_STEWARDS_FILE", "stewards.yml")
    monkeypatch.delenv("DATENWERK_PSEUDONYM_KEY", raising=False)
    pytester.makeconftest('pytest_plugins = ["tests.environment"]')
    pytester.makepyfile(test_homes=TESTS)
    return pytester


def test_no_test_and_no_session_fixture_leaves_its_environment(session: pytest.Pytester) -> None:
    session.runpytest_inprocess("-p", "no:xdist", "-p", "no:cacheprovider").assert_outcomes(
        passed=4)


def test_without_the_plugin_the_leaks_show(session: pytest.Pytester) -> None:
    """The same session without tests/environment.py: what the first test and the fixture set
    is what the next tests find (the fixture's home even in the test that built it)."""
    result = session.runpytest_inprocess(
        "-p", "no:xdist", "-p", "no:cacheprovider", "-p", "no:tests.environment")
    result.assert_outcomes(passed=1, failed=3)
    result.stdout.fnmatch_lines(["FAILED *test_finds_the_session_home_after_it*",
                                 "FAILED *test_builds_the_installation*",
                                 "FAILED *test_uses_the_installation_built_before*"])
