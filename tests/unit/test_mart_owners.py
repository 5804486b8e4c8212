"""A mart's owners in Dagster come from its YAML (``meta.owner``), through the dbt translator;
the stewards file only holds the folders' defaults for models that name none."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestration import stewards
from warehouse import marts

pytestmark = pytest.mark.usefixtures("dbt_manifest")
DEMO_STEWARDS = ["joerg.hoffmeister@example.org", "katrin.brueckner@example.org",
                 "leyla.aydemir@example.org", "thomas.weissenfels@example.org"]


@pytest.fixture(scope="module")
def manifest(dbt_manifest: Path) -> dict[str, Any]:
    return json.loads(dbt_manifest.read_text(encoding="utf-8"))


@pytest.fixture
def no_stewards(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An installation that names no steward yet: `stewards` stands for the default owner."""
    monkeypatch.setenv("DATENWERK_HOME", str(tmp_path))
    monkeypatch.delenv("DATENWERK_STEWARDS_FILE", raising=False)


def with_owner(manifest: dict[str, Any], model: str, owner: Any) -> dict[str, Any]:
    """The manifest with ``model``'s ``meta.owner`` replaced (``None`` removes it)."""
    changed = copy.deepcopy(manifest)
    node = changed["nodes"][f"model.datenwerk.{model}"]
    for meta in (node["meta"], node["config"]["meta"]):
        meta.pop("owner", None)
        if owner is not None:
            meta["owner"] = owner
    return changed


def owners(manifest: dict[str, Any], model: str) -> list[str]:
    from orchestration.transform import DatenwerkDbtTranslator

    spec = DatenwerkDbtTranslator().get_asset_spec(manifest, f"model.datenwerk.{model}", None)
    return sorted(spec.owners)


@pytest.mark.usefixtures("no_stewards")
def test_a_marts_owners_come_from_its_meta(manifest: dict[str, Any]) -> None:
    # The folder's default (`marts: [stewards]`) would be team:data-engineering alone here.
    assert owners(manifest, "mart_finance_by_cost_centre_month") == [
        "team:controlling", "team:data-engineering"]
    assert owners(manifest, "mart_impact") == ["team:controlling", "team:data-engineering"]
    changed = with_owner(manifest, "mart_impact", "finanzen@example.org")
    assert owners(changed, "mart_impact") == ["finanzen@example.org"]


@pytest.mark.usefixtures("no_stewards")
def test_a_mart_without_meta_owner_falls_back_to_the_folder_default(
        manifest: dict[str, Any]) -> None:
    assert owners(with_owner(manifest, "mart_impact", None), "mart_impact") == [
        "team:data-engineering"]


def test_stewards_in_meta_become_the_installations_stewards(
        manifest: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATENWERK_HOME", str(tmp_path))
    monkeypatch.setenv("DATENWERK_STEWARDS_FILE", str(stewards.DEMO_FILE))
    assert owners(manifest, "fct_cases") == sorted([*DEMO_STEWARDS, "team:quality-management"])
    changed = with_owner(manifest, "fct_cases", ["swm/MBE", "team:quality-management"])
    assert owners(changed, "fct_cases") == ["leyla.aydemir@example.org",
                                            "team:quality-management"]


@pytest.mark.parametrize("owner", ["quality-management", ["team:controlling", "Controlling"], 7])
def test_an_owner_dagster_would_not_take_names_the_file(
        manifest: dict[str, Any], owner: Any) -> None:
    with pytest.raises(marts.MartMetaError, match=r"^models/marts/mart_impact\.yml \(model "
                       r"mart_impact\): meta\.owner .* is no owner: write an e-mail address"):
        marts.marts_of(with_owner(manifest, "mart_impact", owner))


def test_every_mart_names_its_owners_and_the_stewards_file_no_mart(
        manifest: dict[str, Any]) -> None:
    found = marts.marts_of(manifest)
    assert all(m.owners for m in found.values()), [n for n, m in found.items() if not m.owners]
    shipped = yaml.safe_load(stewards.DEFAULT_FILE.read_text(encoding="utf-8"))["owners"]
    assert not set(shipped) & set(found)
