from __future__ import annotations

from pathlib import Path

import pytest

from ingestion.standard import STANDARD_FILE, load_profile, profiles, render_markdown, standard


def test_committed_standard_document_is_current() -> None:
    committed = STANDARD_FILE.with_suffix(".md").read_text(encoding="utf-8")
    assert committed == render_markdown(), "run: make standard"


def test_each_rule_reads_as_the_condition_a_row_must_meet() -> None:
    # an organisation adopting the standard reads the rule first, the quarantine reason after it
    text = render_markdown()
    assert ("Rules: `end_date >= start_date` (else: the end date lies before the start date)."
            in text)
    assert "Rules: the end date lies before the start date" not in text


def test_every_profile_maps_every_required_field_of_its_entities() -> None:
    assert {"demo_csv", "jugendhilfe_xlsx", "kds_suchthilfe_csv",
            "jugendhilfe_kontaktliste_csv"} <= set(profiles())
    for profile in profiles().values():
        for entity, mapping in profile.entities.items():
            required = {n for n, f in standard()[entity].fields.items() if f.required}
            assert required <= mapping.source_fields(), (profile.name, entity)


def test_a_profile_mapping_an_unknown_field_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    path.write_text("name: broken\nentities:\n  contacts:\n    file_pattern: 'x*.csv'\n"
                    "    columns: {contact_id: A, shoe_size: B}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="shoe_size"):
        load_profile(path)
