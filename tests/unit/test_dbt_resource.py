"""The dbt manifest is keyed on the project's contents, not on file times."""

from __future__ import annotations

from typing import Any

from orchestration.transform import project_fingerprint


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
