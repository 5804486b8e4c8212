"""Only complete files are picked up: write under a temporary name, then rename into place."""

from __future__ import annotations

import os
import time
from pathlib import Path

from ingestion.case_management import is_complete


def test_temporary_names_are_left_alone(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("DATENWERK_SETTLE_SECONDS", raising=False)
    for name in (".kontakte.csv", "kontakte.csv.part", "kontakte.csv.tmp", "~$kontakte.xlsx"):
        (tmp_path / name).write_text("x")
        assert not is_complete(tmp_path / name), name
    (tmp_path / "kontakte.csv").write_text("x")
    assert is_complete(tmp_path / "kontakte.csv")


def test_settle_time_for_senders_that_cannot_rename(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATENWERK_SETTLE_SECONDS", "60")
    path = tmp_path / "kontakte.csv"
    path.write_text("x")
    assert not is_complete(path)
    old = time.time() - 120
    os.utime(path, (old, old))
    assert is_complete(path)
