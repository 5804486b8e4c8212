"""Department codes become folder names (``exports/<department>/``). A code such as
``../../published/x`` in the reference data or the export configuration must never write outside
the exports folder: codes are validated as identifiers where they enter, and again where they
become a path."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import use_home

ESCAPING = "../../published/x"


def reference_home(tmp_path: Path, code: str) -> Path:
    home = tmp_path / "home"
    folder = home / "inbox" / "reference" / "swm"
    folder.mkdir(parents=True)
    (folder / "departments.csv").write_text(
        "organisation_code,department_code,department_name,data_steward,is_pilot\n"
        "swm,SB,Schuldnerberatung,K. B.,true\n"
        f"swm,{code},Ausbruch,E. V.,true\n",
        encoding="utf-8",
    )
    (folder / "departments.yml").write_text(
        "organisation_code: swm\ndepartments:\n"
        f"  - code: SB\n    marts: [fct_cases]\n  - code: '{code}'\n    marts: [fct_cases]\n",
        encoding="utf-8",
    )
    use_home(home)
    return home


@pytest.mark.parametrize("code", [ESCAPING, "..", ".versteckt", "SB/x", "C:\\temp"])
def test_a_reference_file_with_a_path_as_department_code_is_rejected(
    tmp_path: Path, code: str
) -> None:
    from ingestion.reference import Delivery

    home = reference_home(tmp_path, code)
    tables, outcomes = Delivery(home / "inbox" / "reference", frozenset()).parsed

    [outcome] = [o for o in outcomes if o.entity == "departments"]
    assert outcome.rejected_reason is not None
    assert outcome.rejected_reason.startswith("line 3: department_code")
    assert repr(code) in outcome.rejected_reason
    assert tables["departments"] == []
    moved = home / "protected" / "rejected" / "reference" / "swm" / "departments.csv"
    assert moved.exists() and "Grund: Zeile 3: department_code" in moved.with_name(
        moved.name + ".reason.txt").read_text(encoding="utf-8")


def test_valid_codes_still_load(tmp_path: Path) -> None:
    from ingestion.reference import Delivery

    home = reference_home(tmp_path, "SUB-2.Ost")
    tables, outcomes = Delivery(home / "inbox" / "reference", frozenset()).parsed
    assert [o.rejected_reason for o in outcomes if o.entity == "departments"] == [None]
    assert tables["departments"][0].column("department_code").to_pylist() == ["SB", "SUB-2.Ost"]


def test_an_export_configuration_with_a_path_as_code_is_refused(tmp_path: Path) -> None:
    from warehouse import paths
    from warehouse.exports import ExportConfigError, load_config

    home = reference_home(tmp_path, ESCAPING)
    with pytest.raises(ExportConfigError, match="not a valid code"):
        load_config(home / "inbox" / "reference" / "swm" / "departments.yml")
    # The one place where a code becomes a path refuses it too, whoever calls it.
    with pytest.raises(paths.InvalidCodeError):
        paths.department_exports_dir(ESCAPING)
    assert paths.department_exports_dir("SB") == home / "exports" / "SB"
    assert not (home / "published").exists()
