"""The impact report a department head and the board read, opened in Chromium after a real
pipeline run: it loads with no request leaving the machine, every chart is drawn (checked on a
screenshot, kept under the test's tmp folder), and its figures are the published marts'."""

from __future__ import annotations

import logging
import re
import struct
import zlib
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

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
    first_run: PipelineRun, report: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The run printed its PDFs with one Chromium for all reports (``warehouse.pdf.Printer``).
    Printed so, a report is byte for byte the PDF of Chromium's own ``--print-to-pdf`` (one
    process per report, as before) but for the printing time: the same paper (A4 and margins
    from the template's @page), backgrounds, no header or footer line, pages, text and links
    (relative to the PDF's folder, whichever folder it was printed in). A page whose link leads
    to no file gives no PDF, and a warning naming the link."""
    import shutil

    from warehouse import pdf as printing

    monkeypatch.setenv("DATENWERK_CHROMIUM", CHROMIUM)  # the session prints none but the run's
    copy = tmp_path / "copy"  # the published folder elsewhere: its links must still lead there
    shutil.copytree(report, copy)
    html = copy / "wirkungsbericht.html"
    assert printing.print_pdf(html, copy / "one_process.pdf")
    with printing.Printer() as printer:
        assert printer.print(html, copy / "shared.pdf")
        alone = tmp_path / "alone"
        alone.mkdir()
        shutil.copy(html, alone)
        with caplog.at_level(logging.WARNING, logger=printing.__name__):
            assert not printer.print(alone / html.name, alone / "alone.pdf", "swm/SB alone")
    one_process = (copy / "one_process.pdf").read_bytes()
    shared = (copy / "shared.pdf").read_bytes()

    assert pdf_pages(one_process) >= 2
    assert undated(shared) == undated(one_process)
    # the run's own, printed in the report's temporary folder
    assert undated((report / "wirkungsbericht.pdf").read_bytes()) == undated(one_process)
    assert not (alone / "alone.pdf").exists()
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warned) == 1 and "swm/SB alone" in warned[0], warned
    assert "wirkungsbericht_angebot_" in warned[0] and "no file" in warned[0], warned


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


def pdf_objects(data: bytes) -> dict[int, bytes]:
    """Each object's dictionary, its stream left out, found through the cross-reference table
    as Skia writes it (one section of 20-byte entries, no object streams)."""
    assert b"/ObjStm" not in data and b"/XRefStm" not in data
    start = int(re.findall(rb"startxref\s+(\d+)", data)[-1])
    section = re.compile(rb"xref\s+0 (\d+)\s*?\n").match(data, start)
    assert section is not None, data[start:start + 40]
    objects = {}
    for number in range(1, int(section[1])):
        offset, _, kind = data[section.end() + 20 * number:section.end() + 20 * number + 20].split()
        if kind != b"n":
            continue
        header = re.compile(rb"(\d+) 0 obj\s*").match(data, int(offset))
        assert header is not None and int(header[1]) == number, (number, offset)
        end = re.compile(rb"stream\r?\n|endobj").search(data, header.end())
        assert end is not None
        objects[number] = data[header.end():end.start()]
    return objects


def pdf_string(literal: bytes) -> str:
    """A PDF literal string's text (without its parentheses)."""
    escapes = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}
    text = re.sub(rb"\\([0-7]{1,3}|.)",
                  lambda m: bytes([int(m[1], 8)]) if m[1][:1].isdigit()
                  else escapes.get(m[1], m[1]), literal, flags=re.S)
    return text.decode("latin-1")


def pdf_links(data: bytes) -> tuple[list[tuple[str, str]], set[str]]:
    """Every link annotation of every page, as ("uri", target) or ("dest", name), and the
    document's named destinations."""
    objects = pdf_objects(data)

    def resolved(value: bytes) -> bytes:
        ref = re.fullmatch(rb"\s*(\d+) 0 R\s*", value)
        return objects[int(ref[1])] if ref else value

    links = []
    for body in objects.values():
        annots = re.search(rb"/Type /Page\n.*?/Annots (\[[^\]]*\]|\d+ 0 R)", body, re.S)
        if body.startswith(b"<</Type /Page\n") and annots:
            for ref in re.findall(rb"(\d+) 0 R", resolved(annots[1])):
                annot = objects[int(ref)]
                if b"/Subtype /Link" not in annot:
                    continue
                uri = re.search(rb"/URI \(((?:[^()\\]|\\.)*)\)", annot, re.S)
                dest = re.search(rb"/(?:Dest|D) (/[^\s/<>\[\]()]+|\((?:[^()\\]|\\.)*\))", annot)
                assert uri or dest, annot  # a link of another kind: teach this parser
                links.append(("uri", pdf_string(uri[1])) if uri else
                             ("dest", dest[1].decode("latin-1").strip("/()")))
    # no link annotation outside the pages' lists (one the loop above did not see)
    assert len(links) == sum(b"/Subtype /Link" in body for body in objects.values())
    catalog = next(body for body in objects.values() if body.startswith(b"<</Type /Catalog"))
    dests = re.search(rb"/Dests (\d+ 0 R|<<.*?>>)", catalog, re.S)
    names = set() if dests is None else {
        name.decode("latin-1")
        for name in re.findall(rb"/([^\s/<>\[\]()]+)\s*\[", resolved(dests[1]))}
    assert b"/Names" not in catalog  # destinations in a name tree: teach this parser
    return links, names


class PageLinks(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.targets: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value is not None:
                self.targets.append(value)
            elif name == "id" and value is not None:
                self.ids.add(value)


def html_links(path: Path) -> tuple[list[str], set[str]]:
    parser = PageLinks()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.targets, parser.ids


def followed(published: Path, link: tuple[str, str], destinations: set[str],
             ids: set[str]) -> str | None:
    """Follow one link of ``published`` where the reader opens it (its dated folder, and
    ``latest``); the file it leads to (relative to the folder), None for a link within it or
    to the web."""
    kind, target = link
    where = (published, target)
    if kind == "dest":
        assert target in destinations, where
        return None
    parts = urlsplit(target)
    if parts.scheme in ("http", "https"):
        return None
    assert not parts.scheme and not parts.netloc, where
    assert not parts.path.startswith("/") and ".tmp-" not in parts.path, where
    if not parts.path:  # within this page
        assert parts.fragment in ids, where
        return None
    for base in (published.parent, published.parent.parent / "latest"):
        assert (base / unquote(parts.path)).is_file(), (where, base)
    if parts.fragment:
        assert parts.fragment in html_links(published.parent / unquote(parts.path))[1], where
    return unquote(parts.path)


def test_every_link_in_the_published_reports_leads_somewhere(first_run: PipelineRun) -> None:
    """Every link of every published report (PDF and HTML), opened where it was published, in
    its dated folder and through ``latest``: a link to another file is relative to the file
    and leads to a published file (and to an element of it, for a ``#`` part); a link within a
    PDF leads to one of its named destinations. No link names the folder the report was
    printed in, or any path of the server (a department head clicking a program in the PDF
    got nothing: it led into the temporary folder, renamed when the report was published).
    The department reports, PDF and HTML, link each of their programs' pages."""
    reports = first_run.home / "reports"
    folders = sorted(p for p in reports.glob("*/*/*") if p.is_dir() and p.name != "latest")
    assert folders and all(not p.name.startswith(".") for p in folders), folders
    home = str(first_run.home.resolve()).encode()
    pdfs = 0
    for folder in folders:
        programs = {p.name for p in folder.glob("wirkungsbericht_angebot_*.html")}
        for published in sorted([*folder.glob("*.pdf"), *folder.glob("*.html")]):
            data = published.read_bytes()
            assert home not in data and b"file:" not in data, published
            if published.suffix == ".pdf":
                pdfs += 1
                links, destinations = pdf_links(data)
                ids: set[str] = set()
            else:
                targets, ids = html_links(published)
                links, destinations = [("uri", t) for t in targets], set()
            files = {followed(published, link, destinations, ids) for link in links} - {None}
            if published.stem == "wirkungsbericht":
                assert files == programs, published
    assert pdfs >= 2 and any(folder.glob("wirkungsbericht_angebot_*") for folder in folders)
