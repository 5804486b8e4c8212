"""Registries refuse what they do not know: at definition time, and on lookup, by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestion import validate
from warehouse import exports, open_data
from warehouse.registry import Registry, RegistryError, UnknownEntry


def test_a_declared_format_without_a_writer_fails_at_definition() -> None:
    with pytest.raises(RegistryError, match="declared without an entry: ods"):
        Registry("export format", {"csv": exports.WRITERS["csv"]}, declared=("csv", "ods"))


def test_a_writer_nobody_declared_fails_at_definition() -> None:
    with pytest.raises(RegistryError, match="registered but not declared: ods"):
        Registry("export format", {"csv": exports.WRITERS["csv"], "ods": exports.WRITERS["csv"]},
                 declared=("csv",))


def test_every_export_format_has_its_writer() -> None:
    assert tuple(exports.WRITERS) == exports.FORMATS


def test_an_unknown_format_is_named_with_the_known_ones() -> None:
    with pytest.raises(UnknownEntry, match=r"unknown export format 'ods'; known: xlsx, csv"):
        exports.WRITERS["ods"]


def test_an_unknown_format_in_departments_yml_fails_when_read(tmp_path: Path) -> None:
    config = tmp_path / "departments.yml"
    config.write_text("organisation_code: muster\ndepartments:\n"
                      "  - code: sucht\n    marts: [fct_cases]\n    formats: [ods]\n",
                      encoding="utf-8")
    with pytest.raises(exports.ExportConfigError, match="unknown format"):
        exports.load_config(config)


def test_each_hsds_table_has_its_title() -> None:
    assert list(open_data.HSDS_TITLES) == list(open_data.HSDS_FIELDS)
    with pytest.raises(RegistryError, match="declared without an entry: contact"):
        Registry("HSDS table title", dict(open_data.HSDS_TITLES),
                 declared=(*open_data.HSDS_FIELDS, "contact"))


def test_file_kinds_are_tried_in_order_and_a_stranger_is_rejected(tmp_path: Path) -> None:
    assert list(validate.FILE_KINDS) == ["datev", "reference", "case_management"]
    stranger = tmp_path / "einkaufsliste.csv"
    stranger.write_text("Artikel;Menge\nBrot;1\n", encoding="utf-8")
    result = validate.validate_file(stranger)
    assert not result.passed
    assert "not a kind of file Datenwerk loads" in (result.outcome.rejected_reason or "")
