"""dbt's ``adapter`` for sqlfluff's jinja templater: the models are linted as DuckDB SQL, so
``adapter.dispatch('x')`` resolves to the ``duckdb__x`` macro (or ``x`` itself), as dbt does."""

from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context


@pass_context
def dispatch(context: Context, macro_name: str, macro_namespace: str | None = None) -> Any:
    """The DuckDB implementation of a dispatched macro, as dbt-duckdb would pick it."""
    for name in (f"duckdb__{macro_name}", f"default__{macro_name}", macro_name):
        macro = context.get(name)
        if macro is not None:
            return macro
    raise KeyError(f"no implementation of macro {macro_name!r} for duckdb")
