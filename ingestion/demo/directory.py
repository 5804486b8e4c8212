"""The demo organisation's public counselling-centre directory: ``reference/<org>/locations.csv``.

One row per department: the public address of its counselling centre (Beratungsstelle), as it
stands on the organisation's website. Only public facts: no staff, no contact persons, no
client data. The open-data step turns it into Open Referral HSDS tables.

The streets are deliberately not in the client street pool of :mod:`ingestion.demo.names`, so
the privacy tests, which search every artefact for planted client addresses, stay meaningful.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

COLUMNS = (
    "organisation_code", "organisation_name", "department_code", "location_name",
    "description", "address_1", "postal_code", "city", "state_province", "country",
    "latitude", "longitude", "website",
)

# department code -> (street and number, postcode, latitude, longitude): invented addresses in
# the demo town; coordinates roughly in the city centre of Musterstadt (Leipzig's geometry).
CENTRES: dict[str, tuple[str, str, str, str]] = {
    "SB": ("Nikolaikirchhof 4", "04109", "51.3406", "12.3791"),
    "SUB": ("Thomaskirchhof 12", "04109", "51.3393", "12.3731"),
    "MBE": ("Petersteinweg 9", "04107", "51.3338", "12.3747"),
    "AJH": ("Rathausplatz 2", "04103", "51.3429", "12.3880"),
}
CITY, STATE, COUNTRY = "Musterstadt", "Sachsen", "DE"


def write_directory(
    root: Path, org_code: str, org_name: str, departments: Sequence[tuple[str, str, str]]
) -> Path:
    """Write ``root/locations.csv`` for ``departments`` (code, German name, English name)."""
    root.mkdir(parents=True, exist_ok=True)
    target = root / "locations.csv"
    website = f"https://www.{org_code}-musterstadt.example/"
    with target.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        for code, name, name_en in departments:
            street, postcode, lat, lon = CENTRES[code]
            writer.writerow((
                org_code, org_name, code, f"Beratungsstelle {name}", f"{name} ({name_en})",
                street, postcode, CITY, STATE, COUNTRY, lat, lon, f"{website}{code.lower()}",
            ))
    return target
