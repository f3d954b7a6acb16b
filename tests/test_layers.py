"""The library's layers only point down: science <- teaching <- tooling.

Read from the source with ``ast``, so a lazy import inside a function counts
as much as one at the top of a module.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "neuralcircuits"
LAYERS = ["science", "teaching", "tooling"]  # each may import only those before it


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name.startswith("neuralcircuits.")}


def _layer(module: str) -> str | None:
    part = module.split(".")[1]
    return part if part in LAYERS else None


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_no_layer_above_it(layer):
    above = set(LAYERS[LAYERS.index(layer) + 1 :])
    crossings = [
        f"{path.relative_to(PACKAGE.parent)} imports {name}"
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        for name in sorted(_imports(path))
        if _layer(name) in above
    ]
    assert not crossings, "layers must only point down:\n" + "\n".join(crossings)


def test_every_module_sits_in_a_layer():
    loose = [p.name for p in PACKAGE.glob("*.py") if p.name != "__init__.py"]
    assert not loose, f"modules outside science/, teaching/ and tooling/: {loose}"


def test_the_contract_catches_a_crossing(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from neuralcircuits.tooling.paths import BUILD\n")
    assert _layer(next(iter(_imports(module)))) == "tooling"


def test_scenes_take_their_numbers_from_science_and_figures_not_widgets():
    scenes = Path(__file__).resolve().parent.parent / "animations"
    widget_imports = [
        f"{path.name} imports {name}"
        for path in sorted(scenes.glob("*.py"))
        for name in sorted(_imports(path))
        if name.endswith(".widgets") or ".widgets." in name
    ]
    assert not widget_imports, "\n".join(widget_imports)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Each module of the package -> the package's modules it imports (lazy imports too)."""
    paths = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in paths.items():
        found = set()
        for imported in _imports(path):
            # `from a.b import c` imports the module a.b.c when there is one, else a.b
            while imported not in paths and "." in imported:
                imported = imported.rsplit(".", 1)[0]
            if imported in paths and imported != name:
                found.add(imported)
        graph[name] = found
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles of a graph: each strongly connected group of two or more modules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_no_two_modules_import_each_other():
    cycles = _cycles(_import_graph())
    assert not cycles, (
        "modules that import each other (directly or round a loop):\n"
        + ("\n".join(" <-> ".join(group) for group in cycles))
    )


def test_the_cycle_test_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [
        ["a", "b", "c"]
    ]
    assert _cycles({"a": {"b"}, "b": set()}) == []


MAX_MODULE_LINES = 600


def test_no_module_is_over_600_lines():
    long = [
        f"{path.relative_to(PACKAGE.parent)}: {n} lines"
        for path in sorted(PACKAGE.rglob("*.py"))
        if (n := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    ]
    assert not long, f"split these modules (at most {MAX_MODULE_LINES} lines):\n" + (
        "\n".join(long)
    )
