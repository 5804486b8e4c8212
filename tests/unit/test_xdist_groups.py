"""`make test`'s two workers keep the tests of a shared session fixture together: a small
project of four files run by real pytest-xdist workers, two of whose files use one shared
fixture (``second_run``, here a cheap stand-in that counts how often it is built)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.xdist_groups import GROUPS_FILE, group_by_shared_fixture

REPO = Path(__file__).resolve().parents[2]
CONFTEST = '''
import pytest
pytest_plugins = ["tests.xdist_groups"]

@pytest.fixture(scope="session")
def second_run(tmp_path_factory):
    (tmp_path_factory.getbasetemp().parent / f"built-{tmp_path_factory.getbasetemp().name}"
     ).write_text("")
'''
TEST_FILE = '''
def test_{name}({fixture}):
    pass

def test_{name}_again():
    pass
'''


def clean_environment() -> dict[str, str]:
    """This process's environment without what marks it as a worker of an xdist session (as
    under `make test`): the small project's session is a controller of its own."""
    return {name: value for name, value in os.environ.items()
            if not name.startswith("PYTEST_XDIST") and name != GROUPS_FILE}


def test_files_sharing_a_fixture_run_on_one_worker(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "conftest.py").write_text(CONFTEST)
    for name, fixture in (("a", "second_run"), ("b", ""), ("c", "second_run"), ("d", "")):
        (project / f"test_{name}.py").write_text(TEST_FILE.format(name=name, fixture=fixture))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-n", "2",
         "--dist", "loadgroup", "--no-loadscope-reorder", f"--basetemp={tmp_path / 'base'}"],
        cwd=project, capture_output=True, text=True, timeout=300,
        env={**clean_environment(), "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    worker_of = {test: worker for worker, test in
                 re.findall(r"\[(gw\d)\] \[\s*\d+%\] PASSED (\S+)", done.stdout)}
    assert len(worker_of) == 8, done.stdout[-3000:]
    shared = {worker_of[f"test_{name}.py::test_{name}{suffix}"]
              for name in "ac" for suffix in ("", "_again")}
    assert len(shared) == 1, worker_of  # a and c together, with their other tests
    assert len(list((tmp_path / "base").glob("built-*"))) == 1  # the fixture built once
    assert len(set(worker_of.values())) == 2  # and the other files ran beside them
    # The summary says what each worker spent (how evenly the session was shared).
    shares = re.findall(r"^(gw\d): (\d+) tests, busy \d+ s, last test done \d+ s after the "
                        r"start$", done.stdout, re.MULTILINE)
    assert sorted(shares) == sorted(
        (worker, str(list(worker_of.values()).count(worker))) for worker in ("gw0", "gw1"))


INSTALLATIONS = '''
import pytest

@pytest.fixture(scope="module")
def cases_only():
    return "cases"

@pytest.fixture(scope="module")
def money_only():
    return "money"

@pytest.fixture(scope="module")
def cases_and_a_report(cases_only):
    return cases_only + " and a report"

def test_plain():
    pass

def test_cases(cases_only):
    pass

def test_money(money_only):
    pass

def test_report(cases_and_a_report):
    pass

def test_plain_again(tmp_path):
    pass
'''


def test_a_files_module_fixtures_are_groups_of_their_own(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two installations built by module fixtures of one file can run on two workers; a test
    of a fixture built from another stays with it; the file's other tests stay together, after
    the installations."""
    monkeypatch.delenv(GROUPS_FILE, raising=False)
    items = pytester.getitems(INSTALLATIONS)
    groups = group_by_shared_fixture(items)
    name = {item.nodeid: item.name for item in items}
    by_test = {name[nodeid]: group for nodeid, group in groups.items()}
    assert by_test["test_cases"] == by_test["test_report"]
    assert by_test["test_plain"] == by_test["test_plain_again"]
    assert len({by_test["test_cases"], by_test["test_money"], by_test["test_plain"]}) == 3
    assert [name[item.nodeid] for item in items][-2:] == ["test_plain", "test_plain_again"]
