"""Benchmarks (``make bench``): each writes its figures to ``bench/results/<name>.json``.

Speed and memory targets of the issues are met here, measured in one run against a baseline
(DuckDB's own reader of the same file), never in timed unit tests.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parents[2] / "bench" / "results"


def record(name: str, figures: dict[str, Any]) -> Path:
    """Write one benchmark's figures, with when and where they were measured."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {
        "benchmark": name,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": sys.version.split()[0],
            "cpus": _cpus(),
            "platform": platform.platform(),
            # Other work on the machine while measuring (1-minute load average at the end).
            "load_average_1min": round(os.getloadavg()[0], 2),
        },
        **figures,
    }
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"\n{name}: {json.dumps(figures, default=str)}")
    return path


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


def run_measured(code: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run Python ``code`` in a fresh process; return its JSON line on stdout plus peak RSS (MB).

    The child reports its own peak memory as VmHWM from /proc/self/status: ``ru_maxrss`` of a
    child on Linux starts at the forking parent's size and overstates small children.
    """
    import os

    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])
