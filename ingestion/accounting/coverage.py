"""Is a DATEV re-delivery a plausible replacement for the bookings it would replace?

A later file of a Mandant replaces, on every day of its period, the bookings in force (see
``stg_accounting__bookings``). A file cut off exactly at a line end during transfer, or exported
with a wrong filter, is a valid file: every check that compares the warehouse with the file's
own totals passes, and the period silently loses most of its bookings. So before such a file
replaces anything, its coverage is compared with what is in force in its period, by three
measures: booking lines, money moved (absolute sum), and days with bookings. When any of them
falls below :data:`MIN_SHARE` of what it replaces, the file is held for a steward's confirmation
(:func:`warehouse.holds.hold_files`; ``datenwerk held`` / ``datenwerk release``), not merged.

Compared with the bookings in force in the last build (staging), not with files of the same
delivery or loads that never reached staging.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb

from ingestion.accounting.datev import Buchungsstapel
from warehouse.db import table_exists

# A correction changes some bookings of a period; losing half of them (by lines, money or
# booking days) is what a cut transfer or a wrong export filter looks like, and rare enough in
# real corrections that asking a steward costs little. The measured truncation kept 30 % of the
# lines (180 of 601).
MIN_SHARE = 0.5
# Below this many bookings replaced, shares are noise (a month with a handful of bookings can
# halve by one correction), and a steward reads such small periods anyway.
MIN_REPLACED_LINES = 20

IN_FORCE_SQL = """
select
    count(*) as lines,
    coalesce(sum(abs(amount_eur)), 0) as absolute_eur,
    count(distinct document_date) as days,
from staging.stg_accounting__bookings
where organisation_code = ? and consultant_number = ? and client_number = ?
    and document_date between ? and ?
"""


@dataclass(frozen=True)
class Coverage:
    """What a re-delivery holds beside the bookings in force that it would replace."""

    lines: int
    absolute_eur: Decimal
    days: int
    replaced_lines: int
    replaced_absolute_eur: Decimal
    replaced_days: int

    def shares(self) -> dict[str, float]:
        """Each measure of the file as a share of what it replaces."""
        return {
            "lines": self.lines / self.replaced_lines if self.replaced_lines else 1.0,
            "money": float(self.absolute_eur / self.replaced_absolute_eur)
            if self.replaced_absolute_eur else 1.0,
            "days": self.days / self.replaced_days if self.replaced_days else 1.0,
        }

    @property
    def too_small(self) -> bool:
        """Whether the file covers much less than it replaces (see :data:`MIN_SHARE`)."""
        return (self.replaced_lines >= MIN_REPLACED_LINES
                and min(self.shares().values()) < MIN_SHARE)

    def reason(self) -> str:
        """The comparison in words, for the hold record and the log."""
        shares = self.shares()
        return (
            f"re-delivery covers much less than the bookings it would replace: "
            f"{self.lines} of {self.replaced_lines} lines ({shares['lines']:.0%}), "
            f"{self.absolute_eur} of {self.replaced_absolute_eur} EUR moved "
            f"({shares['money']:.0%}), {self.days} of {self.replaced_days} booking days "
            f"({shares['days']:.0%}); below {MIN_SHARE:.0%} it is held until a steward "
            "confirms it (cut off in transfer, or a wrong export filter?)"
        )


def coverage(stapel: Buchungsstapel, organisation_code: str, build_db: Path) -> Coverage | None:
    """The file's coverage against the bookings in force in its period; None when nothing is in
    force there yet (a first delivery replaces nothing)."""
    header = stapel.header
    if not build_db.exists():
        return None
    with duckdb.connect(str(build_db), read_only=True) as con:
        if not table_exists(con, "staging", "stg_accounting__bookings"):
            return None
        lines, absolute, days = con.execute(IN_FORCE_SQL, [
            organisation_code, header.consultant_number, header.client_number,
            header.period_from, header.period_to,
        ]).fetchall()[0]
    if not lines:
        return None
    control = stapel.control
    return Coverage(
        lines=control.lines,
        absolute_eur=control.absolute_eur,
        days=stapel.booking_days,
        replaced_lines=int(lines),
        replaced_absolute_eur=Decimal(absolute),
        replaced_days=int(days),
    )
