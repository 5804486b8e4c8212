"""Time the impact reports' step body (``warehouse.reports.write_reports``) on a home with a
publication, three times, with the PDFs printed.

Run, after ``datenwerk demo-data`` and ``datenwerk run`` in ``DATENWERK_HOME``:
``.venv/bin/python bench/impact_reports.py LABEL`` (adds its runs to ``LABEL`` in
``bench/results/impact_reports.json``; ``BENCH_RUNS``, default 3, runs per call: alternate two
versions' calls with 1 to share the machine's load). CPU counts this process and every
Chromium process it waited for (``RUSAGE_CHILDREN``: a browser's helpers are in it once the
browser is reaped; the crash handlers, which leave its process tree, are not). ``BENCH_PDF=0``:
the reports without PDF, what printing adds to.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from warehouse import paths, reports

RUNS = int(os.environ.get("BENCH_RUNS", "3"))
RESULT = Path(__file__).with_name("results") / "impact_reports.json"


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def commit() -> str:
    """The commit of the code measured (``warehouse`` may come from another work tree)."""
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=False, cwd=Path(reports.__file__).parent).stdout.strip()


def main(label: str) -> None:
    runs = []
    for _ in range(RUNS):
        load_before = os.getloadavg()[0]
        wall, cpu = time.perf_counter(), cpu_seconds()
        results = reports.write_reports(pdf=os.environ.get("BENCH_PDF") != "0")
        wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
        runs.append({"wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                     "reports": len(results), "pdfs": sum(r.pdf is not None for r in results),
                     "load_average_1min": [round(load_before, 2),
                                           round(os.getloadavg()[0], 2)]})
        print(runs[-1], flush=True)
    recorded = json.loads(RESULT.read_text()) if RESULT.is_file() else {}
    entry = recorded.setdefault(label, {"home": str(paths.home()), "cpus": os.cpu_count(),
                                        "commit": commit(), "runs": []})
    entry["runs"] += [{**run, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
                      for run in runs]
    RESULT.write_text(json.dumps(recorded, indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "now")
