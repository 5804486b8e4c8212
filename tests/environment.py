"""Every test starts from the session's environment, whatever ran before it on the same worker.

Datenwerk reads its installation from ``DATENWERK_HOME`` (and more from ``DATENWERK_*``
variables), so a test that points the process at a home of its own (``use_home``, a run, a dbt
step) must not leave it current for the next test: that test would silently read another
installation (a home with a key file, where the next test brings its own key, refuses both).

- After each test (its setup, call and teardown), the environment is put back as it was when
  the test started.
- A fixture broader than a test (session, module, class) may set variables while it builds
  its installation; they are put back as soon as it is built. A test that needs that home sets
  it itself (``use_home(first_run.home)``), so it reads the same home whichever test happened
  to build the fixture.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Mapping
from typing import Any

import pytest


def restore_environment(saved: Mapping[str, str]) -> dict[str, tuple[str | None, str | None]]:
    """Put ``os.environ`` back to ``saved``; returns what differed, as (was, is) by name."""
    changed = {name: (saved.get(name), os.environ.get(name))
               for name in saved.keys() | os.environ.keys()
               if saved.get(name) != os.environ.get(name)}
    for name, (was, _) in changed.items():
        if was is None:
            del os.environ[name]
        else:
            os.environ[name] = was
    return changed


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, Any, Any]:
    saved = dict(os.environ)
    try:
        return (yield)
    finally:
        restore_environment(saved)


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef: pytest.FixtureDef[Any]) -> Generator[None, Any, Any]:
    if fixturedef.scope == "function":
        return (yield)
    saved = dict(os.environ)
    try:
        return (yield)
    finally:
        restore_environment(saved)
