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
    enough = reports.rate(3, settings.SUPPRESSION_THRESHOLD)
    assert enough.shown == 3 / settings.SUPPRESSION_THRESHOLD and enough.n_text == "5"
    assert reports.per(1000, 0).text == "–"  # nothing achieved: no division by zero
    assert reports.per(1000, small).text == "."  # cost per few outcomes points at few people
    assert reports.per(1000, settings.SUPPRESSION_THRESHOLD).text == "200,00 €"
