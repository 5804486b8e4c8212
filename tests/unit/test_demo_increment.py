"""`datenwerk demo-data --increment`: a later delivery with new files and consistent ids."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from orchestration.cli import main

SCALE = "0.05"


def rows(path: Path) -> list[list[str]]:
    with path.open(encoding="cp1252", newline="") as fh:
        return list(csv.reader(fh, delimiter=";"))


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DATENWERK_HOME", str(tmp_path))
    assert main(["demo-data", "--scale", SCALE, "--seed", "3"]) == 0
    return tmp_path


def test_increment_adds_one_percent_contacts_of_known_cases(home: Path) -> None:
    root = home / "inbox" / "case_management" / "swm"
    before = {d.name: rows(d / "kontakte.csv")[1:] for d in root.iterdir()
              if (d / "kontakte.csv").exists()}
    assert main(["demo-data", "--increment", "0.01", "--seed", "3"]) == 0
    assert main(["demo-data", "--increment", "0.01", "--seed", "3"]) == 0

    seen = {r[0] for rs in before.values() for r in rs}
    highest = max(int(i[2:]) for i in seen)
    new_ids: list[str] = []
    for dept, old in before.items():
        cases = {r[0] for r in rows(root / dept / "faelle.csv")[1:]}
        for n in (1, 2):
            new = rows(root / dept / f"kontakte_nachtrag_{n}.csv")
            assert new[0] == rows(root / dept / "kontakte.csv")[0]  # same header
            assert len(new) - 1 == round(0.01 * len(old))
            assert {r[1] for r in new[1:]} <= cases
            new_ids += [r[0] for r in new[1:]]
    assert len(new_ids) == len(set(new_ids)) and not set(new_ids) & seen
    assert min(int(i[2:]) for i in new_ids) == highest + 1
    history = json.loads((home / "demo_truth" / "increments.json").read_text())
    assert [h["delivery"] for h in history] == [1, 2]
    assert sum(history[0]["contacts"].values()) == len(new_ids) // 2


def test_increment_passes_the_loaders_checks(home: Path) -> None:
    assert main(["demo-data", "--increment", "0.02"]) == 0
    files = sorted((home / "inbox" / "case_management").rglob("kontakte_nachtrag_1.csv"))
    assert files
    for path in files:
        assert main(["validate", str(path)]) == 0, path


def test_increment_needs_a_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATENWERK_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="run demo-data first"):
        main(["demo-data", "--increment", "0.01"])
