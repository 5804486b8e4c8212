"""The impact report a department head and the board read, opened in Chromium after a real
pipeline run: it loads with no request leaving the machine, every chart is drawn (checked on a
screenshot, kept under the test's tmp folder), and its figures are the published marts'."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import duckdb
import numpy as np
import pytest

from tests.browser.conftest import CHROMIUM
from tests.conftest import PipelineRun
from warehouse import report_suppression as rsup
from warehouse import settings

DEPARTMENT = "SB"
ORGANISATION = "swm"


def png_pixels(data: bytes) -> np.ndarray:
    """RGBA pixels of a PNG as Chromium writes it (8-bit RGB or RGBA, not interlaced)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    assert header is not None
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    channels = 4 if colour == 6 else 3
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8)
    stride = width * channels
    rows = raw.reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.int32)
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:].astype(np.int32)
        above = out[y - 1] if y else np.zeros(stride, dtype=np.int32)
        if kind == 0:
            out[y] = line
        elif kind == 2:
            out[y] = (line + above) % 256
        else:  # Sub, Average, Paeth depend on the pixel to the left: go pixel by pixel
            current = np.zeros(stride, dtype=np.int32)
            for x in range(stride):
                left = current[x - channels] if x >= channels else 0
                up = above[x]
                upleft = above[x - channels] if x >= channels and y else 0
                if kind == 1:
                    predictor = left
                elif kind == 3:
                    predictor = (left + up) // 2
                else:
                    p = left + up - upleft
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - upleft)
                    predictor = left if pa <= pb and pa <= pc else (up if pb <= pc else upleft)
                current[x] = (line[x] + predictor) % 256
            out[y] = current
    return out.reshape(height, width, channels)


def published(run: PipelineRun, sql: str, params: list[object]) -> list[tuple]:
    with duckdb.connect(str(run.home / "published" / "marts.duckdb"), read_only=True) as con:
        return con.execute(sql, params).fetchall()


def protection_of(run: PipelineRun) -> rsup.Protection:
    marts = run.home / "published" / "marts.duckdb"
    with duckdb.connect(str(marts), read_only=True) as con:
        return rsup.protect(con, marts)


def german(value: float, decimals: int = 0) -> str:
    text = f"{value:,.{decimals}f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


@pytest.fixture(scope="module")
def report(first_run: PipelineRun) -> Path:
    latest = first_run.home / "reports" / "swm" / DEPARTMENT / "latest"
    assert (latest / "wirkungsbericht.html").is_file(), sorted(
        p.name for p in (first_run.home / "reports").rglob("*"))
    return latest


def test_report_renders_offline_with_the_marts_figures(
    first_run: PipelineRun, report: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    outside: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1100, "height": 1400})

        def only_local(route) -> None:  # type: ignore[no-untyped-def]
            if route.request.url.startswith("file://"):
                route.continue_()
            else:
                outside.append(route.request.url)
                route.abort()

        context.route("**/*", only_local)
        page = context.new_page()
        page.goto((report / "wirkungsbericht.html").as_uri())
        page.wait_for_load_state("networkidle")
        assert outside == [], outside
        assert page.locator("script").count() == 0
        assert page.locator("link[rel=stylesheet], img[src^=http]").count() == 0

        figures = page.locator("figure[data-chart]")
        assert figures.count() >= 9
        for i in range(figures.count()):
            figure = figures.nth(i)
            name = figure.get_attribute("data-chart")
            chart = figure.locator(".chart svg")
            assert chart.count() == 1, name
            shot = tmp_path / f"chart-{name}.png"
            chart.screenshot(path=str(shot))
            pixels = png_pixels(shot.read_bytes())[:, :, :3]
            inked = (pixels.sum(axis=2) < 600).mean()  # anything clearly darker than white
            colours = len(np.unique(pixels.reshape(-1, 3), axis=0))
            assert inked > 0.01 and colours > 8, (name, inked, colours)
        page.screenshot(path=str(tmp_path / "wirkungsbericht.png"), full_page=True)

        year = int(page.locator("h1").inner_text().split()[-1])
        program, clients, closed, planned, costs = published(first_run, """
            select program_code, n_clients_reached, n_cases_closed, n_planned_ends, costs_eur
            from mart_impact where department_code = ? and year = ?
              and n_clients_reached >= ? and n_planned_ends >= ?
              and n_cases_closed - n_planned_ends >= ?
            order by program_code limit 1""",
            [DEPARTMENT, year, *[settings.SUPPRESSION_THRESHOLD] * 3])[0]
        # "." where the secondary suppression hides it (a department's small program hides
        # its other one too)
        protection = protection_of(first_run)
        unit = (ORGANISATION, DEPARTMENT, program)

        def hidden(family: str, *sides: str) -> bool:
            return protection.hides(
                protection.key(family, year, unit, **({"end_reason_category": s} if s else {}))
                for s in sides)

        def cell(measure: str, row_key: str) -> str:
            row = page.locator(f'table[data-measure="{measure}"] tr[{row_key}$="({program})"]')
            return row.locator(f'td[data-column="{year}"]').inner_text()

        assert cell("clients_reached", "data-program") == (
            "." if hidden("clients_reached", "") else german(clients))
        assert cell("planned_end_rate", "data-program") == (
            "." if hidden(rsup.CLOSED, "", "planned_end", rsup.NOT_PLANNED)
            else german(100 * planned / closed, 1) + " %")
        assert cell("cost_per_planned_end", "data-program") == (
            "." if hidden(rsup.CLOSED, "planned_end") else german(float(costs) / planned, 2) + " €")
        notice = page.locator("#suppression").inner_text()
        assert f"unter {settings.SUPPRESSION_THRESHOLD}" in notice
        browser.close()

    pdf = report / "wirkungsbericht.pdf"
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 20_000


def pdf_pages(data: bytes) -> int:
    return data.count(b"/Type /Page\n")  # Skia writes each page object so ("/Pages" is not one)


def undated(data: bytes) -> bytes:
    """The PDF's objects without its printing time: the dates removed, and the cross-reference
    table and trailer after the objects left out, since they hold byte offsets that move when
    the two dates are not written alike (seen once in a full suite: the first byte that differed
    was one of those offsets)."""
    data = re.sub(rb"/(CreationDate|ModDate) \(D:[^)]*\)", b"", data)
    return data.rsplit(b"\nxref\n", 1)[0]


def test_pdf_of_the_shared_browser_is_chromiums_print_to_pdf(
    first_run: PipelineRun, report: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run printed its PDFs with one Chromium for all reports (``warehouse.pdf.Printer``).
    Printed so, a report is byte for byte the PDF of Chromium's own ``--print-to-pdf`` (one
    process per report, as before) but for the printing time: the same paper (A4 and margins
    from the template's @page), backgrounds, no header or footer line, pages and text."""
    from warehouse import pdf as printing

    monkeypatch.setenv("DATENWERK_CHROMIUM", CHROMIUM)  # the session prints none but the run's
    html = report / "wirkungsbericht.html"
    assert printing.print_pdf(html, tmp_path / "one_process.pdf")
    with printing.Printer() as printer:
        assert printer.print(html, tmp_path / "shared.pdf")
    one_process = (tmp_path / "one_process.pdf").read_bytes()
    shared = (tmp_path / "shared.pdf").read_bytes()

    assert pdf_pages(one_process) >= 2
    assert undated(shared) == undated(one_process)
    # the run's own, printed in the report's temporary folder (the links' targets differ)
    assert pdf_pages((report / "wirkungsbericht.pdf").read_bytes()) == pdf_pages(one_process)


def test_organisation_report_and_export_manifest_link(first_run: PipelineRun) -> None:
    import json

    reports = first_run.home / "reports" / "swm"
    assert (reports / "_organisation" / "latest" / "wirkungsbericht.pdf").is_file()
    departments = {r[0] for r in published(first_run, "select department_code from "
                                                      "dim_department", [])}
    assert departments <= {p.name for p in reports.iterdir()}
    manifest = json.loads((first_run.home / "exports" / DEPARTMENT / "latest" /
                           "manifest.json").read_text())
    assert (first_run.home / manifest["impact_report"]).is_file()
    # each program of the department also on its own, linked from the department's report
    latest = reports / DEPARTMENT / "latest"
    programs = {r[0] for r in published(first_run, "select program_code from dim_program "
                                                   "where department_code = ?", [DEPARTMENT])}
    files = json.loads((latest / "manifest.json").read_text())["files"]
    department_page = (latest / "wirkungsbericht.html").read_text(encoding="utf-8")
    for program in programs:
        name = f"wirkungsbericht_angebot_{program}.html"
        assert name in files and f'href="{name}"' in department_page
        page = (latest / name).read_text(encoding="utf-8")
        assert f"({program})" in page and "<script" not in page
