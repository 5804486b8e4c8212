"""Printing the impact reports' pages to PDF with headless Chromium.

A :class:`Printer` prints every report of a step with one browser, driven over its DevTools
pipe (``--remote-debugging-pipe``: Chrome DevTools Protocol messages as JSON, each ended by a
NUL byte, read by the browser on fd 3 and answered on fd 4). Starting Chromium was most of the
cost of a PDF when each report had a process of its own (:func:`print_pdf`, Chromium's
``--print-to-pdf``); both print the same bytes (``PDF_OPTIONS``).

A browser that dies, hangs past ``PAGE_TIMEOUT`` or answers with an error is killed with all
its processes, a warning names the report, and that report and the ones after it are printed
one process each, as before. A PDF that cannot be printed either way is a report without PDF
and a warning, never a failed step. The browser is always ended and its temporary profile
removed, also when the step fails.

Chromium writes a link to another local file as the absolute ``file://`` address it resolved
against the page's, here the temporary folder a report is printed in: dead once the folder is
renamed, and naming the server's folders. :func:`relative_links` makes each such link relative
to the PDF's folder, where the reader opens it; a link within the page is a named destination
of the PDF already. A PDF with a link to a file that does not exist is not kept (no PDF and a
warning, as when printing fails).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import logging
import os
import re
import select
import shutil
import signal
import tempfile
import time
import urllib.parse
from pathlib import Path
from types import TracebackType
from typing import IO, Any

log = logging.getLogger(__name__)

DEFAULT_CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]
# For --print-to-pdf only: a browser driven over the pipe with this switch (Chromium 156) has its
# renderer killed at the first navigation ("Message rejected by ... FrameWidgetHost").
CLI_ARGS = [*BROWSER_ARGS, "--no-pdf-header-footer"]
# What `--print-to-pdf --no-pdf-header-footer` asks Chromium for: A4 and margins come from the
# template's @page; the same bytes but for the dates (tests/browser/test_impact_report.py).
PDF_OPTIONS = {"printBackground": True, "preferCSSPageSize": True, "displayHeaderFooter": False}
# A report's page prints in about 1 s, 2 s on a busy machine; a minute is a hang.
PAGE_TIMEOUT = 60.0
# A Chromium of its own for one report, from start to end (as before the shared browser).
PROCESS_TIMEOUT = 120.0
# Chromium ends within a second of Browser.close; past this it is killed.
CLOSE_TIMEOUT = 5.0


def chromium() -> str:
    """The Chromium that prints the PDFs: ``DATENWERK_CHROMIUM``, read at each use (a daemon
    that runs for weeks sees a change), else Debian's."""
    return os.environ.get("DATENWERK_CHROMIUM", DEFAULT_CHROMIUM)


def _found(browser: str) -> bool:
    if Path(browser).exists():
        return True
    log.warning("no Chromium at %s (DATENWERK_CHROMIUM): impact reports without PDF", browser)
    return False


def print_pdf(html: Path, pdf: Path, name: str = "") -> bool:
    """Print ``html`` to ``pdf`` with a Chromium process of its own; False (and a warning)
    without Chromium, or when it fails or takes longer than ``PROCESS_TIMEOUT``."""
    browser = chromium()
    if not _found(browser):
        return False
    with tempfile.TemporaryDirectory(prefix="datenwerk-chromium-") as profile, \
            tempfile.TemporaryFile() as stderr:
        try:
            pid = _spawn([browser, *CLI_ARGS, f"--user-data-dir={profile}",
                          f"--print-to-pdf={pdf}", html.resolve().as_uri()], profile, stderr)
        except OSError as exc:
            log.warning("Chromium could not print the impact report %s: %s", name or html, exc)
            return False
        try:
            exited = _wait_exit(pid, time.monotonic() + PROCESS_TIMEOUT)
        finally:  # also when interrupted (a run stopped while it waits)
            status = _end(pid)  # its helpers too, before the profile goes
        if not exited or status != 0 or not pdf.is_file():
            why = f"exit status {status}" if exited else f"no PDF after {PROCESS_TIMEOUT:.0f} s"
            log.warning("Chromium could not print the impact report %s (%s): %s", name or html,
                        why, _tail(stderr))
            return False
    return _links_kept(pdf, name or str(html))


class LinkError(ValueError):
    """A link of a printed page that leads nowhere, or that no reader could follow."""


# A link annotation's target as Skia writes it: a literal string, ( ) \ and bytes outside
# ASCII escaped, or a hex string when most bytes would need escaping.
_URI = re.compile(rb"/URI (\((?:[^()\\]|\\.)*\)|<[0-9A-Fa-f\s]*>)", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}
_XREF = re.compile(rb"xref\s+0 (\d+)\s*?\n")
_XREF_ENTRY = 20  # "nnnnnnnnnn ggggg n" and a two-byte line end (PDF 32000-1, 7.5.4)


def relative_links(pdf: Path) -> int:
    """Rewrite each ``file://`` link of ``pdf`` relative to its folder (its ``#`` part kept),
    the cross-reference table moved with it; the number of links rewritten. Other links
    (``http``, named destinations within the PDF) stay. Raises :class:`LinkError` for a link to
    a local file that does not exist (the PDF is left unchanged)."""
    data = pdf.read_bytes()
    folder = pdf.parent.resolve()
    pieces, changes, last = [], [], 0
    for match in _URI.finditer(data):
        uri = _unescape(match[1])
        parts = urllib.parse.urlsplit(uri)
        if parts.scheme != "file":
            continue
        target = Path(urllib.parse.unquote(parts.path))
        if parts.netloc not in ("", "localhost") or not target.is_file():
            raise LinkError(f"{pdf.name} links to {uri}, which is no file on this machine")
        relative = urllib.parse.quote(os.path.relpath(target, folder), safe="/-_.~")
        fragment = urllib.parse.quote(parts.fragment, safe="%/-_.~!$&'()*+,;=:@?")
        new = _escape(relative + (f"#{fragment}" if fragment else ""))
        pieces += [data[last:match.start(1)], new]
        changes.append((match.start(1), len(new) - len(match[1])))
        last = match.end(1)
    if not changes:
        return 0
    pdf.write_bytes(_moved_xref(b"".join([*pieces, data[last:]]), changes))
    return len(changes)


def _unescape(string: bytes) -> str:
    """The bytes of a PDF string, ``(literal)`` or ``<hex>``, as Latin-1 text."""
    if string.startswith(b"<"):
        return bytes.fromhex(re.sub(rb"\s", b"", string[1:-1]).decode()).decode("latin-1")
    return re.sub(rb"\\([0-7]{1,3}|\r?\n|.)",
                  lambda m: bytes([int(m[1], 8) & 0xFF]) if m[1][:1].isdigit()
                  else b"" if m[1] in (b"\n", b"\r\n") else _ESCAPES.get(m[1], m[1]),
                  string[1:-1], flags=re.S).decode("latin-1")


def _escape(text: str) -> bytes:
    """``text`` (ASCII) as a PDF literal string."""
    return b"(" + re.sub(rb"([()\\])", rb"\\\1", text.encode("ascii")) + b")"


def _moved_xref(data: bytes, changes: list[tuple[int, int]]) -> bytes:
    """``data`` with its cross-reference table's offsets (and ``startxref``) moved by
    ``changes`` (position in the old file, bytes added there)."""
    def moved(offset: int) -> int:
        return offset + sum(delta for at, delta in changes if at < offset)

    found = list(re.finditer(rb"startxref\s+(\d+)", data))
    if not found or b"/XRefStm" in data or b"/Type /XRef" in data:
        raise LinkError("the PDF has no cross-reference table of the kind Skia writes")
    startxref = found[-1]
    old_xref = int(startxref[1])
    xref = _XREF.match(data, moved(old_xref))
    if xref is None:
        raise LinkError("the PDF's cross-reference table is not where startxref says")
    table = bytearray(data[xref.end():xref.end() + _XREF_ENTRY * int(xref[1])])
    for i in range(1, int(xref[1])):
        entry = table[_XREF_ENTRY * i:_XREF_ENTRY * (i + 1)]
        if entry[17:18] == b"n":
            table[_XREF_ENTRY * i:_XREF_ENTRY * i + 10] = b"%010d" % moved(int(entry[:10]))
    return b"".join([data[:xref.end()], bytes(table),
                     data[xref.end() + len(table):startxref.start(1)],
                     b"%d" % moved(old_xref), data[startxref.end(1):]])


def _links_kept(pdf: Path, name: str) -> bool:
    """After printing: the PDF's links made relative; False (the PDF removed, a warning) if one
    leads nowhere."""
    try:
        relative_links(pdf)
    except LinkError as exc:
        log.warning("the impact report %s is published without PDF: %s", name, exc)
        pdf.unlink(missing_ok=True)
        return False
    return True


def _spawn(argv: list[str], profile: str, stderr: IO[bytes],
           fds: tuple[tuple[int, int], ...] = ()) -> int:
    """Start ``argv`` in a session (and process group) of its own, with ``fds`` (parent's fd,
    child's fd) and no other open file but stdin and stdout on /dev/null and ``stderr``.
    Its temporary files go into ``profile`` too: a killed Chromium leaves its own behind.

    :func:`os.posix_spawn` places the fds without running Python between fork and exec
    (``preexec_fn`` is unsafe in a process with threads, as Dagster's is)."""
    return os.posix_spawn(
        argv[0], argv, {**os.environ, "TMPDIR": profile},
        file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                      (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                      (os.POSIX_SPAWN_DUP2, stderr.fileno(), 2),
                      *((os.POSIX_SPAWN_DUP2, parent, child) for parent, child in fds)],
        setsid=True)


def _wait_exit(pid: int, deadline: float) -> bool:
    """Wait until ``pid`` has ended (without reaping it) or ``deadline``; True if it ended."""
    while True:
        with contextlib.suppress(ChildProcessError):
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.05)
                continue
        return True


def _end(pid: int) -> int | None:
    """Kill what is left of ``pid``'s process group, reap ``pid``; its exit status."""
    # before reaping: while the leader is unreaped, its group's id cannot be taken by another
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    try:
        return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    except ChildProcessError:
        return None


def _tail(stream: IO[bytes]) -> str:
    stream.seek(0, os.SEEK_END)
    stream.seek(max(0, stream.tell() - 500))
    return stream.read().decode("utf-8", "replace").strip()


class BrowserError(RuntimeError):
    """The browser died, hung or refused a command."""


class Browser:
    """One headless Chromium and its DevTools pipe, in a process group (and session) of its
    own."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.profile = tempfile.mkdtemp(prefix="datenwerk-chromium-")
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []
        self.pid: int | None = None
        to_browser, self._to_browser = os.pipe()
        self._from_browser, from_browser = os.pipe()
        try:
            # above 4: duplicating them onto 3 and 4 in the child must not overwrite the other
            to_browser, from_browser = _above(to_browser, 4), _above(from_browser, 4)
            os.set_blocking(self._to_browser, False)
            self.pid = _spawn([executable, *BROWSER_ARGS, f"--user-data-dir={self.profile}",
                               "--remote-debugging-pipe", "about:blank"],
                              self.profile, self.stderr, ((to_browser, 3), (from_browser, 4)))
        except BaseException:
            self.close()
            raise
        finally:
            os.close(to_browser)
            os.close(from_browser)

    def print(self, html: Path, pdf: Path, deadline: float) -> None:
        """Open ``html`` in a new tab, wait for its load event, write its PDF to ``pdf``."""
        self._events.clear()
        target = self.call("Target.createTarget", {"url": "about:blank"}, deadline)["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                            deadline)["sessionId"]
        self.call("Page.enable", {}, deadline, session)
        self.call("Page.setLifecycleEventsEnabled", {"enabled": True}, deadline, session)
        navigated = self.call("Page.navigate", {"url": html.resolve().as_uri()}, deadline,
                              session)
        if navigated.get("errorText"):
            raise BrowserError(f"could not open {html}: {navigated['errorText']}")
        # the load event of this navigation, not of the blank page before it
        self.event(session, deadline, method="Page.lifecycleEvent", name="load",
                   loaderId=navigated["loaderId"])
        data = self.call("Page.printToPDF", PDF_OPTIONS, deadline, session)["data"]
        content = base64.b64decode(data)
        if not content.startswith(b"%PDF"):
            raise BrowserError("Page.printToPDF returned no PDF")
        pdf.write_bytes(content)
        self.call("Target.closeTarget", {"targetId": target}, deadline)

    def call(self, method: str, params: dict[str, Any], deadline: float,
             session: str | None = None) -> dict[str, Any]:
        """Send one command and wait for its answer; events on the way are kept."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self._send(json.dumps(message).encode() + b"\0", deadline)
        while True:
            answer = self._receive(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self._events.append(answer)
            self._check_attached(answer, session)

    def event(self, session: str, deadline: float, method: str,
              **params: str) -> dict[str, Any]:
        """Wait for the event ``method`` of ``session`` with ``params`` (it may have come
        already); the events before it are dropped."""
        while True:
            for i, event in enumerate(self._events):
                if event.get("method") == method and event.get("sessionId") == session and \
                        all(event.get("params", {}).get(k) == v for k, v in params.items()):
                    del self._events[:i + 1]
                    return event
            answer = self._receive(deadline)
            self._events.append(answer)
            self._check_attached(answer, session)

    @staticmethod
    def _check_attached(event: dict[str, Any], session: str | None) -> None:
        # a renderer that crashed detaches its session: nothing would ever come for it
        if session and event.get("method") == "Target.detachedFromTarget" and \
                event.get("params", {}).get("sessionId") == session:
            raise BrowserError("the page's renderer went away")

    def _send(self, data: bytes, deadline: float) -> None:
        while data:
            _, writable, _ = select.select([], [self._to_browser], [], _left(deadline))
            if not writable:
                raise BrowserError("Chromium reads no commands")
            data = data[os.write(self._to_browser, data):]

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            readable, _, _ = select.select([self._from_browser], [], [], _left(deadline))
            if not readable:
                raise BrowserError("Chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise BrowserError("Chromium ended")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def stderr_tail(self) -> str:
        return _tail(self.stderr)

    def close(self, politely: bool = True) -> None:
        """End the browser (asked to close, unless it failed; then by force), reap it and
        remove its profile."""
        if self.pid is not None:
            if politely:
                with contextlib.suppress(BrowserError, OSError, ValueError):
                    self.call("Browser.close", {}, time.monotonic() + CLOSE_TIMEOUT)
                _wait_exit(self.pid, time.monotonic() + CLOSE_TIMEOUT)
            _end(self.pid)
            self.pid = None
        for fd in (self._to_browser, self._from_browser):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.stderr.close()
        shutil.rmtree(self.profile, ignore_errors=True)


def _above(fd: int, lowest: int) -> int:
    if fd > lowest:
        return fd
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, lowest + 1)
    os.close(fd)
    return moved


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


class Printer:
    """Prints pages to PDF with one Chromium for all of them; use it as a context manager, so
    the browser is ended however the block ends. Without a Chromium, or after the browser
    failed once, each page is printed by :func:`print_pdf`."""

    def __init__(self) -> None:
        self._browser: Browser | None = None
        self._one_process_each = False

    def __enter__(self) -> Printer:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close(politely=kind is None)

    def print(self, html: Path, pdf: Path, name: str = "") -> bool:
        """Print ``html`` to ``pdf``; False (and a warning) when it cannot be printed."""
        browser = chromium()
        if not _found(browser):
            return False
        if self._one_process_each:
            return print_pdf(html, pdf, name)
        deadline = time.monotonic() + PAGE_TIMEOUT  # a browser's start included
        try:
            if self._browser is not None and self._browser.executable != browser:
                self.close()
            if self._browser is None:
                self._browser = Browser(browser)
            self._browser.print(html, pdf, deadline)
        except (BrowserError, OSError, ValueError, KeyError) as exc:
            stderr = self._browser.stderr_tail() if self._browser else ""
            log.warning("the Chromium printing the impact reports failed at %s (%s), and was "
                        "ended; this report and the ones after it are printed with one "
                        "Chromium each. Chromium said: %s", name or html, exc, stderr)
            self.close(politely=False)
            self._one_process_each = True
            pdf.unlink(missing_ok=True)
            return print_pdf(html, pdf, name)
        log.debug("printed %s", name or html)
        return _links_kept(pdf, name or str(html))

    def close(self, politely: bool = True) -> None:
        if self._browser is not None:
            browser, self._browser = self._browser, None
            browser.close(politely)
