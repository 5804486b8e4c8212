"""Open data in the real pipeline run: the asset materialised with its blocking check, what the
public gets is safe (suppression proved on the files), correct (the published counts are the
generator's truth), free of personal data, and described in DCAT-AP.de that parses as RDF."""

from __future__ import annotations

import csv
import json
import shutil
from collections import defaultdict
from pathlib import Path

import pytest
from dagster import AssetKey

from tests.conftest import PipelineRun
from warehouse import settings
from warehouse.open_data import (
    AGGREGATES,
    HSDS_FIELDS,
    LICENSE,
    SUPPRESSED,
    read_aggregate,
    verify_folder,
)
from warehouse.suppression import TOTAL, Table

OPEN_DATA = AssetKey(["open_data"])


def folder(run: PipelineRun) -> Path:
    return run.home / "open_data"


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_open_data_materialised_after_its_check_passed(first_run: PipelineRun) -> None:
    result = first_run.result
    assert result.success  # type: ignore[attr-defined]
    materialised = {e.asset_key for e in result.get_asset_materialization_events()}  # type: ignore[attr-defined]
    assert OPEN_DATA in materialised
    checks = [e for e in result.get_asset_check_evaluations()  # type: ignore[attr-defined]
              if e.asset_key == OPEN_DATA]
    assert [(c.check_name, c.passed) for c in checks] == [("no_disclosure", True)]
    assert checks[0].metadata["suppressed_cells"].value > 0  # the demo has small cells
    link = folder(first_run)
    assert link.is_symlink() and link.resolve().parent.name == "open_data.generations"
    assert sorted(p.name for p in link.iterdir()) == sorted(
        [*(f"{n}.csv" for n in AGGREGATES), *(f"{n}.csv" for n in HSDS_FIELDS), "catalog.jsonld"])
    assert not [p for p in link.resolve().parent.iterdir() if p.name.endswith(".tmp")]


def test_published_files_pass_the_disclosure_proof(first_run: PipelineRun) -> None:
    report = verify_folder(folder(first_run))
    assert report.ok, report.problems
    assert report.hidden_cells > 0 and report.published_cells > 0
    assert report.narrowest >= settings.PROTECTION_MARGIN
    for name in AGGREGATES:
        values = [r["cases"] for r in rows(folder(first_run) / f"{name}.csv")]
        assert SUPPRESSED in values
        assert all(v == SUPPRESSED or v == "0" or int(v) >= settings.SUPPRESSION_THRESHOLD
                   for v in values)


def test_published_counts_are_the_generators_truth(first_run: PipelineRun) -> None:
    """Every published department total and grand total equals cases closed per the truth."""
    truth: dict[tuple[str, str], int] = defaultdict(int)
    with (first_run.home / "demo_truth" / "by_program_year.csv").open(encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            truth[(r["year"], r["department_code"])] += int(r["cases_closed"])
            truth[(r["year"], TOTAL)] += int(r["cases_closed"])
    compared = 0
    for name in AGGREGATES:
        tables: list[Table] = read_aggregate(folder(first_run) / f"{name}.csv")
        for t in tables:
            for (row, dept), value in t.cells.items():
                if row == TOTAL and value is not None:
                    assert value == truth[(t.fixed["year"], dept)], (name, t.fixed, dept)
                    compared += 1
    assert compared >= 6


def test_several_organisations_keep_their_departments_apart(
        three_organisations: PipelineRun, session_root: Path) -> None:
    """Outside a federation too, an installation of several organisations names each
    department with its organisation: ``SB`` of ``swm`` and of ``beratung`` are two columns
    with each one's truth, never their sum; the catalogue says how they are named."""
    run = three_organisations
    truth: dict[tuple[str, str], int] = defaultdict(int)
    for org, home in (("swm", run.home), ("beratung", session_root / "second-demo")):
        with (home / "demo_truth" / "by_program_year.csv").open(encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                if org == "beratung" and r["department_code"] != "SB":
                    continue  # beratung delivered the second demo's SB only
                truth[(r["year"], f"{org}/{r['department_code']}")] += int(r["cases_closed"])
                truth[(r["year"], TOTAL)] += int(r["cases_closed"])
    report = verify_folder(folder(run))
    assert report.ok, report.problems
    departments: set[str] = set()
    compared: set[tuple[str, str]] = set()
    for name in AGGREGATES:
        for t in read_aggregate(folder(run) / f"{name}.csv"):
            for (row, dept), value in t.cells.items():
                departments.add(dept)
                if row == TOTAL and value is not None:
                    assert value == truth[(t.fixed["year"], dept)], (name, t.fixed, dept)
                    compared.add((t.fixed["year"], dept))
    assert departments - {TOTAL} == {d for (_, d), n in truth.items() if d != TOTAL and n}
    # a year in which both SB are published, each with its own figure
    assert any((y, "swm/SB") in compared and (y, "beratung/SB") in compared for y, _ in compared)
    catalog = (folder(run) / "catalog.jsonld").read_text(encoding="utf-8")
    assert "'Träger/Fachbereich'" in catalog and "mehrerer Träger" in catalog


def test_end_reasons_are_the_categories_of_fct_cases_and_add_up(first_run: PipelineRun) -> None:
    """The open data counts the marts' end-reason categories: before suppression every cell
    equals fct_cases, the totals add up; the published file shows those counts or '.'."""
    import duckdb

    from warehouse.open_data import END_REASON_CATEGORIES, aggregate_tables, case_counts

    db = first_run.home / "published" / "marts.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        marts = {(str(y), c, d): n for y, c, d, n in con.execute(
            "select year(end_date), end_reason_category, department_code, count(*) "
            "from fct_cases where status = 'closed' group by all").fetchall()}
    assert {c for _, c, _ in marts} == set(END_REASON_CATEGORIES)
    unsuppressed = [t for t in aggregate_tables(case_counts(db), threshold=0, margin=0)
                    if t.name == "cases_by_end_reason"]
    compared = 0
    for t in unsuppressed:
        year = t.fixed["year"]
        for (category, dept), value in t.cells.items():
            if category == TOTAL:
                expected = sum(n for (y, _, d), n in marts.items()
                               if y == year and dept in (d, TOTAL))
            elif dept == TOTAL:
                expected = sum(n for (y, c, _), n in marts.items() if y == year and c == category)
            else:
                expected = marts.get((year, category, dept), 0)
            assert value == expected, (year, category, dept)
            compared += 1
    assert compared > 20
    published = rows(folder(first_run) / "cases_by_end_reason.csv")
    assert {r["end_reason_category"] for r in published} == {*END_REASON_CATEGORIES, TOTAL}
    planned = [r for r in published if r["end_reason_category"] == "planned_end"
               and r["department_code"] == TOTAL and r["cases"] != SUPPRESSED]
    assert planned and all(int(r["cases"]) == sum(
        n for (y, c, _), n in marts.items() if y == r["year"] and c == "planned_end")
        for r in planned)


def test_a_leaking_file_fails_the_check(first_run: PipelineRun, tmp_path: Path) -> None:
    """The proof can fail: print one suppressed department total as it is."""
    leaked = tmp_path / "open_data"
    shutil.copytree(folder(first_run).resolve(), leaked)
    path = leaked / "cases_by_end_reason.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    table = rows(path)
    for i, r in enumerate(table, start=1):
        if r["end_reason_category"] == TOTAL and r["cases"] == SUPPRESSED:
            value = truth_total(first_run, r["year"], r["department_code"])
            lines[i] = f"{r['year']},{TOTAL},{r['department_code']},{value}"
            break
    else:
        pytest.skip("no suppressed department total in this demo")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = verify_folder(leaked)
    assert not report.ok


def truth_total(run: PipelineRun, year: str, department: str) -> int:
    with (run.home / "demo_truth" / "by_program_year.csv").open(encoding="utf-8") as fh:
        return sum(int(r["cases_closed"]) for r in csv.DictReader(fh)
                   if r["year"] == year and r["department_code"] == department)


def test_directory_is_hsds_without_personal_data(first_run: PipelineRun) -> None:
    base = folder(first_run)
    tables = {name: rows(base / f"{name}.csv") for name in HSDS_FIELDS}
    for name, fields in HSDS_FIELDS.items():
        with (base / f"{name}.csv").open(encoding="utf-8") as fh:
            assert tuple(next(csv.reader(fh))) == fields
    assert len(tables["organization"]) == 1
    assert {s["alternate_name"] for s in tables["service"]} == {"SB", "SUB", "MBE", "AJH"}
    assert all(s["status"] == "active" for s in tables["service"])
    # ids link up as HSDS requires
    org_ids = {o["id"] for o in tables["organization"]}
    location_ids = {loc["id"] for loc in tables["location"]}
    assert {s["organization_id"] for s in tables["service"]} == org_ids
    assert {a["location_id"] for a in tables["address"]} == location_ids
    assert {x["service_id"] for x in tables["service_at_location"]} == {
        s["id"] for s in tables["service"]}
    assert all(a["postal_code"] and a["address_1"] for a in tables["address"])
    # no planted identifier, no data steward (a person) anywhere in the open data
    pii = json.loads((first_run.home / "demo_truth" / "planted_pii.json").read_text("utf-8"))
    with (first_run.home / "inbox" / "reference" / "swm" / "departments.csv").open(
            encoding="utf-8") as fh:
        stewards = [d["data_steward"] for d in csv.DictReader(fh)]
    blob = "\n".join(p.read_text(encoding="utf-8") for p in base.iterdir())
    needles = [str(v) for values in pii.values() for v in values if len(str(v)) >= 5]
    assert len(needles) > 100
    assert [n for n in needles if n in blob] == []
    assert [s for s in stewards if s in blob] == []


def test_dcat_ap_de_catalogue_parses_as_rdf(first_run: PipelineRun) -> None:
    import rdflib
    from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, XSD

    text = (folder(first_run) / "catalog.jsonld").read_text(encoding="utf-8")
    doc = json.loads(text)
    assert isinstance(doc["@context"], dict)  # inline: nothing is fetched to read it
    base = "https://open.example.org/datenwerk/"
    g = rdflib.Graph().parse(data=text, format="json-ld", publicID=base)
    datasets = set(g.subjects(RDF.type, DCAT.Dataset))
    assert len(datasets) == 1 + len(AGGREGATES)
    assert len(set(g.subjects(RDF.type, DCAT.Catalog))) == 1
    for ds in datasets:
        for prop in (DCTERMS.title, DCTERMS.description, DCTERMS.publisher, DCTERMS.temporal,
                     DCTERMS.modified, DCAT.distribution):
            assert g.value(ds, prop) is not None, (ds, prop)
        assert g.value(g.value(ds, DCTERMS.publisher), FOAF.name) is not None
        assert g.value(ds, DCTERMS.modified).datatype == XSD.dateTime  # type: ignore[union-attr]
        assert g.value(g.value(ds, DCTERMS.temporal), DCAT.startDate) is not None
        for dist in g.objects(ds, DCAT.distribution):
            assert (dist, RDF.type, DCAT.Distribution) in g
            assert g.value(dist, DCTERMS.license) == rdflib.URIRef(LICENSE)
            assert str(g.value(dist, DCTERMS.format)).endswith("/file-type/CSV")
            assert str(g.value(dist, DCAT.mediaType)).endswith("/text/csv")
            assert g.value(dist, DCTERMS.modified) is not None
            url = str(g.value(dist, DCAT.downloadURL))
            # relative in the file, so it resolves next to the catalogue wherever it is served
            assert url.startswith(base) and (folder(first_run) / url[len(base):]).is_file()
            assert g.value(dist, DCAT.accessURL) is not None
    aggregate = rdflib.URIRef(base + "#dataset/cases_by_region")
    end = g.value(g.value(aggregate, DCTERMS.temporal), DCAT.endDate)
    assert str(end) == "2025-12-31"
    # the catalogue declares German (dct:language DEU): every title and description is German
    texts = [o for p in (DCTERMS.title, DCTERMS.description) for o in g.objects(None, p)]
    assert texts and {t.language for t in texts} == {"de"}  # type: ignore[attr-defined]
    assert all(".." not in str(t) for t in texts)


def test_directory_texts_have_no_doubled_full_stop(first_run: PipelineRun) -> None:
    import csv

    with (folder(first_run) / "organization.csv").open(encoding="utf-8-sig") as fh:
        descriptions = [row["description"] for row in csv.DictReader(fh)]
    assert descriptions and not [d for d in descriptions if ".." in d]


def test_unsafe_candidate_is_never_published(first_run: PipelineRun,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A broken suppression (primary only) fails the blocking check; the public folder stays."""
    from dagster import DagsterInstance, materialize

    from orchestration.open_data import open_data
    from warehouse import open_data as od
    from warehouse.suppression import table_from_counts

    home = first_run.home.parent / "open_data_unsafe"
    shutil.rmtree(home, ignore_errors=True)
    shutil.copytree(first_run.home, home, symlinks=True)
    monkeypatch.setenv("DATENWERK_HOME", str(home))
    before = (home / "open_data").resolve()
    before_bytes = {p.name: p.read_bytes() for p in before.iterdir()}

    def primary_only(rows, threshold=None, margin=None):  # type: ignore[no-untyped-def]
        tables = []
        by_year: dict[str, dict[tuple[str, ...], int]] = defaultdict(lambda: defaultdict(int))
        for year, dept, reason, _, n in rows:
            by_year[year][(reason, dept)] += n
        for year, counts in by_year.items():
            t = table_from_counts("cases_by_end_reason", {"year": year},
                                  ("end_reason_category", "department_code"), counts,
                                  [sorted({c[0] for c in counts}), sorted({c[1] for c in counts})])
            t.cells = {c: (None if v and v < 5 else v) for c, v in t.cells.items()}
            tables.append(t)
        return tables

    monkeypatch.setattr(od, "aggregate_tables", primary_only)
    with DagsterInstance.ephemeral() as instance:
        result = materialize([open_data], instance=instance, raise_on_error=False)
    assert not result.success
    checks = result.get_asset_check_evaluations()
    assert [(c.check_name, c.passed) for c in checks] == [("no_disclosure", False)]
    assert "width" in checks[0].metadata["problems"].value
    assert OPEN_DATA not in {e.asset_key for e in result.get_asset_materialization_events()}
    after = (home / "open_data").resolve()
    assert after == before
    assert {p.name: p.read_bytes() for p in after.iterdir()} == before_bytes
    assert [p.name for p in (home / "open_data.generations").iterdir()] == [before.name]
