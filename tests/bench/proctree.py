"""What a command costs with everything it starts: wall and CPU seconds, and the peak memory of
its whole process tree (a Spark driver's JVM included), on Linux.

CPU: the benchmark process becomes a *child subreaper*, so a grandchild orphaned by its parent
(pyspark's JVM outlives the Python process that started it by a moment) is re-parented to it and
reaped here; the growth of ``RUSAGE_CHILDREN`` over the command is then the CPU of every process
it started. Memory: a thread samples ``/proc`` and sums the resident sets of all descendants of
this process (the command and whatever it started) every ``interval`` seconds; the largest sum is
the tree's peak. Shared pages count once per process, so the sum overstates a little; a
process shorter than one interval can be missed.

:class:`Sampler` keeps every sample (time, the tree's memory, its largest process, the tree's
CPU seconds so far), so that the peak and the CPU of any stretch of time (a pipeline step) can
be read afterwards.
"""

from __future__ import annotations

import ctypes
import os
import resource
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

PR_SET_CHILD_SUBREAPER = 36
PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Proc:
    """One line of ``/proc/<pid>/stat``, the fields the benchmark needs."""

    pid: int
    ppid: int
    rss_pages: int
    cpu_ticks: int = 0  # user and system CPU of the process itself (clock ticks)
    started: int = 0  # clock ticks after boot: with the pid, names one process
    name: str = ""


def parse_stat(text: str) -> Proc:
    """Parse ``/proc/<pid>/stat``. The command name (field 2) is in parentheses and may itself
    hold spaces and parentheses, so the fields are counted from its *last* closing one."""
    pid = int(text[: text.index(" ")])
    name = text[text.index("(") + 1 : text.rindex(")")]
    rest = text[text.rindex(")") + 2 :].split()
    # rest[0] is field 3 (state): ppid is field 4, utime and stime fields 14-15, starttime
    # field 22, rss field 24.
    return Proc(pid=pid, ppid=int(rest[1]), rss_pages=int(rest[21]),
                cpu_ticks=int(rest[11]) + int(rest[12]), started=int(rest[19]), name=name)


def descendants(procs: Iterable[Proc], root: int) -> list[Proc]:
    """Every process below ``root`` (not ``root`` itself), however deep."""
    children: dict[int, list[Proc]] = {}
    for proc in procs:
        children.setdefault(proc.ppid, []).append(proc)
    found: list[Proc] = []
    stack = [root]
    while stack:
        for proc in children.get(stack.pop(), []):
            if proc.pid != root:
                found.append(proc)
                stack.append(proc.pid)
    return found


def tree_rss_mb(procs: Iterable[Proc], root: int) -> float:
    """Resident memory of all descendants of ``root`` together, in MB."""
    return sum(p.rss_pages for p in descendants(procs, root)) * PAGE_MB


@dataclass(frozen=True)
class Sample:
    """The process tree at one moment."""

    at: float  # time.time()
    tree_mb: float  # resident memory of all processes of the tree together
    largest_mb: float  # of its largest process
    largest: str  # that process's label
    cpu_s: float  # CPU seconds of the tree up to this moment
    by_label: dict[str, float]  # resident memory of the processes of each label together


@dataclass
class Window:
    """What the tree used between two moments."""

    peak_tree_mb: float
    peak_process_mb: float
    peak_process: str
    cpu_s: float
    samples: int
    peak_by_process_mb: dict[str, float]

    def figures(self) -> dict[str, Any]:
        """Rounded, for a result file."""
        return {"peak_tree_mb": round(self.peak_tree_mb, 1),
                "peak_process_mb": round(self.peak_process_mb, 1),
                "peak_process": self.peak_process, "cpu_s": round(self.cpu_s, 2),
                "samples": self.samples,
                "peak_by_process_mb": {name: round(mb, 1) for name, mb in sorted(
                    self.peak_by_process_mb.items(), key=lambda kv: -kv[1])}}


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


@dataclass
class Sampler:
    """Samples the processes below ``root`` (by default this process) every ``interval`` seconds
    in a thread, as a context manager.

    CPU of the tree at a moment is the sum, over every process of the tree seen so far, of its own
    CPU when last sampled: what a process spends after its last sample (at most one interval)
    and a process shorter than one interval are missed. ``label`` names a process from its
    command line and name (the default is the name in ``/proc/<pid>/stat``); it is asked once
    per process.
    """

    root: int = field(default_factory=os.getpid)
    interval: float = 0.2
    label: Callable[[list[str], str], str] | None = None
    samples: list[Sample] = field(default_factory=list)
    # the largest resident memory each label reached (MB)
    peaks: dict[str, float] = field(default_factory=dict)
    _labels: dict[tuple[int, int], str] = field(default_factory=dict)
    _cpu_ticks: dict[tuple[int, int], int] = field(default_factory=dict)
    _done: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> Sample:
        """Take one sample now (also kept)."""
        at = time.time()
        procs = descendants(_snapshot(), self.root)
        largest = max(procs, key=lambda p: p.rss_pages, default=None)
        by_label: dict[str, float] = {}
        for proc in procs:
            self._cpu_ticks[(proc.pid, proc.started)] = proc.cpu_ticks
            name = self._label(proc)
            self.peaks[name] = max(self.peaks.get(name, 0.0), proc.rss_pages * PAGE_MB)
            by_label[name] = by_label.get(name, 0.0) + proc.rss_pages * PAGE_MB
        taken = Sample(at=at, tree_mb=sum(p.rss_pages for p in procs) * PAGE_MB,
                       largest_mb=largest.rss_pages * PAGE_MB if largest else 0.0,
                       largest=self._label(largest) if largest else "",
                       cpu_s=sum(self._cpu_ticks.values()) / TICKS, by_label=by_label)
        self.samples.append(taken)
        return taken

    def _label(self, proc: Proc) -> str:
        key = (proc.pid, proc.started)
        if key not in self._labels:
            self._labels[key] = (self.label(_cmdline(proc.pid), proc.name) if self.label
                                 else proc.name)
        return self._labels[key]

    def __enter__(self) -> Sampler:
        self._done.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        self.sample()
        while not self._done.wait(self.interval):
            self.sample()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._done.set()
        if self._thread:
            self._thread.join()
        self.sample()

    def window(self, start: float, end: float) -> Window:
        """Peak memory (the tree's sum, its largest process) of the samples taken from ``start``
        to ``end`` (``time.time()`` values), and the tree's CPU seconds in between: from the last
        sample before ``start`` to the first one after ``end``, so that a stretch shorter than
        the interval still gets the CPU around it."""
        inside = [s for s in self.samples if start <= s.at <= end]
        before = [s for s in self.samples if s.at < start]
        after = [s for s in self.samples if s.at > end]
        first = before[-1] if before else (inside[0] if inside else None)
        last = after[0] if after else (inside[-1] if inside else None)
        # a stretch between two samples: the two around it bound its memory
        around = inside or [s for s in (first, last) if s is not None]
        top = max(around, key=lambda s: s.largest_mb, default=None)
        by_label: dict[str, float] = {}
        for s in around:
            for name, mb in s.by_label.items():
                by_label[name] = max(by_label.get(name, 0.0), mb)
        return Window(peak_tree_mb=max((s.tree_mb for s in around), default=0.0),
                      peak_process_mb=top.largest_mb if top else 0.0,
                      peak_process=top.largest if top else "",
                      cpu_s=(last.cpu_s - first.cpu_s) if first and last else 0.0,
                      samples=len(inside), peak_by_process_mb=by_label)


def _snapshot() -> list[Proc]:
    procs = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                procs.append(parse_stat(Path(entry.path, "stat").read_text()))
            except (OSError, ValueError, IndexError):
                continue  # ended while being read
    return procs


def _children(me: int) -> set[int]:
    return {p.pid for p in _snapshot() if p.ppid == me}


def _reap_orphans(me: int, keep: set[int], deadline_s: float) -> None:
    """Wait for the processes re-parented to this one (a JVM ending after its parent), leaving
    alone the children it had before (``keep``: a test's own servers)."""
    until = time.monotonic() + deadline_s
    while True:
        left = _children(me) - keep
        for pid in list(left):
            try:
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    left.discard(pid)
            except ChildProcessError:
                left.discard(pid)  # not ours to wait for after all
        if not left or time.monotonic() >= until:
            return
        time.sleep(0.2)


def measure(command: list[str], *, env: Mapping[str, str], cwd: Path | None = None,
            interval: float = 0.5) -> dict[str, Any]:
    """Run ``command`` to its end; its exit code, output, wall and CPU seconds (the whole tree)
    and the tree's peak resident memory (MB), with the 1-minute load average before and after."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    me = os.getpid()
    keep = _children(me)
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(interval):
            peak[0] = max(peak[0], tree_rss_mb(_snapshot(), me))

    load_before = os.getloadavg()[0]
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    sampler = threading.Thread(target=sample, daemon=True)
    started = time.monotonic()
    sampler.start()
    try:
        proc = subprocess.run(command, env=dict(env), cwd=cwd, capture_output=True, text=True,
                              check=False)
        wall = time.monotonic() - started
        _reap_orphans(me, keep, 120)
    finally:
        done.set()
        sampler.join()
        # Orphans of whatever runs later in this process go to init again, as before.
        libc.prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    return {"returncode": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr,
            "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "tree_peak_rss_mb": round(peak[0], 1),
            "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)]}
