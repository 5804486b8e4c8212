"""German labels of the published marts, from one place: the dbt project.

Each published mart column carries, in its dbt YAML (``transform/models/marts/<mart>.yml``)::

    meta:
      label_de: "Quote planmäßiger Beendigungen"    # header in exports and reports
      description_de: "Planmäßige Beendigungen je beendetem Fall."
      n: n_cases_closed                             # rates: the column holding their n
      codes: end_reason_category                    # coded columns: their code list
      translate: reasons                            # English text shown in German (TRANSLATIONS)

and each code its German text in the seed ``transform/seeds/code_labels_de.csv``. The dbt
docs keep the English names and descriptions; analysts' SQL is unchanged. Department exports
(:mod:`warehouse.exports`) and impact reports (:mod:`warehouse.reports`) read them here.

How a figure is shown follows the column naming conventions of the marts: rates end in
``_rate`` or start with ``share_`` (percent), money ends in ``_eur``, counts start with ``n_``.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

from warehouse import reasons
from warehouse.paths import TRANSFORM_DIR

MARTS_YAML = TRANSFORM_DIR / "models" / "marts"
CODE_LABELS = TRANSFORM_DIR / "seeds" / "code_labels_de.csv"

# ``meta.translate`` of a column -> how its English text reads in German. The marts keep the
# English a reader wrote (logs and dbt docs stay English); exports and reports show this.
TRANSLATIONS: dict[str, Callable[[str], str]] = {
    "reasons": lambda text: reasons.translate(text, "de"),
}


class LabelError(ValueError):
    """A mart's YAML asks for something :mod:`warehouse.labels` does not know."""


@dataclass(frozen=True)
class Column:
    """What a person is told about one mart column."""

    name: str
    label: str
    description: str
    n: str | None = None
    codes: str | None = None
    translate: str | None = None  # a key of TRANSLATIONS

    @property
    def kind(self) -> str:
        """``percent``, ``euro``, ``year`` or ``""`` (shown by its type), from the naming
        conventions."""
        if self.name.endswith("_rate") or self.name.startswith("share_"):
            return "percent"
        if self.name.endswith("_eur"):
            return "euro"
        if self.name == "year" or self.name.endswith("_year"):
            return "year"  # 2025, not 2.025
        return ""


@functools.cache
def _columns(marts_yaml: Path = MARTS_YAML) -> dict[str, dict[str, Column]]:
    models: dict[str, dict[str, Column]] = {}
    for path in sorted(marts_yaml.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for model in data.get("models") or []:
            columns = models.setdefault(model["name"], {})
            for column in model.get("columns") or []:
                meta = column.get("meta") or {}
                name = column["name"]
                if meta.get("translate") is not None and meta["translate"] not in TRANSLATIONS:
                    raise LabelError(
                        f"{path.name}: column {model['name']}.{name}: meta.translate "
                        f"{meta['translate']!r} is not one of {', '.join(TRANSLATIONS)}")
                columns[name] = Column(
                    name=name,
                    label=str(meta.get("label_de") or name),
                    description=str(meta.get("description_de") or ""),
                    n=meta.get("n"),
                    codes=meta.get("codes"),
                    translate=meta.get("translate"),
                )
    return models


def column(mart: str, name: str) -> Column:
    """The column's German label; a column the YAML does not describe keeps its name."""
    return _columns().get(mart, {}).get(name) or Column(name=name, label=name, description="")


def columns(mart: str, names: list[str]) -> list[Column]:
    """:func:`column` for each of ``names``, in order."""
    return [column(mart, n) for n in names]


def described_columns(mart: str) -> dict[str, Column]:
    """Every column the dbt YAML describes for ``mart`` (empty for an unknown mart)."""
    return dict(_columns().get(mart, {}))


@functools.cache
def code_labels(path: Path = CODE_LABELS) -> dict[str, dict[str, str]]:
    """code list -> code -> German text (the seed ``code_labels_de``)."""
    labels: dict[str, dict[str, str]] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            labels.setdefault(row["code_list"], {})[row["code"]] = row["label_de"]
    return labels


def german_text(column: Column, text: str | None) -> str | None:
    """``text`` of ``column`` as a person reads it: a code's German text, an English reason in
    German; anything else as it is."""
    if text is None:
        return None
    if column.translate:
        return TRANSLATIONS[column.translate](text)
    if column.codes:
        return code_text(column.codes, text)
    return text


# Several codes in one value ("cases, clients": a file that feeds two entities).
CODE_SEPARATOR = ", "


def code_text(code_list: str, code: str | None) -> str | None:
    """The German text of ``code``, of each code in a list of them ("cases, clients" ->
    "Fälle, Klient:innen"); an unknown code is shown as delivered, never hidden."""
    if code is None:
        return None
    texts = code_labels().get(code_list, {})
    if code in texts or CODE_SEPARATOR not in code:
        return texts.get(code, code)
    return CODE_SEPARATOR.join(texts.get(c, c) for c in code.split(CODE_SEPARATOR))


@functools.cache
def _mart_names(marts_yaml: Path = MARTS_YAML) -> dict[str, str]:
    names: dict[str, str] = {}
    for path in sorted(marts_yaml.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for model in data.get("models") or []:
            meta = (model.get("config") or {}).get("meta") or model.get("meta") or {}
            if meta.get("label_de"):
                names[model["name"]] = str(meta["label_de"])
    return names


def sheet_name(mart: str) -> str:
    """The mart's short German name (``meta.label_de`` of its dbt YAML, at most Excel's 31
    characters); a mart without one keeps its name."""
    return _mart_names().get(mart, mart)
