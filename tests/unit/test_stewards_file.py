"""The installation's stewards file: what a steward entry may say, and what it may not."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.stewards import stewards


def use_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    path = tmp_path / "stewards.yml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("DATENWERK_STEWARDS_FILE", str(path))


def test_a_steward_entry_names_the_entities_its_exports_must_carry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_file(tmp_path, monkeypatch, (
        "organisations:\n"
        "  caritas-nord:\n"
        "    SB: {steward: A, email: a@example.org, entities: [cases, contacts, cases]}\n"
        "    MBE: {steward: B, email: b@example.org, max_days_without_delivery: 10}\n"))
    found = stewards().departments
    assert found[("caritas-nord", "SB")].expected_entities == ("cases", "contacts")
    assert found[("caritas-nord", "MBE")].expected_entities is None
    assert found[("caritas-nord", "MBE")].max_days_without_delivery == 10


@pytest.mark.parametrize("entities, named", [
    ("[cases, Kontakte]", "not: Kontakte"),
    ("contacts", "not: (not a list)"),
])
def test_an_unknown_entity_is_refused_naming_organisation_and_department(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entities: str, named: str
) -> None:
    use_file(tmp_path, monkeypatch, (
        "organisations:\n"
        "  caritas-nord:\n"
        f"    SB: {{steward: A, email: a@example.org, entities: {entities}}}\n"))
    with pytest.raises(ValueError) as refused:
        stewards()
    message = str(refused.value)
    assert "organisation caritas-nord, department SB: 'entities' must be a list of" in message
    assert "clients, cases, contacts, goals, assessments" in message and named in message
