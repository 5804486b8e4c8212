"""Department exports after each publication: each pilot department's own rows, as files."""


from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from warehouse import paths
from warehouse.exports import export_departments, load_all_configs


@asset(
    key=AssetKey(["department_exports"]),
    deps=[AssetKey(["published_marts"]), AssetKey(["impact_reports"])],
    group_name="publish",
    kinds={"excel", "csv", "parquet"},
    owners=["team:data-engineering"],
    description=(
        "Each pilot department's own rows of the published marts (departments.yml in the "
        "organisation's reference inbox), in German for Excel: `exports/<department>/<date>/` "
        "with one file per mart and format and a manifest that links the department's impact "
        "report; written to a new folder, renamed into place, `exports/<department>/latest` "
        "points to the newest. Runs only after a publication."
    ),
)
def department_exports(context: AssetExecutionContext) -> MaterializeResult:
    configs = paths.departments_configs()
    departments = load_all_configs(configs)
    if not departments:
        context.log.warning(
            f"no departments.yml under {paths.reference_inbox()}/<org>/: no department exports")
        return MaterializeResult(metadata={
            "departments": MetadataValue.int(0),
            "dagster/row_count": MetadataValue.int(0),
        })
    results = export_departments(departments)
    for r in results:
        if r.unchanged:
            context.log.info(f"{r.department}: rows unchanged, export of {r.date} kept")
        if r.pruned:
            context.log.info(f"{r.department}: removed old exports {', '.join(r.pruned)}")
    files = [f for r in results for f in r.files]
    return MaterializeResult(metadata={
        "path": MetadataValue.path(str(paths.exports_dir())),
        "generation": MetadataValue.text(results[0].generation),
        "date": MetadataValue.text(results[0].date),
        "departments": MetadataValue.int(len(results)),
        "departments_rewritten": MetadataValue.int(sum(not r.unchanged for r in results)),
        "files": MetadataValue.int(len(files)),
        "config": MetadataValue.text(", ".join(str(p) for p in configs)),
        "dagster/row_count": MetadataValue.int(
            sum(f["rows"] for f in files if f["format"] == files[0]["format"])),
        **{f"rows_{r.department}": MetadataValue.json(
            {f["mart"]: f["rows"] for f in r.files}) for r in results},
    })
