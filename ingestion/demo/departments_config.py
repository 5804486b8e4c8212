"""The demo organisation's ``departments.yml``: what its pilot departments receive each night.

Written beside the reference tables (``reference/swm/``) by
:func:`ingestion.demo.generator.generate`; read by :mod:`warehouse.exports`. The pilot departments
are those with ``is_pilot`` in the demo.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

# Case-level facts, outcomes per period, the department's money and the state of its own
# deliveries: what a department head asked for in the pilot. Each has department_code, so each
# can be cut to one department.
DEMO_MARTS = ("fct_cases", "mart_outcomes", "mart_finance_by_cost_centre_month",
              "mart_deliveries")


def render(organisation_code: str, pilots: Sequence[str]) -> str:
    lines = [
        "# Department exports: what each pilot department receives after every publication,",
        "# in DATENWERK_HOME/exports/<department>/<date>/ (see README, 'Department exports').",
        "# formats: xlsx, csv (German Excel: ';', decimal comma, UTF-8 with BOM), parquet.",
        "# retention: how many dated folders each department keeps.",
        f"organisation_code: {organisation_code}",
        "defaults:",
        "  formats: [xlsx, csv, parquet]",
        "  retention: 14",
        "departments:",
    ]
    for code in pilots:
        lines += [f"  - code: {code}", f"    marts: [{', '.join(DEMO_MARTS)}]"]
    return "\n".join(lines) + "\n"


def write_departments_config(reference_dir: Path, organisation_code: str,
                             pilots: Sequence[str]) -> Path:
    """Write ``departments.yml`` for the pilot departments into ``reference_dir``."""
    path = Path(reference_dir) / "departments.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(organisation_code, pilots), encoding="utf-8")
    return path
