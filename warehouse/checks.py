"""The one shape of a check result, whatever the check: a GX suite, an accounting
reconciliation, held loads, freshness, disclosure control, or a check evaluation recorded with a
publication.

Every field has a value that means "not said": a GX suite fills ``rows``, ``evaluated``,
``failed``, ``notes`` and ``page``; an accounting check fills ``description``, ``metadata`` and
``tables``; a recorded evaluation (:mod:`warehouse.publish`) fills ``asset_key``, ``severity`` and
``blocking``. The orchestration layer turns any of them into a Dagster result with one wrapper.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The facts a publication keeps of each check (manifest "checks" and the table ``_checks``).
RECORDED_FIELDS = ("asset_key", "check_name", "passed", "severity", "blocking", "description")


@dataclass
class CheckResult:
    """The outcome of one check, in plain values Dagster metadata and JSON can carry."""

    asset_key: str = ""
    check_name: str = ""
    passed: bool = False  # a result that says nothing has not passed
    severity: str = "ERROR"  # ERROR (blocking) or WARN
    blocking: bool | None = None
    description: str = ""
    rows: int = 0
    evaluated: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    page: str | None = None  # a GX result's Data Docs page
    metadata: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        """``passed``, under the name GX gives it."""
        return self.passed

    def summary(self) -> str:
        """One line for people: the description when the check wrote one, else the count of
        expectations met or failed, with the failed ones and any notes."""
        if self.description:
            return self.description[:2000]
        if self.passed:
            text = f"{self.check_name}: all {self.evaluated} expectations met on {self.rows} rows"
        else:
            parts = [
                f"{f['expectation']}({','.join(f['columns'])}): "
                f"{f.get('unexpected_count', '?')} unexpected"
                for f in self.failed
            ]
            text = (f"{self.check_name}: {len(self.failed)} of {self.evaluated} expectations "
                    f"failed on {self.rows} rows: " + "; ".join(parts))
        if self.notes:
            text += " (" + "; ".join(self.notes) + ")"
        return text[:2000]

    def record(self) -> dict[str, Any]:
        """The facts a publication keeps of this result (:data:`RECORDED_FIELDS`)."""
        return {name: getattr(self, name) for name in RECORDED_FIELDS}
