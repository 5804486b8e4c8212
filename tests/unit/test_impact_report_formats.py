"""German formats and suppression of the impact reports' figures."""

from __future__ import annotations

import datetime as dt

from warehouse import reports, settings


def test_german_formats() -> None:
    assert reports.count(1234).text == "1.234"
    assert reports.rate(69, 100).text == "69,0 %"
    assert reports.money(1234.56).text == "1.234,56 €"
    assert reports.money(-1234567.891).text == "-1.234.567,89 €"
    assert reports.german_date(dt.date(2025, 12, 31)) == "31.12.2025"


def test_small_n_is_suppressed_and_empty_is_a_dash() -> None:
    small = settings.SUPPRESSION_THRESHOLD - 1
    assert reports.count(small).text == "." and reports.count(small).shown is None
    assert reports.rate(1, small).text == "." and reports.rate(1, small).n_text == "."
    assert reports.count(0).text == "0"  # zero describes an empty cell: shown, as in open data
    assert reports.rate(0, 0).text == "–"
    enough = reports.rate(settings.SUPPRESSION_THRESHOLD, 2 * settings.SUPPRESSION_THRESHOLD)
    assert enough.shown == 0.5 and enough.n_text == "10"
    assert reports.per(1000, 0).text == "–"  # nothing achieved: no division by zero
    assert reports.per(1000, small).text == "."  # cost per few outcomes points at few people
    assert reports.per(1000, settings.SUPPRESSION_THRESHOLD).text == "200,00 €"


def test_a_rate_that_would_reveal_a_few_people_is_suppressed() -> None:
    """40 % of 5 are 2 people, as a count they would be '.' (and the cost per planned end of
    the same 2 is): the rate is too. So is 90 % of 10 (1 person without) and 1 of 7."""
    threshold = settings.SUPPRESSION_THRESHOLD
    assert reports.per(1000, 2).text == "."
    for part, n in ((2, 5), (1, 7), (threshold - 1, 3 * threshold), (9, 10),
                    (3 * threshold - 1, 3 * threshold)):
        value = reports.rate(part, n)
        assert value.text == "." and value.shown is None, (part, n)
    for part, n in ((0, 8), (8, 8), (threshold, 2 * threshold), (6, 12)):
        assert reports.rate(part, n).shown == part / n, (part, n)


def test_every_program_has_its_own_report_file() -> None:
    """Codes may hold '.', '_' and '-': 'SB.A' and 'SB_A' are two programs, two reports."""
    codes = ["SB.A", "SB_A", "SB-A", "SB/A", "SB A", "Süd.1"]
    names = [reports.program_file(c) for c in codes]
    assert len(set(names)) == len(codes), names
    assert reports.program_file("SB-ALLG") == "wirkungsbericht_angebot_SB-ALLG.html"
    assert all("/" not in n and not n.startswith(".") for n in names)
