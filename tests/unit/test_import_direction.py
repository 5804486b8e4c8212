"""Imports go one way: orchestration -> quality -> ingestion -> warehouse. A module may import
its own layer and the layers below it, never one above (also not inside a function)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
LAYERS = ("warehouse", "ingestion", "quality", "orchestration")  # bottom to top


def imported_packages(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, top-level package) of every absolute import in ``tree``, nested ones included."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def upward_imports(root: Path) -> list[str]:
    """``file:line: layer imports upper_layer`` for every import of a layer above the file's."""
    problems = []
    for rank, layer in enumerate(LAYERS):
        above = set(LAYERS[rank + 1:])
        for path in sorted((root / layer).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            problems += [f"{path.relative_to(root)}:{line}: {layer} imports {package}"
                         for line, package in imported_packages(tree) if package in above]
    return problems


def test_no_module_imports_a_layer_above_its_own() -> None:
    assert upward_imports(ROOT) == []


@pytest.mark.parametrize("source", [
    "from quality import holds\n",
    "import orchestration.transform\n",
    "def f():\n    from orchestration.transform import dbt_executable\n",
])
def test_an_upward_import_is_named_by_file_and_line(tmp_path: Path, source: str) -> None:
    for layer in LAYERS:
        (tmp_path / layer).mkdir()
    module = tmp_path / "ingestion" / "accounting" / "odd name.py"
    module.parent.mkdir()
    module.write_text("import os\nfrom warehouse import paths\n" + source, encoding="utf-8")
    (tmp_path / "orchestration" / "ok.py").write_text("from warehouse import paths\n")
    [problem] = upward_imports(tmp_path)
    assert problem.startswith(f"ingestion/accounting/odd name.py:{source.count(chr(10)) + 2}: ")
