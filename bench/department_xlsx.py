"""Time the department xlsx of 132,000 rows x 29 columns (the size of the largest department
export at demo scale 100), against the German CSV of the same rows.

Run: ``.venv/bin/python bench/department_xlsx.py`` (writes ``bench/results/department_xlsx.json``).
The rows are shaped like ``fct_cases`` (its columns, types and labels) so the German headers,
code texts, number formats and widths are all exercised.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from warehouse import exports as ex

ROWS = 132_000


def fct_cases_like(rows: int) -> pa.Table:
    """29 columns of fct_cases with plausible values."""
    i = pa.array(range(rows))
    day = dt.date(2022, 1, 1)

    def text(fmt: str) -> pa.Array:
        return pa.array([fmt.format(k) for k in range(rows)])

    dates = pa.array([day + dt.timedelta(days=k % 1400) for k in range(rows)])
    return pa.table({
        "organisation_code": pa.array(["swm"] * rows),
        "case_id": text("F-{:07d}"),
        "department_code": pa.array(["SB"] * rows),
        "program_code": pa.array(["SB-ALLG", "SB-INSO"] * (rows // 2)),
        "client_id": text("{:032x}"),
        "caseworker_id": text("{:032x}"),
        "referral_source": pa.array(["Jobcenter", "Selbstmelder", "=2+5"] * (rows // 3)),
        "start_date": dates,
        "end_date": dates,
        "start_year": pa.array([2022 + k % 4 for k in range(rows)], pa.int32()),
        "end_year": pa.array([2022 + k % 4 for k in range(rows)], pa.int32()),
        "status": pa.array(["closed", "open"] * (rows // 2)),
        "duration_days": pa.array([k % 700 for k in range(rows)], pa.int32()),
        "end_reason": pa.array(["planned", "dropout", "referral", "moved"] * (rows // 4)),
        "end_reason_category": pa.array(["planned_end", "dropout"] * (rows // 2)),
        "is_planned_end": pa.array([k % 3 == 0 for k in range(rows)]),
        "age_band_at_start": pa.array(["27-44", "45-64"] * (rows // 2)),
        "gender": pa.array(["w", "m", "d", "x"] * (rows // 4)),
        "region": text("{:03d}"),
        "n_contacts": i,
        "n_group_contacts": i,
        "contact_minutes": i,
        "first_contact_date": dates,
        "last_contact_date": dates,
        "is_accepted": pa.array([k % 2 == 0 for k in range(rows)]),
        "n_goals": i,
        "n_goals_rated": i,
        "n_goals_achieved": i,
        "gas_t_score": pa.array([40.0 + (k % 200) / 10 for k in range(rows)]),
    })


def timed(fn, *args) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    wall, cpu = time.perf_counter(), time.process_time()
    fn(*args)
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    table = fct_cases_like(ROWS)
    assert table.num_columns == 29
    sheet = ex.Sheet.of("fct_cases", table)
    with tempfile.TemporaryDirectory() as tmp:
        xlsx, csv = Path(tmp) / "fct_cases.xlsx", Path(tmp) / "fct_cases.csv"
        runs = [timed(ex.write_xlsx, [sheet], xlsx, {"Generation": "bench"}) for _ in range(3)]
        csv_wall, csv_cpu = timed(ex.write_csv, sheet, csv)
        size = xlsx.stat().st_size
    runs.sort()
    result = {
        "rows": ROWS, "columns": table.num_columns,
        "xlsx_wall_s_median": round(runs[1][0], 2), "xlsx_cpu_s_median": round(runs[1][1], 2),
        "xlsx_wall_s_all": [round(r[0], 2) for r in runs], "xlsx_bytes": size,
        "csv_wall_s": round(csv_wall, 2), "csv_cpu_s": round(csv_cpu, 2),
        "target_xlsx_s": 5.0,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_1min": round(os.getloadavg()[0], 2)},
        "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    out = Path(__file__).parent / "results" / "department_xlsx.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
