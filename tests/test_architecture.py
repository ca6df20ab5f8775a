"""The house stays layered: imports go down the layers, never up, and never round in a cycle.

Every module of the package is placed in one layer here (a new module must be placed too), and
docs/architecture.md names every module, so the page a newcomer reads stays true.
"""

from __future__ import annotations

import ast
from pathlib import Path

import gradcheck

PACKAGE = Path(gradcheck.__file__).parent
DOCS = Path(__file__).parents[1] / "docs" / "architecture.md"

# Lowest first. A module may import from its own layer or any layer below.
LAYERS: list[tuple[str, set[str]]] = [
    ("errors and options", {"_errors", "_options", "_version"}),
    ("comparison, stencils and steps", {"_compare", "_stencils", "_steps", "_files", "_precision"}),
    (
        "tree and report model",
        {"_tree", "_aliasing", "_complex", "_report", "_report._model", "_report._taylor_model"},
    ),
    (
        "numerics, evaluation, fits, wording, renderings",
        {
            "_finite_differences",
            "_discontinuity",
            "_noise",
            "_noise_map",
            "_directional",
            "_linefit",
            "_grid",
            "_detection",
            "_evaluate",
            "_evaluate._evaluator",
            "_evaluate._scalar",
            "_evaluate._batched",
            "_evaluate._pool",
            "_evaluate._progress",
            "_evaluate._budget",
            "_evaluate._cached",
            "_fits",
            "_wording",
            "_linearity",
            "_report._report",
            "_report._text",
            "_report._json",
            "_report._html",
            "_report._heatmap",
            "_report._heatmap_svg",
            "_report._display",
            "_report._taylor",
            "_report._taylor_text",
            "_report._taylor_html",
            "_rates",
            "_tangents",
        },
    ),
    (
        "probe, plan, diagnosis, outcome",
        {
            "_probe",
            "_plan",
            "_outcome",
            "_diagnose",
            "_assemble",
            "_combine",
            "_analytic_noise",
            "_tolerance",
        },
    ),
    ("strategies", {"_strategy", "_full", "_certify", "_localise", "_regression", "_reference"}),
    (
        "front doors and adapters",
        {
            "__init__",
            "__main__",
            "_check",
            "_vjp",
            "_hvp",
            "_jvp",
            "_taylor",
            "_monitor",
            "_problem",
            "_cli",
            "_cli_run",
            "_demo",
            "_demo_train",
            "_vmap",
            "_modes",
            "torch",
            "_torch_function",
            "_torch_sequential",
            "_torch_modes",
            "_torch_contracts",
            "_torch_precision",
            "jax",
            "_jax_modes",
        },
    ),
]
RANK = {module: rank for rank, (_, modules) in enumerate(LAYERS) for module in modules}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, module: str) -> set[str]:
    """The package modules ``module`` imports at run time (imports under TYPE_CHECKING excluded)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and _is_type_checking(node)
        for inner in ast.walk(node)
    }
    package = (
        module.split(".") if path.name == "__init__.py" and module != "__init__" else module.split(".")[:-1]
    )
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):  # import gradcheck._tree (absolute)
            found |= {alias.name.removeprefix("gradcheck.") for alias in node.names}
            continue
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level == 0:  # from gradcheck._tree import flatten, from gradcheck import _tree
            if node.module is None or not (node.module + ".").startswith("gradcheck."):
                continue
            target = node.module.split(".")[1:]
        else:
            base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
            target = [*base, *(node.module.split(".") if node.module else [])]
        for alias in node.names:
            found |= {".".join(target), ".".join([*target, alias.name])}
    return {m for m in found if m in RANK}


def _graph() -> dict[str, set[str]]:
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        graph[module] = _imports(path, module) - {module}
    return graph


def test_every_module_is_placed_in_a_layer():
    modules = set(_graph())
    assert modules - set(RANK) == set(), "place new modules in LAYERS (and docs/architecture.md)"
    assert set(RANK) - modules == set(), "LAYERS names modules that no longer exist"


def test_imports_never_go_up_a_layer():
    upward = [
        f"{module} ({LAYERS[RANK[module]][0]}) imports {target} ({LAYERS[RANK[target]][0]})"
        for module, targets in _graph().items()
        for target in targets
        if RANK[target] > RANK[module]
    ]
    assert upward == []


def test_there_is_no_import_cycle():
    graph = _graph()
    state: dict[str, int] = {}  # 1 on the stack, 2 done

    def visit(module: str, path: list[str]) -> list[str]:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                return [*path, module, target]
            if target not in state:
                cycle = visit(target, [*path, module])
                if cycle:
                    return cycle
        state[module] = 2
        return []

    for module in sorted(graph):
        if module not in state:
            assert visit(module, []) == [], "import cycle"


def test_a_sub_package_init_imports_only_its_own_modules():
    """Importing any module of a family runs the family's __init__ first: it must not pull in
    another layer (the report model must load without its renderers)."""
    for init in PACKAGE.glob("*/__init__.py"):
        family = init.parent.name
        assert {m for m in _imports(init, family) if not m.startswith(family + ".")} == set(), init


def test_the_architecture_page_names_every_module():
    text = DOCS.read_text(encoding="utf-8")
    missing = [m for m in RANK if m not in ("__init__", "__main__") and f"`{m.split('.')[-1]}`" not in text]
    assert missing == [], f"docs/architecture.md does not describe {missing}"
