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
