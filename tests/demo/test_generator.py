"""Tests of the demo-data generator: determinism, file formats, and the ground truth.

The truth is re-derived here from the written files (an independent path from the generator's
in-memory arrays), so a mismatch means the files and the truth disagree.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path

import pytest

from ingestion.demo import generate
from ingestion.demo.generator import (
    CONTACT_TYPES,
    DATEV_COLUMNS_FILE,
    DEPARTMENTS,
    DOMAINS,
    END_REASONS,
    GENDERS,
    HEADERS,
    PROGRAMS,
    REFERRALS,
)

EXPORT_DATE = date(2025, 12, 31)
PLANNED_OR_REFERRAL = set(END_REASONS[:4])
DROPOUT = END_REASONS[4]
DEPT_CODES = [d.code for d in DEPARTMENTS]


def _run(root: Path, seed: int, scale: float) -> tuple[Path, Path, dict[str, int]]:
    """All departments as the demo vendor's CSV: these tests read the CSV dialect itself."""
    inbox, truth = root / "inbox", root / "truth"
    counts = generate(inbox, truth, seed=seed, scale=scale, excel_department=None)
    return inbox, truth, counts


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, int]]:
    return _run(tmp_path_factory.mktemp("small"), 42, 0.1)


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, int]]:
    return _run(tmp_path_factory.mktemp("full"), 42, 1.0)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def _read(path: Path, encoding: str = "cp1252", delimiter: str = ";") -> list[dict[str, str]]:
    text = path.read_bytes().decode(encoding)
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))


def _entity(inbox: Path, name: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for dept in DEPT_CODES:
        for row in _read(inbox / "case_management" / "swm" / dept / f"{name}.csv"):
            rows.append({**row, "_dept": dept})
    return rows


def _d(text: str) -> date:
    return datetime.strptime(text, "%d.%m.%Y").date()


def _datev_rows(inbox: Path) -> list[tuple[int, list[str]]]:
    out: list[tuple[int, list[str]]] = []
    for year in (2023, 2024, 2025):
        path = inbox / "accounting" / "swm" / f"EXTF_Buchungsstapel_{year}.csv"
        lines = list(csv.reader(io.StringIO(path.read_bytes().decode("cp1252"), newline=""),
                                delimiter=";"))
        out.extend((year, r) for r in lines[2:])
    return out


def _cents(text: str) -> int:
    euros, _, frac = text.partition(",")
    return int(euros) * 100 + int((frac + "00")[:2])




def test_same_seed_same_bytes(small: tuple[Path, Path, dict[str, int]], tmp_path: Path) -> None:
    inbox, truth, _ = small
    again_inbox, again_truth, _ = _run(tmp_path, 42, 0.1)
    assert _files(again_inbox) == _files(inbox)
    assert _files(again_truth) == _files(truth)


def test_other_seed_other_data(small: tuple[Path, Path, dict[str, int]], tmp_path: Path) -> None:
    inbox, _, _ = small
    other_inbox, _, _ = _run(tmp_path, 7, 0.1)
    a, b = _files(inbox), _files(other_inbox)
    assert a.keys() == b.keys()
    assert a["case_management/swm/SB/kontakte.csv"] != b["case_management/swm/SB/kontakte.csv"]
    assert a["reference/swm/programs.csv"] == b["reference/swm/programs.csv"]


def test_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate(tmp_path / "i", tmp_path / "t", scale=0)
    with pytest.raises(ValueError):
        generate(tmp_path / "i", tmp_path / "t", seed=-1)




@pytest.mark.parametrize("entity", list(HEADERS))
def test_case_files_dialect(full: tuple[Path, Path, dict[str, int]], entity: str) -> None:
    inbox, _, _ = full
    for dept in DEPT_CODES:
        raw = (inbox / "case_management" / "swm" / dept / f"{entity}.csv").read_bytes()
        text = raw.decode("cp1252")
        assert text.split("\r\n", 1)[0] == ";".join(HEADERS[entity])
        assert raw.endswith(b"\r\n")
        # Every record ends in CRLF; a bare LF occurs only inside a quoted note.
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
        assert all(len(r) == len(HEADERS[entity]) for r in records)
        if entity in ("klienten", "kontakte"):
            assert re.search("[äöüÄÖÜß]", text)
            with pytest.raises(UnicodeDecodeError):
                raw.decode("utf-8")  # really Windows-1252, not UTF-8


def test_clients(full: tuple[Path, Path, dict[str, int]]) -> None:
    inbox, _, _ = full
    clients = _entity(inbox, "klienten")
    numbers = [c["Klient-Nr"] for c in clients]
    assert len(set(numbers)) == len(numbers)
    assert all(re.fullmatch(r"K-\d{6}", n) for n in numbers)
    assert {c["Geschlecht"] for c in clients} == set(GENDERS)
    assert all(re.fullmatch(r"\d{5}", c["PLZ"]) for c in clients)
    assert any(c["PLZ"].startswith("0") for c in clients)
    assert Counter(c["PLZ"][:3] for c in clients).most_common(1)[0][1] > len(clients) / 5
    emails = [c["E-Mail"] for c in clients if c["E-Mail"]]
    assert len(set(emails)) == len(emails)
    assert all(re.fullmatch(r"[a-z.\-]+\d+@example\.(org|com|net)", e) for e in emails)
    assert all(re.fullmatch(r"0\d{3,5} \d{6,8}", c["Telefon"]) for c in clients if c["Telefon"])
    assert all(re.fullmatch(r".+ \d{1,3}[ab]?", c["Straße"]) for c in clients)
    young = {p.code for p in PROGRAMS if p.young}
    first_program: dict[str, str] = {}
    for case in _entity(inbox, "faelle"):
        first_program.setdefault(case["Klient-Nr"], case["Programm"])
    for c in clients:
        year = _d(c["Geburtsdatum"]).year
        if first_program[c["Klient-Nr"]] in young:
            assert 2005 <= year <= 2018
        else:
            assert 1940 <= year <= 2005


def test_cases(full: tuple[Path, Path, dict[str, int]]) -> None:
    inbox, _, _ = full
    cases = _entity(inbox, "faelle")
    ids = [c["Fall-Nr"] for c in cases]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"F-\d{7}", i) for i in ids)
    programs_of = {d.code: {p.code for p in d.programs} for d in DEPARTMENTS}
    assert all(c["Programm"] in programs_of[c["_dept"]] for c in cases)
    assert {c["Zuweisung"] for c in cases} <= set(REFERRALS)
    assert {c["Beendigungsgrund"] for c in cases} == set(END_REASONS) | {""}
    open_share = sum(c["Ende"] == "" for c in cases) / len(cases)
    assert 0.15 <= open_share <= 0.25
    per_client: defaultdict[str, list[dict[str, str]]] = defaultdict(list)
    for c in cases:
        assert (c["Ende"] == "") == (c["Beendigungsgrund"] == "")
        assert date(2023, 1, 1) <= _d(c["Beginn"]) <= date(2025, 11, 30)
        if c["Ende"]:
            assert _d(c["Beginn"]) <= _d(c["Ende"]) <= EXPORT_DATE
        assert re.fullmatch(r"MA-\d{3}", c["Fachkraft-Nr"])
        per_client[c["Klient-Nr"]].append(c)
    two = [v for v in per_client.values() if len(v) == 2]
    assert 0.15 <= len(two) / len(per_client) <= 0.25
    for first, second in two:  # sequential: the first case is over before the second starts
        assert first["Ende"] and _d(first["Ende"]) < _d(second["Beginn"])


def test_contacts_goals_assessments(full: tuple[Path, Path, dict[str, int]]) -> None:
    inbox, _, _ = full
    cases = {c["Fall-Nr"]: c for c in _entity(inbox, "faelle")}
    contacts = _entity(inbox, "kontakte")
    assert len({k["Kontakt-Nr"] for k in contacts}) == len(contacts)
    per_case = Counter(k["Fall-Nr"] for k in contacts)
    assert set(per_case) == set(cases) and min(per_case.values()) >= 1
    assert max(per_case.values()) <= 40
    for k in contacts:
        case = cases[k["Fall-Nr"]]
        end = _d(case["Ende"]) if case["Ende"] else EXPORT_DATE
        assert _d(case["Beginn"]) <= _d(k["Datum"]) <= end
        assert k["Art"] in CONTACT_TYPES and 10 <= int(k["Dauer (Min.)"]) <= 180
    notes = [k["Notiz"] for k in contacts]
    assert any(";" in n for n in notes) and any("\n" in n for n in notes)
    assert any('"' in n for n in notes) and any("Frau " in n for n in notes)
    group_share = Counter(cases[k["Fall-Nr"]]["Programm"] for k in contacts if k["Art"] == "Gruppe")
    assert group_share.most_common(1)[0][0] == "AJH-SGA"

    goals = _entity(inbox, "ziele")
    per_case_goals = Counter(g["Fall-Nr"] for g in goals)
    assert set(per_case_goals.values()) <= {1, 2, 3, 4}
    by_reason: defaultdict[str, list[int]] = defaultdict(list)
    for g in goals:
        case = cases[g["Fall-Nr"]]
        assert g["Lebensbereich"] in DOMAINS and g["Skala"] == "GAS" and g["Zielwert"] == "0"
        assert g["Ausgangswert"] in ("-2", "-1") and g["Gewicht"] in ("1", "2", "3")
        if case["Ende"] == "":
            assert g["Ergebnis"] == ""
        elif g["Ergebnis"]:
            by_reason[case["Beendigungsgrund"]].append(int(g["Ergebnis"]))
    assert all(-2 <= v <= 2 for vs in by_reason.values() for v in vs)
    dropouts = by_reason["Abbruch durch Klient/in"]
    assert sum(v <= -1 for v in dropouts) / len(dropouts) > 0.8
    regular = by_reason["regulär beendet"]
    assert sum(regular) / len(regular) > sum(dropouts) / len(dropouts) + 1

    assessments = _entity(inbox, "einschaetzungen")
    for a in assessments:
        assert re.fullmatch(r"(10|[1-9]),[05]", a["Wert"]) and a["Wert"] != "10,5"
        assert a["Skala min"] == "1" and a["Skala max"] == "10"
        assert a["Zeitpunkt"] != "Abschluss" or cases[a["Fall-Nr"]]["Ende"]
    closed = {i for i, c in cases.items() if c["Ende"]}
    with_exit = {a["Fall-Nr"] for a in assessments if a["Zeitpunkt"] == "Abschluss"}
    assert 0.75 <= len(with_exit) / len(closed) <= 0.95
    assert {a["Fall-Nr"] for a in assessments if a["Zeitpunkt"] == "Aufnahme"} == set(cases)


def test_datev_files(full: tuple[Path, Path, dict[str, int]]) -> None:
    inbox, _, _ = full
    with DATEV_COLUMNS_FILE.open(encoding="utf-8") as fh:
        catalogue = list(csv.DictReader(fh))
    stripped = total = 0
    for year in (2023, 2024, 2025):
        raw = (inbox / "accounting" / "swm" / f"EXTF_Buchungsstapel_{year}.csv").read_bytes()
        lines = raw.decode("cp1252").split("\r\n")
        header = lines[0].split(";")
        assert len(header) == 31
        assert header[:5] == ['"EXTF"', "700", "21", '"Buchungsstapel"', "13"]
        assert header[12] == header[14] == f"{year}0101" and header[15] == f"{year}1231"
        assert header[21] == '"EUR"' and header[26] == '"04"'
        headings = lines[1].split(";")
        assert len(headings) == 125
        assert headings == [c["label_alias"] or c["label"] for c in catalogue]
        rows = list(csv.reader(io.StringIO("\r\n".join(lines[2:]), newline=""), delimiter=";"))
        rows = [r for r in rows if r]
        assert rows and all(len(r) == 125 for r in rows)
        for r in rows:
            assert re.fullmatch(r"\d+(,\d?[1-9])?", r[0])  # 4210,5 - no trailing zeros
            assert r[1] in ("S", "H") and r[2] == "EUR" and r[7] == "1800"
            assert re.fullmatch(r"\d{3,4}", r[9])
            stripped += len(r[9]) == 3
            total += 1
            assert r[36] in {p.cost_centre for p in PROGRAMS}
            assert (r[1] == "S") == r[6].startswith("6")
            assert all(v == "" for i, v in enumerate(r) if i not in (0, 1, 2, 6, 7, 9, 10, 13, 36))
    assert 0.05 <= stripped / total <= 0.15  # about 10 % written as DMM (503)


def test_reference_files(full: tuple[Path, Path, dict[str, int]]) -> None:
    inbox, _, _ = full
    ref = inbox / "reference" / "swm"
    departments = _read(ref / "departments.csv", "utf-8", ",")
    assert [d["department_code"] for d in departments] == DEPT_CODES
    assert {d["department_code"] for d in departments if d["is_pilot"] == "true"} == {"SB", "SUB"}
    programs = _read(ref / "programs.csv", "utf-8", ",")
    assert [p["program_code"] for p in programs] == [p.code for p in PROGRAMS]
    centres = _read(ref / "cost_centres.csv", "utf-8", ",")
    assert {c["cost_centre"]: c["program_code"] for c in centres} == {
        p.cost_centre: p.code for p in PROGRAMS}
    assert all(c["kost_field"] == "KOST1" for c in centres)
    accounts = _read(ref / "accounts.csv", "utf-8", ",")
    assert {(a["account_from"], a["category"]) for a in accounts} >= {
        ("6000", "personnel"), ("4300", "grants"), ("4900", "donations")}




def test_counts(full: tuple[Path, Path, dict[str, int]]) -> None:
    inbox, truth, counts = full
    recorded = json.loads((truth / "counts.json").read_text(encoding="utf-8"))
    assert recorded["total"] == counts
    for entity, name in (("clients", "klienten"), ("cases", "faelle"), ("contacts", "kontakte"),
                         ("goals", "ziele"), ("assessments", "einschaetzungen")):
        for dept in DEPT_CODES:
            rows = _read(inbox / "case_management" / "swm" / dept / f"{name}.csv")
            assert recorded["by_department"][dept][entity] == len(rows)
    assert counts["bookings"] == len(_datev_rows(inbox))
    assert 1900 <= counts["clients"] <= 2100


Figures = defaultdict[tuple[str, int], Counter[str]]


def _contact_figures(inbox: Path, cases: dict[str, dict[str, str]], expect: Figures
                     ) -> defaultdict[tuple[str, int], set[str]]:
    """Cases closed, started and accepted and contacts per (program, year) into ``expect``; the
    clients reached."""
    reached: defaultdict[tuple[str, int], set[str]] = defaultdict(set)
    contact_dates: defaultdict[str, list[date]] = defaultdict(list)
    for k in _entity(inbox, "kontakte"):
        case = cases[k["Fall-Nr"]]
        key = (case["Programm"], _d(k["Datum"]).year)
        expect[key]["contacts"] += 1
        expect[key]["contact_minutes"] += int(k["Dauer (Min.)"])
        reached[key].add(case["Klient-Nr"])
        contact_dates[k["Fall-Nr"]].append(_d(k["Datum"]))
    for case_no, c in cases.items():
        if c["Ende"]:
            key = (c["Programm"], _d(c["Ende"]).year)
            expect[key]["cases_closed"] += 1
            expect[key]["planned_ends"] += c["Beendigungsgrund"] in PLANNED_OR_REFERRAL
        # Acceptance: a second contact, not after a dropout ended the case (open cases too).
        key = (c["Programm"], _d(c["Beginn"]).year)
        expect[key]["cases_started"] += 1
        dates = sorted(contact_dates[case_no])
        dropout_before = (c["Beendigungsgrund"] == DROPOUT and len(dates) >= 2
                          and _d(c["Ende"]) < dates[1])
        expect[key]["cases_accepted"] += len(dates) >= 2 and not dropout_before
    return reached


def _goal_figures(inbox: Path, cases: dict[str, dict[str, str]], expect: Figures
                  ) -> defaultdict[tuple[str, int], list[float]]:
    """Goals rated and achieved into ``expect``; the GAS T-scores of closed cases."""
    gas: defaultdict[str, list[tuple[int, int]]] = defaultdict(list)
    for g in _entity(inbox, "ziele"):
        case = cases[g["Fall-Nr"]]
        if case["Ende"] and g["Ergebnis"]:
            key = (case["Programm"], _d(case["Ende"]).year)
            expect[key]["goals_rated"] += 1
            expect[key]["goals_achieved"] += int(g["Ergebnis"]) >= 0
            gas[g["Fall-Nr"]].append((int(g["Gewicht"]), int(g["Ergebnis"])))
    gas_t: defaultdict[tuple[str, int], list[float]] = defaultdict(list)
    for case_id, goals in gas.items():  # GAS T-score, rho = 0.3
        sw, sw2 = sum(w for w, _ in goals), sum(w * w for w, _ in goals)
        swx = sum(w * x for w, x in goals)
        case = cases[case_id]
        gas_t[(case["Programm"], _d(case["Ende"]).year)].append(
            50 + 10 * swx / (0.7 * sw2 + 0.3 * sw * sw) ** 0.5)
    return gas_t


def _assessment_and_booking_figures(inbox: Path, cases: dict[str, dict[str, str]],
                                    expect: Figures) -> None:
    """Assessed and improved pairs, costs and revenues into ``expect``."""
    scores: defaultdict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for a in _entity(inbox, "einschaetzungen"):
        scores[(a["Fall-Nr"], a["Dimension"])][a["Zeitpunkt"]] = float(a["Wert"].replace(",", "."))
    for (case_id, _), s in scores.items():
        case = cases[case_id]
        if case["Ende"] and "Aufnahme" in s and "Abschluss" in s:
            key = (case["Programm"], _d(case["Ende"]).year)
            expect[key]["assessed_pairs"] += 1
            expect[key]["improved_pairs"] += s["Abschluss"] - s["Aufnahme"] >= 1
    cost_centre = {p.cost_centre: p.code for p in PROGRAMS}
    for year, r in _datev_rows(inbox):
        key = (cost_centre[r[36]], year)
        if r[1] == "S" and 6000 <= int(r[6]) <= 6999:
            expect[key]["costs_cents"] += _cents(r[0])
        if r[1] == "H" and 4000 <= int(r[6]) <= 4999:
            expect[key]["revenues_cents"] += _cents(r[0])


def _assert_rates_consistent(row: dict[str, str], costs_cents: int) -> None:
    """The truth's derived figures agree with its own counts."""
    assert int(row["planned_ends"]) <= int(row["cases_closed"])
    assert int(row["goals_achieved"]) <= int(row["goals_rated"])
    assert int(row["improved_pairs"]) <= int(row["assessed_pairs"])
    if int(row["cases_closed"]):
        rate = int(row["planned_ends"]) / int(row["cases_closed"])
        assert float(row["planned_end_rate"]) == pytest.approx(rate, abs=1e-6)
    if int(row["clients_reached"]):
        per_client = costs_cents / 100 / int(row["clients_reached"])
        assert float(row["cost_per_client"]) == pytest.approx(per_client, abs=0.01)


def test_truth_matches_files(full: tuple[Path, Path, dict[str, int]]) -> None:
    inbox, truth_dir, _ = full
    truth = {(r["program_code"], int(r["year"])): r
             for r in _read(truth_dir / "by_program_year.csv", "utf-8", ",")}
    assert len(truth) == len(PROGRAMS) * 3
    cases = {c["Fall-Nr"]: c for c in _entity(inbox, "faelle")}
    expect: Figures = defaultdict(Counter)
    reached = _contact_figures(inbox, cases, expect)
    gas_t = _goal_figures(inbox, cases, expect)
    _assessment_and_booking_figures(inbox, cases, expect)

    for key, row in truth.items():
        want = expect[key]
        for col in ("cases_closed", "planned_ends", "goals_rated", "goals_achieved",
                    "assessed_pairs", "improved_pairs", "contacts", "contact_minutes",
                    "cases_started", "cases_accepted"):
            assert int(row[col]) == want[col], (key, col)
        assert int(row["clients_reached"]) == len(reached[key]), key
        assert _cents(row["costs_eur"].replace(".", ",")) == want["costs_cents"], key
        assert _cents(row["revenues_eur"].replace(".", ",")) == want["revenues_cents"], key
        assert int(row["cases_gas"]) == len(gas_t[key]), key
        if gas_t[key]:
            mean_t = sum(gas_t[key]) / len(gas_t[key])
            assert float(row["mean_gas_t"]) == pytest.approx(mean_t, abs=1e-6), key
        _assert_rates_consistent(row, want["costs_cents"])
        assert want["costs_cents"] > 0 and want["revenues_cents"] > 0
    contacts_total = sum(int(r["contacts"]) for r in truth.values())
    assert contacts_total == len(_entity(inbox, "kontakte"))


def test_planted_pii(full: tuple[Path, Path, dict[str, int]]) -> None:
    inbox, truth, _ = full
    pii = json.loads((truth / "planted_pii.json").read_text(encoding="utf-8"))
    sets = {k: set(v) for k, v in pii.items()}
    clients = _entity(inbox, "klienten")
    for c in clients:
        assert f"{c['Vorname']} {c['Nachname']}" in sets["full_names"]
        assert c["Straße"] in sets["streets"] and c["Klient-Nr"] in sets["client_numbers"]
        assert c["Geburtsdatum"] in sets["birth_dates"]
        assert _d(c["Geburtsdatum"]).isoformat() in sets["birth_dates_iso"]
        assert not c["Telefon"] or c["Telefon"] in sets["phones"]
        assert not c["E-Mail"] or c["E-Mail"] in sets["emails"]
    assert {c["Fachkraft-Nr"] for c in _entity(inbox, "faelle")} == sets["caseworker_numbers"]
    contacts = _entity(inbox, "kontakte")
    assert {k["Mitarbeiter-Nr"] for k in contacts} == sets["staff_numbers"]
    assert {k["Notiz"] for k in contacts if k["Notiz"]} == sets["notes"]
    assert "" not in set().union(*sets.values())
    # Reference data and bookings are loaded as they are, so no planted value may occur there
    # (e.g. a data steward whose name is also a client's).
    booking_texts = {r[i] for _, r in _datev_rows(inbox) for i in (10, 13)}
    loaded = "\n".join(
        [p.read_text(encoding="utf-8") for p in (inbox / "reference").rglob("*.csv")]
        + sorted(booking_texts))
    for kind, values in sets.items():
        assert not [v for v in values if v in loaded], kind


def test_scale_is_roughly_linear(small: tuple[Path, Path, dict[str, int]],
                                 full: tuple[Path, Path, dict[str, int]]) -> None:
    _, _, tenth = small
    _, _, one = full
    assert tenth["clients"] == 200 and one["clients"] == 2000
    for entity in ("cases", "contacts", "goals", "assessments"):
        assert 0.07 <= tenth[entity] / one[entity] <= 0.13, entity


def test_excel_department_is_deterministic_and_reads_as_the_same_rows(tmp_path: Path) -> None:
    """The second vendor's workbooks hold exactly the rows of the CSV they replace."""
    import pandas as pd

    csv_inbox, _, _ = _run(tmp_path / "csv", 3, 0.1)
    a = tmp_path / "a"
    b = tmp_path / "b"
    generate(a / "inbox", a / "truth", seed=3, scale=0.1)
    generate(b / "inbox", b / "truth", seed=3, scale=0.1)
    assert _files(a / "inbox") == _files(b / "inbox")
    ajh = a / "inbox" / "case_management" / "swm" / "AJH"
    assert sorted(p.name for p in ajh.iterdir()) == [
        "Bewertungen.xlsx", "Hilfen.xlsx", "Kontakte.xlsx", "Personen.xlsx", "Ziele.xlsx"]
    workbook = pd.read_excel(ajh / "Kontakte.xlsx", dtype=str)
    original = pd.read_csv(csv_inbox / "case_management" / "swm" / "AJH" / "kontakte.csv",
                           sep=";", encoding="cp1252", dtype=str)
    assert workbook["Kontakt-ID"].tolist() == original["Kontakt-Nr"].tolist()
    kinds = {"Büro", "Telefon", "Video", "Hausbesuch", "Gruppenangebot"}
    assert set(workbook["Kontaktart"]) <= kinds
