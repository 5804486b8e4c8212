"""The one Chromium that prints every impact report's PDF (``warehouse.pdf.Printer``), killed,
frozen or never answering, on the real reports of a run: the reports come out as before (a
PDF printed one process each, or no PDF and a warning, never a lost report), and no process,
zombie or temporary profile stays behind, also when the step fails while the browser is open.

Every process a test starts carries a marker in its environment (Chromium hands its environment
to its helpers, including the crash handlers that leave its process group), so the test finds
them all in /proc, and only its own on a machine where others run Chromium too."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestration.runs import processes_with_environment, zombie_children
from tests.conftest import PipelineRun, copy_home
from warehouse import pdf, reports

CHROMIUM = "/usr/bin/chromium"
MARKER = "DATENWERK_TEST_PRINTER"


def marked(marker: str) -> list[int]:
    """Processes whose environment carries ``marker`` (zombies have none: see
    ``zombie_children``)."""
    return processes_with_environment(MARKER, marker)


def browser_of(marker: str) -> int:
    """The browser the printer started (our child, driven over the pipe)."""
    for pid in marked(marker):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            parent = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if b"--remote-debugging-pipe" in cmdline and parent == os.getpid():
            return pid
    raise AssertionError("no browser of this test is running")


def left_behind(marker: str) -> list[int]:
    """Marked processes still there after 10 s: a killed browser's crash handlers see it go
    within a second or two; anything later stays."""
    deadline = time.monotonic() + 10
    while (found := marked(marker)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


@pytest.fixture
def printing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Real Chromium for this test's PDFs, its processes marked, temporary files (the printer's
    profiles and Chromium's own) in a folder of the test; (marker, that folder). ``tmp_path``
    is made before, outside it."""
    marker = uuid.uuid4().hex
    # a worker's earlier tests may have left zombies of their own: only new ones are the printer's
    zombies_before = set(zombie_children())
    # short: Chromium's socket in it must fit a Unix socket's path (108 bytes)
    temp = Path(tempfile.mkdtemp(prefix="dw-printer-", dir="/tmp"))
    monkeypatch.setenv("DATENWERK_CHROMIUM", CHROMIUM)
    monkeypatch.setenv(MARKER, marker)
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    yield marker, temp
    shutil.rmtree(temp, ignore_errors=True)
    assert set(zombie_children()) - zombies_before == set()


class KillAfterFirstPdf(logging.Handler):
    """Kills the browser (SIGKILL, as the out-of-memory killer would) as soon as the printer
    says it printed its first page."""

    def __init__(self, marker: str) -> None:
        super().__init__(logging.DEBUG)
        self.marker, self.printed = marker, 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("printed "):
            self.printed += 1
            if self.printed == 1:
                os.kill(browser_of(self.marker), signal.SIGKILL)


@pytest.fixture
def killer(printing: tuple[str, Path],
           caplog: pytest.LogCaptureFixture) -> Iterator[KillAfterFirstPdf]:
    caplog.set_level(logging.DEBUG, logger=pdf.__name__)
    handler = KillAfterFirstPdf(printing[0])
    logging.getLogger(pdf.__name__).addHandler(handler)
    yield handler
    logging.getLogger(pdf.__name__).removeHandler(handler)


def pages(data: bytes) -> int:
    return data.count(b"/Type /Page\n")


def run_pages(home: Path) -> list[Path]:
    """The HTML pages of the run's department reports."""
    found = sorted((home / "reports").glob("*/*/latest/wirkungsbericht.html"))
    assert len(found) >= 3, found
    return found


SCOPES = ["AJH", "MBE", "SB"]


def test_browser_killed_midway_the_reports_after_it_get_their_pdfs(
        small_first_run: PipelineRun, printing: tuple[str, Path], killer: KillAfterFirstPdf,
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    marker, temp = printing
    home = copy_home(small_first_run.home, "printer-killed")
    monkeypatch.setenv("DATENWERK_HOME", str(home))

    results = reports.write_reports(only=SCOPES)

    assert [r.scope.folder for r in results] == SCOPES
    for result in results:  # every report with its PDF, and its manifest says so
        assert result.pdf is not None and result.pdf.is_file(), result.scope.folder
        assert pages(result.pdf.read_bytes()) >= 2, result.scope.folder
        files = json.loads((result.folder / "manifest.json").read_text())["files"]
        assert reports.PDF_NAME in files
    # the browser printed the first; the second found it dead and was printed on its own
    failed = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(failed) == 1 and "failed at swm/MBE" in failed[0], failed
    assert killer.printed == 1
    assert left_behind(marker) == []
    assert list(temp.iterdir()) == []


def test_frozen_browser_is_killed_after_the_page_timeout(
        small_first_run: PipelineRun, printing: tuple[str, Path],
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    marker, temp = printing
    first, second = run_pages(small_first_run.home)[:2]

    with pdf.Printer() as printer:
        assert printer.print(first, tmp_path / "first.pdf", "first")
        os.kill(browser_of(marker), signal.SIGSTOP)  # hangs after the first PDF
        monkeypatch.setattr(pdf, "PAGE_TIMEOUT", 1.0)
        started = time.monotonic()
        assert printer.print(second, tmp_path / "second.pdf", "second")

    assert time.monotonic() - started < 1.0 + 30  # waited the timeout, not the step's patience
    assert pages((tmp_path / "second.pdf").read_bytes()) >= 2
    failed = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(failed) == 1 and "at second" in failed[0] and "in time" in failed[0]
    assert left_behind(marker) == []
    assert list(temp.iterdir()) == []


def test_chromium_that_never_answers_means_a_report_without_pdf(
        small_first_run: PipelineRun, printing: tuple[str, Path],
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    """Neither the browser nor the one-process print ever ends: no PDF and a warning, as without
    Chromium (``write_reports`` then writes the report without it); nothing waits longer than
    its timeout. Before, the one-process print raised at its timeout, and the report was lost."""
    marker, temp = printing
    silent = tmp_path / "silent-chromium"
    silent.write_text("#!/bin/sh\nexec sleep 600\n")
    silent.chmod(0o755)
    monkeypatch.setenv("DATENWERK_CHROMIUM", str(silent))
    monkeypatch.setattr(pdf, "PAGE_TIMEOUT", 1.0)
    monkeypatch.setattr(pdf, "PROCESS_TIMEOUT", 1.0)
    page = run_pages(small_first_run.home)[0]

    started = time.monotonic()
    with pdf.Printer() as printer:
        assert printer.print(page, tmp_path / "page.pdf", "swm/SB") is False
        assert printer.print(page, tmp_path / "next.pdf", "swm/SUB") is False

    assert time.monotonic() - started < 3 * 1.0 + 10
    assert not (tmp_path / "page.pdf").exists() and not (tmp_path / "next.pdf").exists()
    failed = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(failed) == 3, failed  # the browser, then one process for each report
    assert "failed at swm/SB" in failed[0] and "in time" in failed[0]
    assert "swm/SB (no PDF after 1 s)" in failed[1] and "swm/SUB (no PDF after 1 s)" in failed[2]
    assert left_behind(marker) == []
    assert list(temp.iterdir()) == []


def test_browser_ended_when_the_step_fails(
        small_first_run: PipelineRun, printing: tuple[str, Path], tmp_path: Path) -> None:
    marker, temp = printing
    page = run_pages(small_first_run.home)[0]

    with pytest.raises(RuntimeError, match="the step failed"), pdf.Printer() as printer:
        assert printer.print(page, tmp_path / "page.pdf", "page")
        assert browser_of(marker)
        raise RuntimeError("the step failed")

    assert left_behind(marker) == []
    assert list(temp.iterdir()) == []


class Interrupted(Exception):
    """What Dagster raises in a step when its run is stopped."""


def test_one_process_print_interrupted_while_it_waits_leaves_nothing(
        printing: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A run stopped while a one-process print waits for Chromium (Dagster raises in the step):
    Chromium is killed and reaped; before, it was left running and then a zombie of the worker
    (the ``printing`` fixture counts zombies)."""
    marker, temp = printing
    silent = tmp_path / "silent-chromium"
    silent.write_text("#!/bin/sh\nexec sleep 600\n")
    silent.chmod(0o755)
    monkeypatch.setenv("DATENWERK_CHROMIUM", str(silent))
    page = tmp_path / "page.html"
    page.write_text("<p>Bericht</p>")

    def interrupt(signum: int, frame: object) -> None:
        raise Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with pytest.raises(Interrupted):
            pdf.print_pdf(page, tmp_path / "page.pdf", "page")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

    assert left_behind(marker) == []
    assert list(temp.iterdir()) == []
