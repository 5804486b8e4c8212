"""A quiet night costs nothing: no dbt build, no checks, no new generation, no export rewritten.
A later delivery (+1 %) rebuilds and publishes, and rewrites the exports whose rows changed.
A rollback then holds through a quiet night: the build's content, taken back on purpose, is not
published again until something new is loaded."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from dagster import AssetKey

from orchestration.cli import main as datenwerk
from orchestration.freshness import last_publication
from tests.conftest import PipelineRun, copy_home, run_nightly, use_home
from tests.integration.test_quality_gate import evaluations, materialised

PUBLISHED = AssetKey(["published_marts"])


def files_state(folder: Path) -> dict[str, tuple[int, str]]:
    """Every file below ``folder`` (not through ``latest`` links): mtime and content hash."""
    return {
        str(p.relative_to(folder)): (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).digest())
        for p in sorted(folder.rglob("*")) if p.is_file() and "latest" not in p.parts
    }


def generations(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "published" / "generations").glob("*.json"))


def test_quiet_night_skips_everything_and_a_delivery_rebuilds(
    small_first_run: PipelineRun,
) -> None:
    home = copy_home(small_first_run.home, "skip-unchanged")
    manifest_file = home / "published" / "marts.manifest.json"
    before = json.loads(manifest_file.read_text())
    gens, exports = generations(home), files_state(home / "exports")
    build_record = (home / "dbt" / "last_build.json").read_text()
    published_file = (home / "published" / "marts.duckdb").stat().st_mtime_ns
    assert exports, "the first run wrote department exports"

    quiet = run_nightly(home)
    assert quiet.success
    built = materialised(quiet)
    assert not [k for k in built if k.path[0] in ("fct_cases", "mart_outcomes", "dim_department")]
    assert PUBLISHED not in built and AssetKey(["department_exports"]) not in built
    assert not [name for name in evaluations(quiet) if name.startswith("gx_mart")]
    assert generations(home) == gens
    assert files_state(home / "exports") == exports
    assert (home / "published" / "marts.duckdb").stat().st_mtime_ns == published_file
    assert (home / "dbt" / "last_build.json").read_text() == build_record  # dbt did not run
    noted = json.loads(manifest_file.read_text())
    assert noted["generation"] == before["generation"]
    assert noted["checked_run_id"] == quiet.run_id and noted["checked_unchanged_at"]
    # the publication counts as current from the check on (a quiet weekend is not stale)
    last = last_publication()
    assert last is not None and last[1] == quiet.run_id
    observed = [e for e in quiet.all_events if e.event_type_value == "ASSET_OBSERVATION"]
    assert any(e.asset_key == PUBLISHED for e in observed)

    # A later delivery: one per cent more contacts. Everything downstream runs again.
    use_home(home)
    assert datenwerk(["demo-data", "--increment", "0.01", "--seed", "7"]) == 0
    delivered = run_nightly(home)
    assert delivered.success
    assert PUBLISHED in materialised(delivered)
    assert AssetKey(["department_exports"]) in materialised(delivered)
    assert len(generations(home)) == len(gens) + 1 or generations(home) != gens
    after = files_state(home / "exports")
    assert after != exports
    rewritten = {path.split("/")[0] for path in after if after[path] != exports.get(path)}
    assert rewritten, "the departments whose contacts grew got a new export"

    # The delivery's publication is taken back; the quiet night after it keeps the rollback.
    restored = generations(home)
    published = json.loads(manifest_file.read_text())["generation"]
    assert datenwerk(["rollback", "previous", "--no-exports"]) == 0
    assert json.loads(manifest_file.read_text())["generation"] == before["generation"]
    quiet_after_rollback = run_nightly(home)
    assert quiet_after_rollback.success
    assert PUBLISHED not in materialised(quiet_after_rollback)
    assert generations(home) == restored
    current = json.loads(manifest_file.read_text())
    assert current["generation"] == before["generation"] != published
    assert current["checked_run_id"] == quiet_after_rollback.run_id
