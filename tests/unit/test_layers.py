"""The layer rules of docs/architecture.md, checked on the import statements of src/ and dags/.

Every import counts, at module level or inside a function (a lazy import is still a dependency).
A failure names the file, the line and the import that breaks the rule.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
DAGS = REPO / "dags"
PACKAGE = "mlops_platform"

# The layer a module sits in is the first name under the package; each may import these layers
# (and itself). The root package (its version) may be imported by any of them.
_LIBRARY = {"errors", "config", "storage", "evaluation", "data", "features", "models", "monitoring", "registry"}
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "config": {"errors"},
    "storage": {"errors", "config"},
    "evaluation": {"errors", "config"},
    "data": {"errors", "config", "storage"},
    "features": {"errors", "config", "storage", "data"},
    "models": {"errors", "config", "evaluation"},
    "monitoring": {"errors", "config", "evaluation"},
    "registry": {"errors", "config"},
    "pipelines": _LIBRARY,
    "orchestration": _LIBRARY | {"pipelines"},
    "serving": _LIBRARY | {"pipelines"},
    "cli": _LIBRARY | {"pipelines", "orchestration", "serving"},
}
# What the DAG side may use of the package: DAG files reach the library through orchestration.
DAG_FILES_ALLOWED = {"orchestration", "errors"}
DAG_HELPERS_ALLOWED = {"orchestration", "errors", "config", "storage", "registry", "cli"}


@dataclass(frozen=True)
class Import:
    """One import statement: the importing module, where it is, and the module it loads."""

    module: str
    path: Path
    line: int
    target: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line} imports {self.target}"


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path) -> dict[str, Path]:
    return {module_name(p, root): p for p in sorted(root.rglob("*.py")) if "__pycache__" not in p.parts}


def resolve(name: str, known: dict[str, Path]) -> str:
    """``name`` or, when it is not a module itself, the nearest enclosing package or module."""
    while name and name not in known and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def imports_of(module: str, path: Path, known: dict[str, Path]) -> Iterator[Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, path, node.lineno, resolve(alias.name, known))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield Import(module, path, node.lineno, full if full in known else resolve(base, known))


def all_modules() -> dict[str, Path]:
    return {**modules(SRC), **modules(DAGS)}


def all_imports() -> list[Import]:
    known = all_modules()
    return [imp for module, path in known.items() for imp in imports_of(module, path, known)]


def layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    return parts[1] if len(parts) > 1 else ""


def layer_violations(imports: list[Import]) -> list[str]:
    found = []
    for imp in imports:
        source, target = layer(imp.module), layer(imp.target)
        if source is None or target is None or target in ("", source):
            continue
        if source not in ALLOWED:
            found.append(f"{imp}: {imp.module} is in no known layer")
        elif target not in ALLOWED[source]:
            allowed = ", ".join(sorted(ALLOWED[source])) or "nothing of the package"
            found.append(f"{imp}: layer {source!r} may import only {allowed}")
    return list(dict.fromkeys(found))


def dag_violations(imports: list[Import]) -> list[str]:
    found = []
    for imp in imports:
        target = layer(imp.target)
        if not imp.path.is_relative_to(DAGS) or target is None:
            continue
        helper = imp.module.startswith("mlops_dags")
        allowed = DAG_HELPERS_ALLOWED if helper else DAG_FILES_ALLOWED
        if target not in allowed:
            where = "dags/mlops_dags" if helper else "a DAG file"
            found.append(f"{imp}: {where} may use only mlops_platform.{{{', '.join(sorted(allowed))}}}")
    return list(dict.fromkeys(found))


def cycles(imports: list[Import]) -> list[list[str]]:
    """The import circles among the project's modules (strongly connected components of 2 or more)."""
    known = all_modules()
    graph: dict[str, set[str]] = {m: set() for m in known}
    for imp in imports:
        if imp.target in known and imp.target != imp.module:
            graph[imp.module].add(imp.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_scan_sees_every_layer_and_the_dags() -> None:
    imports = all_imports()
    layers = {layer(i.module) for i in imports}
    assert set(ALLOWED) <= layers
    assert any(i.path.is_relative_to(DAGS) for i in imports)
    assert len(imports) > 500


def test_no_layer_imports_a_layer_above_it() -> None:
    assert layer_violations(all_imports()) == []


def test_nothing_below_pipelines_imports_pipelines_cli_or_orchestration() -> None:
    upper = {"pipelines", "cli", "orchestration", "serving"}  # serving sits beside orchestration
    offending = [
        str(i)
        for i in all_imports()
        if layer(i.module) not in (None, *upper) and layer(i.target) in upper and i.path.is_relative_to(SRC)
    ]
    assert offending == []


@pytest.mark.parametrize("low", ["storage", "evaluation"])
def test_the_ground_floor_imports_only_errors_and_config(low: str) -> None:
    offending = [
        str(i)
        for i in all_imports()
        if layer(i.module) == low and layer(i.target) not in (None, low, "errors", "config")
    ]
    assert offending == []


def test_no_module_under_src_imports_airflow() -> None:
    offending = [str(i) for i in all_imports() if i.path.is_relative_to(SRC) and i.target.split(".")[0] == "airflow"]
    assert offending == []


def test_dag_files_reach_the_library_through_orchestration() -> None:
    assert dag_violations(all_imports()) == []


def test_there_are_no_import_circles() -> None:
    assert cycles(all_imports()) == []


def test_the_checks_catch_a_breach(tmp_path: Path) -> None:
    """The rules would fail on a storage module importing the CLI, a DAG importing models, a circle."""
    fake = [
        Import("mlops_platform.storage", SRC / "mlops_platform/storage.py", 3, "mlops_platform.cli.app"),
        Import("mlops_platform.models.churn", SRC / "mlops_platform/models/churn.py", 4, "mlops_platform.pipelines"),
        Import("daily_scoring", DAGS / "daily_scoring.py", 5, "mlops_platform.models.churn"),
    ]
    violations = layer_violations(fake)
    assert len(violations) == 2
    assert "src/mlops_platform/storage.py:3 imports mlops_platform.cli.app" in violations[0]
    assert "layer 'storage' may import only config, errors" in violations[0]
    assert "dags/daily_scoring.py:5 imports mlops_platform.models.churn" in dag_violations(fake)[0]
    circle = [
        Import("mlops_platform.errors", SRC / "mlops_platform/errors.py", 1, "mlops_platform.storage"),
        Import("mlops_platform.storage", SRC / "mlops_platform/storage.py", 1, "mlops_platform.errors"),
    ]
    assert ["mlops_platform.errors", "mlops_platform.storage"] in cycles(circle)
