"""The nightly benchmark's sampler (``tests/bench/proctree.py``: :class:`Sampler`) on real
processes: the memory and CPU it gives a stretch of time belong to what ran in that stretch."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tests.bench import proctree

# Idle, then 300 MB and one second of CPU in the process itself, then a child of 200 MB beside
# 100 MB of its parent; the moments between the phases on stdout.
PHASES = textwrap.dedent("""
    import json, subprocess, sys, time
    def spin(seconds):
        t = time.process_time()
        while time.process_time() - t < seconds:
            pass
    t0 = time.time()
    time.sleep(0.8)
    t1 = time.time()
    held = b"x" * (300 * 2**20)
    spin(1.0)
    del held
    t2 = time.time()
    beside = b"y" * (100 * 2**20)
    # the marker assembled here, so that only the child's command line holds it
    child = "import time; b = b'z' * (200 * 2**20); time.sleep(1.0)  # " + "CHILD"
    subprocess.run([sys.executable, "-c", child], check=True)
    del beside
    t3 = time.time()
    print(json.dumps([t0, t1, t2, t3]))
""")


LAUNCH = "import subprocess, sys; subprocess.run([sys.executable, '-c', sys.argv[1]], check=True)"


def label(argv: list[str], name: str) -> str:
    return "child" if any("# CHILD" in a for a in argv) else "parent"


def test_a_stretch_of_time_gets_the_memory_and_cpu_of_what_ran_in_it() -> None:
    # Rooted at a launcher of its own: the test's process may have other children (under xdist
    # a worker keeps the servers of earlier fixtures), and they are not what ran in the stretch.
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCH, PHASES], stdout=subprocess.PIPE,
                                text=True)
    with proctree.Sampler(root=launcher.pid, interval=0.05, label=label) as sampler:
        out, _ = launcher.communicate()
    assert launcher.returncode == 0
    t0, t1, t2, t3 = json.loads(out)

    # A stretch's CPU runs from the sample before it to the one after it: the gap around a
    # boundary belongs to both sides, and a loaded machine widens it. So a bound from above
    # leaves out the gap after the stretch (the next phase's CPU); one from below keeps it.
    after_t1, after_t2 = sampler.window(t1, t1), sampler.window(t2, t2)

    idle = sampler.window(t0 + 0.1, t1)
    assert idle.samples >= 1  # sampled inside (a starved sampler may take only one)
    assert idle.peak_tree_mb < 100
    assert idle.cpu_s - after_t1.cpu_s < 0.3

    alone = sampler.window(t1, t2)
    assert 300 <= alone.peak_process_mb < 400
    assert alone.peak_process == "parent"
    assert alone.cpu_s >= 0.9 and alone.cpu_s - after_t2.cpu_s < 1.6
    assert alone.peak_tree_mb < 400  # the child had not started

    both = sampler.window(t2, t3)
    assert both.peak_tree_mb >= 300  # 200 MB of the child beside 100 MB of its parent
    assert 200 <= both.peak_process_mb < 300
    assert both.peak_process == "child"
    assert both.cpu_s - after_t2.cpu_s < 0.9  # the spin is over
    assert 100 <= both.peak_by_process_mb["parent"] < 200
    assert 200 <= both.peak_by_process_mb["child"] < 300

    assert 300 <= sampler.peaks["parent"] < 400
    assert 200 <= sampler.peaks["child"] < 300

    whole = sampler.window(t0, t3)
    assert whole.peak_process_mb == alone.peak_process_mb
    # the whole holds the union of the two stretches (the gap around t2 once)
    assert whole.cpu_s >= alone.cpu_s + both.cpu_s - after_t2.cpu_s - 1e-6
    assert whole.cpu_s >= 1.0  # at least the spin
