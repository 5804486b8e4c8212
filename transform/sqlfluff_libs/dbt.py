"""dbt's own macro namespace for sqlfluff's jinja templater (``dbt.is_incremental()``)."""


def is_incremental() -> bool:
    """Lint the full-build branch of incremental models, as dbt's builtin does outside a run."""
    return False
