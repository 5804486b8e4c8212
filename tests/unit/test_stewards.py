"""Stewards are keyed by organisation and department; a real installation inherits none."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration import stewards as module

TWO_ORGANISATIONS = """
organisations:
  swm:
    SB: {steward: Katrin Brückner, email: katrin@example.org, max_days_without_delivery: 35}
  beratung:
    SB: {steward: Anna Neu, email: anna@beratung.example, max_days_without_delivery: 7}
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DATENWERK_HOME", str(tmp_path))
    monkeypatch.delenv("DATENWERK_STEWARDS_FILE", raising=False)
    return tmp_path


def test_the_shipped_file_names_no_organisation(home: Path) -> None:
    config = module.stewards()
    assert config.departments == {}
    # Owners still resolve: `stewards` without any steward falls back to the default owner.
    assert config.owners_for(["marts"]) == ["team:data-engineering"]
    assert config.owners_for(["staging/accounting", "staging"]) == ["team:controlling"]
    assert config.expand(["stewards", "quality management"]) == [
        "team:data-engineering", "team:quality-management"]


def test_the_installation_file_keys_stewards_by_organisation_and_department(home: Path) -> None:
    (home / "stewards.yml").write_text(TWO_ORGANISATIONS, encoding="utf-8")
    config = module.stewards()
    assert {k: (s.name, s.max_days_without_delivery) for k, s in config.departments.items()} == {
        ("swm", "SB"): ("Katrin Brückner", 35.0),
        ("beratung", "SB"): ("Anna Neu", 7.0),
    }
    # The shipped owners stay; `stewards` now names both organisations' stewards.
    assert config.owners_for(["raw_case_management"]) == [
        "katrin@example.org", "anna@beratung.example", "team:data-engineering"]


def test_the_demo_stewards_live_with_the_demo(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATENWERK_STEWARDS_FILE", str(module.DEMO_FILE))
    assert {org for org, _ in module.stewards().departments} == {"swm"}
    assert "organisations: {}" in module.DEFAULT_FILE.read_text(encoding="utf-8")


def test_stewards_keyed_by_department_alone_are_refused(home: Path) -> None:
    (home / "stewards.yml").write_text(
        "departments:\n  SB: {steward: X, email: x@example.org}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="key stewards by organisation and department"):
        module.stewards()
