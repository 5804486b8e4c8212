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

Within a file, the tests of a module fixture of that file (an installation built and run for
them) are a group of their own: a file with several such installations (sources missing, one
per fixture) spreads them over both workers instead of running them one after the other, and
these groups go first within their folder.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SHARED_FIXTURES = ("first_run", "second_run", "night_blocked_by_a_huge_credit",
                   "night_of_a_bad_batch", "three_organisations", "webserver")
# After the groups around a shared fixture, by folder.
FOLDER_ORDER = ("integration", "reliability", "browser", "demo", "unit")
GROUPS_FILE = "DATENWERK_TEST_GROUPS"  # the environment variable naming the file


def xdist_worker() -> str | None:
    """The worker's name (gw0, gw1, ...) under pytest-xdist, None in a plain session."""
    return os.environ.get("PYTEST_XDIST_WORKER")


def file_of(item: pytest.Item) -> str:
    return item.nodeid.split("::")[0]


def unit_of(item: pytest.Item) -> tuple[str, list[str]]:
    """The test's file, or the module fixture of its own file it uses (the first, when several:
    the others are to be merged with it), as (unit, the units to merge with it)."""
    info = getattr(item, "_fixtureinfo", None)
    module = getattr(getattr(item, "module", None), "__name__", None)
    fixtures = sorted(
        name for name in item.fixturenames
        if info is not None and (defs := info.name2fixturedefs.get(name))
        and defs[-1].scope == "module" and getattr(defs[-1].func, "__module__", None) == module)
    units = [f"{file_of(item)}::{fixture}" for fixture in fixtures] or [file_of(item)]
    return units[0], units[1:]


class Groups:
    """Union-find over units (files, a file's module fixtures) and shared fixtures."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def root(self, name: str) -> str:
        while self.parent.setdefault(name, name) != name:
            name = self.parent[name]
        return name

    def merge(self, name: str, into: str) -> None:
        self.parent[self.root(name)] = self.root(into)


def group_by_shared_fixture(items: list[pytest.Item]) -> dict[str, str]:
    """Each test's group: its file (or its file's module fixture), merged with every other that
    uses the same shared session fixture. Orders ``items`` as the groups are to be handed out
    and writes the groups to the controller's file, if there is one."""
    groups = Groups()
    units: dict[str, str] = {}
    for item in items:
        units[item.nodeid], others = unit_of(item)
        for other in others:
            groups.merge(other, units[item.nodeid])
        # A test that asks for a shared fixture only when it runs (getfixturevalue) names it in
        # an xdist_group mark.
        marked = {str(mark.args[0]) for mark in item.iter_markers("xdist_group") if mark.args}
        for fixture in SHARED_FIXTURES:
            if fixture in item.fixturenames or fixture in marked:
                groups.merge(units[item.nodeid], fixture)
    shared = {groups.root(fixture) for fixture in SHARED_FIXTURES}
    group_of = {nodeid: groups.root(unit) for nodeid, unit in units.items()}

    def rank(item: pytest.Item) -> int:
        if group_of[item.nodeid] in shared:
            return 0
        folder = Path(file_of(item)).parent.name
        position = FOLDER_ORDER.index(folder) if folder in FOLDER_ORDER else len(FOLDER_ORDER)
        return 1 + 2 * position + ("::" not in group_of[item.nodeid])

    items.sort(key=rank)  # stable: within a group, the order of collection
    ordered = {item.nodeid: group_of[item.nodeid] for item in items}
    if path := os.environ.get(GROUPS_FILE):
        # Every worker collects the same tests and writes the same groups: replaced atomically.
        with tempfile.NamedTemporaryFile("w", dir=Path(path).parent, delete=False) as out:
            json.dump(ordered, out)
        os.replace(out.name, path)
    return ordered


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


@dataclass
class WorkerTime:
    """A worker's share of the session, as the controller saw it."""

    busy: float = 0.0  # its tests' setup, call and teardown, in seconds
    last: float = 0.0  # when it reported its last test, seconds after the session started
    tests: int = 0


STARTED = [time.monotonic()]
WORKER_TIMES: dict[str, WorkerTime] = {}


def pytest_sessionstart() -> None:
    STARTED[0] = time.monotonic()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """In the controller of a distributed session: what each worker spent on its tests."""
    node = getattr(report, "node", None)
    if node is None:
        return
    worker = WORKER_TIMES.setdefault(str(node.gateway.id), WorkerTime())
    worker.busy += report.duration
    worker.last = time.monotonic() - STARTED[0]
    if report.when == "teardown":  # every test has one, a skipped test too
        worker.tests += 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How evenly the workers shared the session: a worker that finished long before the
    other idled (the groups are handed out longest first so that they finish together)."""
    if not WORKER_TIMES:
        return
    terminalreporter.section("workers")
    for name, worker in sorted(WORKER_TIMES.items()):
        terminalreporter.write_line(
            f"{name}: {worker.tests} tests, busy {worker.busy:.0f} s, "
            f"last test done {worker.last:.0f} s after the start")


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
