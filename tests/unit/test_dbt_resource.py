"""The dbt resource replaces two private hooks of dagster-dbt to save a process and an adapter
set-up per step; these tests fail when a dagster-dbt upgrade renames or stops using them."""

from __future__ import annotations

import inspect
import sys
from importlib import metadata
from typing import Any

from dagster_dbt import DbtCliResource
from packaging import version

from orchestration.transform import DatenwerkDbtCliResource, dbt_resource, project_fingerprint

_spawned: list[Any] = []
_recording = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _recording and event == "subprocess.Popen":
        _spawned.append(args)


sys.addaudithook(_audit)


def test_dagster_dbt_still_calls_the_replaced_hooks() -> None:
    source = inspect.getsource(DbtCliResource.cli)
    assert "self._cli_version" in source
    assert "self._initialize_dbt_core_adapter(" in source


def test_version_without_spawning_dbt() -> None:
    global _recording
    resource = dbt_resource()
    assert isinstance(resource, DatenwerkDbtCliResource)
    _recording = True
    try:
        found = resource._cli_version
        adapter = resource._initialize_dbt_core_adapter(["build"])
    finally:
        _recording = False
    assert found == version.parse(metadata.version("dbt-core"))
    assert adapter is None
    assert _spawned == []


def test_fingerprint_follows_contents_not_times(tmp_path: Any) -> None:
    (tmp_path / "models").mkdir()
    model = tmp_path / "models" / "a.sql"
    model.write_text("select 1")
    (tmp_path / "dbt_project.yml").write_text("name: x")
    first = project_fingerprint(tmp_path)
    model.touch()
    assert project_fingerprint(tmp_path) == first
    model.write_text("select 2")
    changed = project_fingerprint(tmp_path)
    assert changed != first
    (tmp_path / "models" / "b.sql").write_text("select 2")
    assert project_fingerprint(tmp_path) not in (first, changed)
