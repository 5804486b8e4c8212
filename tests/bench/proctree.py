"""What a command costs with everything it starts: wall and CPU seconds, and the peak memory of
its whole process tree (a Spark driver's JVM included), on Linux.

CPU: the benchmark process becomes a *child subreaper*, so a grandchild orphaned by its parent
(pyspark's JVM outlives the Python process that started it by a moment) is re-parented to it and
reaped here; the growth of ``RUSAGE_CHILDREN`` over the command is then the CPU of every process
it started. Memory: a thread samples ``/proc`` and sums the resident sets of all descendants of
this process (the command and whatever it started) every ``interval`` seconds; the largest sum is
the tree's peak. Shared pages count once per process, so the sum overstates a little; a
process shorter than one interval can be missed.
"""

from __future__ import annotations

import ctypes
import os
import resource
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PR_SET_CHILD_SUBREAPER = 36
PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass(frozen=True)
class Proc:
    """One line of ``/proc/<pid>/stat``, the fields the benchmark needs."""

    pid: int
    ppid: int
    rss_pages: int


def parse_stat(text: str) -> Proc:
    """Parse ``/proc/<pid>/stat``. The command name (field 2) is in parentheses and may itself
    hold spaces and parentheses, so the fields are counted from its *last* closing one."""
    pid = int(text[: text.index(" ")])
    rest = text[text.rindex(")") + 2 :].split()
    # rest[0] is field 3 (state): ppid is field 4, rss field 24.
    return Proc(pid=pid, ppid=int(rest[1]), rss_pages=int(rest[21]))


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
