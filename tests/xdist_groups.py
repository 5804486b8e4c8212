"""`make test` on two pytest-xdist workers, with the tests that share an expensive session
fixture on one worker.

The session fixtures in ``SHARED_FIXTURES`` cost a pipeline run or a UI server each, and several
test files use each of them: every file that uses one runs on the same worker, so each is built
once per session, not once per worker. ``small_first_run`` is not among them: nearly every fault
test goes on from it, and one group of them all would leave the other worker idle; a second small
run on the other core costs less.

xdist's own ``--dist loadgroup`` appends an ``xdist_group`` mark's name to the test's node id,
which pytest 9 no longer reads (the id is kept elsewhere): it would group nothing. So the workers
write each test's group to a file (``GROUPS_FILE``, named by the controller) and the controller
schedules with ``FileGroupScheduling``, which reads it. The groups are handed out in the order of
collection (``--no-loadscope-reorder``), which ``group_by_shared_fixture`` sets: the longest
first, so that the short unit tests fill in at the end.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

SHARED_FIXTURES = ("first_run", "second_run", "night_blocked_by_a_huge_credit",
                   "night_of_a_bad_batch", "webserver")
# After the groups around a shared fixture, by folder.
FOLDER_ORDER = ("integration", "reliability", "browser", "demo", "unit")
GROUPS_FILE = "DATENWERK_TEST_GROUPS"  # the environment variable naming the file


def xdist_worker() -> str | None:
    """The worker's name (gw0, gw1, ...) under pytest-xdist, None in a plain session."""
    return os.environ.get("PYTEST_XDIST_WORKER")


def group_by_shared_fixture(items: list[pytest.Item]) -> dict[str, str]:
    """Each test's group: its file, merged with every file that uses the same shared session
    fixture. Orders ``items`` as the groups are to be handed out and writes the groups to the
    controller's file, if there is one."""
    parent: dict[str, str] = {}

    def root(name: str) -> str:
        while parent.setdefault(name, name) != name:
            name = parent[name]
        return name

    def file_of(item: pytest.Item) -> str:
        return item.nodeid.split("::")[0]

    for item in items:
        # A test that asks for a shared fixture only when it runs (getfixturevalue) names it in
        # an xdist_group mark.
        marked = {str(mark.args[0]) for mark in item.iter_markers("xdist_group") if mark.args}
        for fixture in SHARED_FIXTURES:
            if fixture in item.fixturenames or fixture in marked:
                parent[root(file_of(item))] = root(fixture)
    shared = {root(fixture) for fixture in SHARED_FIXTURES}

    def rank(item: pytest.Item) -> int:
        if root(file_of(item)) in shared:
            return 0
        folder = Path(file_of(item)).parent.name
        return 1 + (FOLDER_ORDER.index(folder) if folder in FOLDER_ORDER else len(FOLDER_ORDER))

    items.sort(key=rank)  # stable: within a group, the order of collection
    groups = {item.nodeid: root(file_of(item)) for item in items}
    if path := os.environ.get(GROUPS_FILE):
        # Every worker collects the same tests and writes the same groups: replaced atomically.
        with tempfile.NamedTemporaryFile("w", dir=Path(path).parent, delete=False) as out:
            json.dump(groups, out)
        os.replace(out.name, path)
    return groups


@pytest.hookimpl(trylast=True)  # after -m and -k have deselected
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if xdist_worker():
        group_by_shared_fixture(items)


def pytest_configure(config: pytest.Config) -> None:
    """In the controller of a distributed session: the file the workers write the groups to
    (the workers inherit the environment)."""
    if xdist_worker() is None and getattr(config.option, "numprocesses", None):
        folder = tempfile.mkdtemp(prefix="datenwerk-test-groups-")
        os.environ[GROUPS_FILE] = str(Path(folder) / "groups.json")


def pytest_unconfigure(config: pytest.Config) -> None:
    if xdist_worker() is None and (path := os.environ.pop(GROUPS_FILE, None)):
        Path(path).unlink(missing_ok=True)
        Path(path).parent.rmdir()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup``: xdist's scheduling by scope, a scope being a group of the file."""
    if config.getoption("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FileGroupScheduling(LoadScopeScheduling):  # type: ignore[misc]
        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:
                self.groups = json.loads(Path(os.environ[GROUPS_FILE]).read_text())
            return self.groups.get(nodeid, nodeid)

    return FileGroupScheduling(config, log)
