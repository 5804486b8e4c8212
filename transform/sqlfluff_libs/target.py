"""dbt's ``target`` for sqlfluff's jinja templater: the models are linted as DuckDB SQL."""

type = "duckdb"  # noqa: A001 - the attribute dbt's target has
schema = "main"
