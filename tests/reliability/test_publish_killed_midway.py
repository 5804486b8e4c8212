"""A publication killed at its worst instants (a real process that dies there, as kill -9 would)
leaves the analysts' file, the manifest, rollback and the exports' source agreeing; what it left
half-written is cleaned up by the next publication."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PipelineRun, copy_home, use_home

PUBLISH = (
    "from orchestration.publish import published_mart_names\n"
    "from warehouse.publish import publish\n"
    "print(publish(published_mart_names(), run_id='killed-publication').generation)\n"
)


def publish_in_subprocess(home: Path, fault: str | None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATENWERK_HOME": str(home)}
    env.pop("DATENWERK_FAULT_POINT", None)
    if fault:
        env["DATENWERK_FAULT_POINT"] = fault
    return subprocess.run([sys.executable, "-c", PUBLISH], check=False, env=env,
                          capture_output=True, text=True, timeout=600,
                          cwd=Path(__file__).resolve().parents[2])


def leftovers(home: Path) -> list[str]:
    """Temporary files and generation files without a manifest."""
    published = home / "published"
    gens = published / "generations"
    return sorted([p.name for p in published.rglob(".*")]
                  + [f.name for f in gens.glob("*.duckdb") if not f.with_suffix(".json").exists()])


def generation_in_file(path: Path) -> str:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.sql("select distinct generation from _publication").fetchall()[0][0]


def test_kill_between_replacing_the_file_and_writing_its_manifest(
    small_first_run: PipelineRun,
) -> None:
    home = copy_home(small_first_run.home, "publish-killed-after-replace")
    use_home(home)
    from warehouse.publish import current_generation_file, current_manifest, list_generations

    before = current_manifest()
    assert before is not None

    killed = publish_in_subprocess(home, "publish:after-replace")

    assert killed.returncode == 137, killed.stderr[-2000:]
    in_file = generation_in_file(home / "published" / "marts.duckdb")
    assert in_file != before["generation"]  # analysts already see the new generation ...
    manifest = current_manifest()
    assert manifest is not None and manifest["generation"] == in_file  # ... and so does everyone
    assert generation_in_file(current_generation_file()) == in_file  # what exports read
    names = [m["generation"] for m in list_generations()]
    assert names[-1] == in_file and before["generation"] in names  # rollback has a previous one
    assert leftovers(home) == []


@pytest.mark.parametrize("fault", ["publish:before-manifest", "publish:before-replace"])
def test_kill_before_the_switch_keeps_the_last_publication_and_cleans_up(
    small_first_run: PipelineRun, fault: str,
) -> None:
    home = copy_home(small_first_run.home, f"publish-killed-{fault.split(':')[1]}")
    use_home(home)
    from warehouse.publish import current_manifest, list_generations

    published = home / "published" / "marts.duckdb"
    before_bytes = published.read_bytes()
    before = current_manifest()
    assert before is not None
    generations_before = {m["generation"] for m in list_generations()}

    killed = publish_in_subprocess(home, fault)

    assert killed.returncode == 137, killed.stderr[-2000:]
    assert published.read_bytes() == before_bytes
    assert current_manifest()["generation"] == before["generation"]  # type: ignore[index]
    assert leftovers(home)  # the killed publication's half-written files

    again = publish_in_subprocess(home, None)

    assert again.returncode == 0, again.stderr[-2000:]
    new = again.stdout.strip().splitlines()[-1]
    assert generation_in_file(published) == new == current_manifest()["generation"]  # type: ignore[index]
    # Kept: the earlier generations, the new one, and the killed one if it was complete (its
    # file and manifest written; it never became current).
    assert generations_before | {new} <= {m["generation"] for m in list_generations()}
    assert leftovers(home) == []


def test_a_generation_killed_before_its_swap_is_never_rolled_back_to_and_pruned_next(
    small_first_run: PipelineRun,
) -> None:
    home = copy_home(small_first_run.home, "publish-killed-never-current")
    use_home(home)
    from warehouse.publish import RollbackError, current_manifest, list_generations, rollback

    published = home / "published" / "marts.duckdb"
    before = current_manifest()
    assert before is not None
    gens = home / "published" / "generations"

    killed = publish_in_subprocess(home, "publish:before-replace")

    assert killed.returncode == 137, killed.stderr[-2000:]
    [never_current] = [f.stem for f in gens.glob("*.duckdb")
                       if f.stem != before["generation"]]  # complete: file and manifest
    assert (gens / f"{never_current}.json").is_file()
    assert never_current not in {m["generation"] for m in list_generations()}
    with pytest.raises(RollbackError, match="never published"):
        rollback(never_current)
    assert generation_in_file(published) == before["generation"]

    again = publish_in_subprocess(home, None)

    assert again.returncode == 0, again.stderr[-2000:]
    new = again.stdout.strip().splitlines()[-1]
    assert not (gens / f"{never_current}.duckdb").exists()
    assert not (gens / f"{never_current}.json").exists()
    assert rollback("previous")["generation"] == before["generation"]
    assert generation_in_file(published) == before["generation"] != new
