"""Every example question in warehouse/queries/ runs against the published file and answers with
rows and the columns its header promises."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from tests.conftest import PipelineRun

QUERIES = sorted((Path(__file__).parents[2] / "warehouse" / "queries").glob("*.sql"))


def header(path: Path) -> tuple[str, list[str]]:
    """The question (first comment line) and the promised columns (the `-- columns:` line)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    columns = next(line for line in lines if line.startswith("-- columns:"))
    return lines[0], [c.strip() for c in columns.removeprefix("-- columns:").split(",")]


def test_at_least_eight_questions() -> None:
    assert len(QUERIES) >= 8
    for path in QUERIES:
        question, columns = header(path)
        assert question.startswith("-- Question: ") and question.rstrip().endswith("?"), path.name
        assert columns, path.name


PER_UNIT = {"department_code", "department_name", "program_code", "program_name"}


@pytest.mark.parametrize("path", QUERIES, ids=lambda p: p.stem)
def test_rows_per_department_or_program_name_their_organisation(path: Path) -> None:
    """Two organisations of one installation may use one department or program code: a row
    about a department or program says whose it is, and is grouped and ordered by it
    (``test_source_mix`` checks the figures of each in an installation of three)."""
    _, columns = header(path)
    if PER_UNIT & set(columns):
        assert columns[0] == "organisation_code", (path.name, columns)
        text = path.read_text(encoding="utf-8")
        assert "order by" in text and "organisation_code" in text.rsplit("order by", 1)[1], (
            path.name)


@pytest.mark.parametrize("path", QUERIES, ids=lambda p: p.stem)
def test_question_answers_from_the_published_file(first_run: PipelineRun, path: Path) -> None:
    _, columns = header(path)
    published = first_run.home / "published" / "marts.duckdb"
    with duckdb.connect(str(published), read_only=True) as con:
        result = con.sql(path.read_text(encoding="utf-8"))
        rows = result.fetchall()
        assert result.columns == columns
    assert rows, f"{path.name} returned no rows"
