"""What a mart's dbt YAML says in its meta, read from the manifest; a wrong meta is an error that
names the file and the key, never a mart silently left unpublished or unchecked."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from warehouse import marts

pytestmark = pytest.mark.usefixtures("dbt_manifest")


@pytest.fixture(scope="module")
def manifest(dbt_manifest: Path) -> dict[str, Any]:
    return json.loads(dbt_manifest.read_text(encoding="utf-8"))


def with_meta(manifest: dict[str, Any], model: str, **meta: Any) -> dict[str, Any]:
    """The manifest with ``model``'s meta changed (``None`` removes a key)."""
    changed = copy.deepcopy(manifest)
    node = changed["nodes"][f"model.datenwerk.{model}"]
    for target in (node["meta"], node["config"]["meta"]):
        for key, value in meta.items():
            target.pop(key, None)
            if value is not None:
                target[key] = value
    return changed


def test_the_projects_marts_are_published_checked_and_exported(
        manifest: dict[str, Any]) -> None:
    found = marts.marts_of(manifest)
    assert all(m.publish and m.gx is not None for m in found.values())
    assert found["fct_cases"].department_export == "department_code"
    assert found["dim_date"].department_export is None  # no department column
    assert found["mart_finance_by_cost_centre_month"].gx.signed == (  # type: ignore[union-attr]
        "costs_eur", "revenues_eur", "amount_eur")
    assert not any(n.startswith(("stg_", "int_")) for n in found)


@pytest.mark.parametrize(("meta", "message"), [
    ({"publsh": True}, "unknown meta key(s) publsh"),
    ({"gx": None}, "a published mart needs a Great Expectations suite"),
    ({"gx": {"unique": [["case_id"]]}}, "unknown key(s) meta.gx.unique"),
    ({"gx": {"between": {"weight": [1]}}}, "meta.gx.between maps a column to [low, high]"),
    ({"publish": "yes"}, "meta.publish must be true or false"),
    ({"publish": False, "gx": {}}, "meta.department_export needs meta.publish: true"),
    ({"department_export": "fachbereich"}, "names 'fachbereich', which is not a column"),
    ({"label_de": "Fälle mit allen Angaben der Fachsoftware"}, "text of 1 to 31 characters"),
])
def test_a_wrong_meta_names_the_file_and_the_key(
        manifest: dict[str, Any], meta: dict[str, Any], message: str) -> None:
    with pytest.raises(marts.MartMetaError) as error:
        marts.marts_of(with_meta(manifest, "fct_cases", **meta))
    assert message in str(error.value)
    assert str(error.value).startswith("models/marts/fct_cases.yml (model fct_cases): ")


def test_an_unpublished_mart_needs_no_suite(manifest: dict[str, Any]) -> None:
    found = marts.marts_of(with_meta(manifest, "dim_date", publish=False, gx=None))
    assert not found["dim_date"].publish and found["dim_date"].gx is None
    assert "dim_date" not in {n for n, m in found.items() if m.publish}


def test_contact_time_with_staff_is_not_called_working_time(manifest: dict[str, Any]) -> None:
    # A group session is delivered as one contact per participant: its minutes count once per
    # participant, so the sum is contact time, never the staff's working time.
    for model in ("mart_impact", "mart_srs_report"):
        column = manifest["nodes"][f"model.datenwerk.{model}"]["columns"]["staff_minutes"]
        assert "Arbeitszeit" not in column["meta"]["label_de"], model
        assert "Gruppensitzung zählt je Teilnehmer:in" in column["meta"]["description_de"], model
        assert "counts once per participant" in column["description"], model
