"""The shape of lowrank_core, read from its source with ``ast``: one job per file, no file over 600 lines, an
``__all__`` in every module, nothing imported from above the core, and no import cycle between its modules
(imports inside functions included, so a cycle cannot hide there)."""

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

CORE = ROOT / "lowrank_core"
MAX_LINES = 600
ABOVE_THE_CORE = {"streamlit", "plotly", "kaleido", "ui", "pages", "app", "tests", "benchmarks"}


def _module_name(path: Path) -> str:
    """'lowrank_core.sources.image_file' for lowrank_core/sources/image_file.py; a package for __init__."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(CORE.rglob("*.py"))}


def _package(name: str) -> str:
    """The package a module's relative imports start from."""
    return name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]


def _imports(name: str) -> tuple[set[str], set[str]]:
    """(top-level names of outside imports, core modules imported) of one module, anywhere in its body."""
    outside, inside = set(), set()
    for node in ast.walk(ast.parse(MODULES[name].read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES:
                    inside.add(alias.name)
                else:
                    outside.add(alias.name.partition(".")[0])
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if node.module in MODULES or node.module.startswith("lowrank_core."):
                    base = node.module
                else:
                    outside.add(node.module.partition(".")[0])
                    continue
            else:
                base = _package(name)
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                base = f"{base}.{node.module}" if node.module else base
            for alias in node.names:  # `from . import budget` names a module, `from .budget import x` not
                inside.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    inside.discard(name)
    return outside, inside


GRAPH = {name: _imports(name)[1] for name in MODULES}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_core_module_is_over_600_lines(name):
    assert len(MODULES[name].read_text().splitlines()) <= MAX_LINES


@pytest.mark.parametrize("name", sorted(set(MODULES) - {"lowrank_core.__main__"}))
def test_every_core_module_declares_all(name):
    tree = ast.parse(MODULES[name].read_text())
    targets = {target.id for node in tree.body if isinstance(node, ast.Assign)
               for target in node.targets if isinstance(target, ast.Name)}
    assert "__all__" in targets


@pytest.mark.parametrize("name", sorted(MODULES))
def test_the_core_imports_nothing_above_it(name):
    outside, _ = _imports(name)
    assert not outside & ABOVE_THE_CORE


def test_every_core_import_resolves_to_a_core_module():
    assert all(target in MODULES for targets in GRAPH.values() for target in targets)


def test_no_import_cycle_between_core_modules():
    done, path = set(), []

    def visit(name: str) -> None:
        if name in path:
            cycle = " -> ".join([*path[path.index(name):], name])
            pytest.fail(f"import cycle: {cycle}")
        if name in done:
            return
        path.append(name)
        for target in sorted(GRAPH[name]):
            visit(target)
        path.pop()
        done.add(name)

    for name in sorted(GRAPH):
        visit(name)


def test_the_graph_sees_the_imports_it_must_see():
    # a check of the checker: known edges of the layout, relative imports of one and two levels
    assert "lowrank_core.layers" in GRAPH["lowrank_core.training"]
    assert "lowrank_core.image.codec" in GRAPH["lowrank_core.image.rate_distortion"]
    assert "lowrank_core._checks" in GRAPH["lowrank_core.sources.matrix_file"]
    assert "lowrank_core.sources" in GRAPH["lowrank_core.cli.compress"]
    assert "lowrank_core.sources.samples" in GRAPH["lowrank_core.sources"]
