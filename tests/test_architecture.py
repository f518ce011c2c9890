"""The layout keeps its shape: no import cycle, the core imports nothing above it, ui imports no page, and no
file grows into a grab-bag (docs/architecture.md). Read with ``ast`` from the source, nothing is imported."""

import ast
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGES = ("lowrank_core", "ui")
MAX_LINES = {"ui": 400, "pages": 300, "lowrank_core": 600}


def _modules() -> dict[str, Path]:
    """Dotted name -> file of every module of the app: lowrank_core, ui, pages and app.py."""
    found = {"app": ROOT / "app.py"}
    for top in (*PACKAGES, "pages"):
        for path in (ROOT / top).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The project module an import names (its longest known prefix), or None for an outside package."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in MODULES:
            return candidate
    return None


def _imports(module: str) -> set[str]:
    """Every name a module imports, at any depth (imports inside functions count), made absolute."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return names


def _graph() -> dict[str, set[str]]:
    """Project module -> the project modules it imports."""
    graph = {}
    for module in MODULES:
        targets = {_resolve(name) for name in _imports(module)}
        graph[module] = {t for t in targets if t is not None and t != module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return out


def test_no_module_imports_another_that_imports_it_back():
    assert _cycles(_graph()) == []


def test_the_core_imports_nothing_above_it():
    for module in MODULES:
        if module.split(".")[0] != "lowrank_core":
            continue
        above = {name for name in _imports(module)
                 if name.split(".")[0] in ("ui", "pages", "app", "streamlit", "plotly")}
        assert not above, f"{module} imports {sorted(above)}"


def test_ui_imports_no_page_and_no_page_imports_another():
    graph = _graph()
    for module, targets in graph.items():
        if module.startswith(("ui", "pages.")):
            pages = {t for t in targets if t.startswith("pages.")}
            assert not pages, f"{module} imports {sorted(pages)}"


@pytest.mark.parametrize("top", sorted(MAX_LINES))
def test_no_file_outgrows_its_room(top):
    limit = MAX_LINES[top]
    too_long = {str(path.relative_to(ROOT)): n for path in (ROOT / top).rglob("*.py")
                if (n := len(path.read_text(encoding="utf-8").splitlines())) > limit}
    assert not too_long, f"over {limit} lines: {too_long}"


def test_the_upload_limit_is_written_once():
    from ui.limits import CHECKPOINT_MAX_UPLOAD_MB, LAYER_MAX_UPLOAD_MB, MAX_UPLOAD_MB, SERVER_MAX_UPLOAD_MB

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["maxUploadSize"] == SERVER_MAX_UPLOAD_MB
    assert SERVER_MAX_UPLOAD_MB == max(MAX_UPLOAD_MB, LAYER_MAX_UPLOAD_MB, CHECKPOINT_MAX_UPLOAD_MB)


def test_every_uploader_passes_its_own_limit():
    """The server's limit is the checkpoint page's 256 MB: every other uploader must say its own."""
    calls = []
    for module, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "file_uploader":
                calls.append((module, {keyword.arg for keyword in node.keywords}))
    assert len(calls) >= 4
    assert all("max_upload_size" in keywords for _, keywords in calls), calls
