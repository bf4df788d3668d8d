"""The import graph of the project's packages, imports inside functions included: no module imports itself back
through others, and each package stays in its layer.

Layers, bottom up: ``oda`` (errors, output, configuration) and ``prompts``; ``graph_store``; ``catalog`` and
``acquisition``; ``lineage``; the applications (``review_ui``, ``scoring``, ``benchmarking``, ``service``) and the
``evaluation`` harness. ``standins`` (stand-in servers for tests, benches and ``oda hub serve``) sits beside the
product: no product package imports it; the command line reaches ``oda hub`` through the module name
``standins.cli`` in ``oda.cli.COMMAND_MODULES``.

Imports under ``if TYPE_CHECKING:`` are left out: they never run.
"""

from __future__ import annotations

import grimp
import networkx as nx
import pytest

PACKAGES = (
    "oda",
    "prompts",
    "graph_store",
    "catalog",
    "acquisition",
    "lineage",
    "review_ui",
    "scoring",
    "benchmarking",
    "service",
    "evaluation",
    "standins",
)

PRODUCT = ("oda", "prompts", "graph_store", "catalog", "acquisition", "lineage", "review_ui", "scoring")
PRODUCT += ("benchmarking", "service", "evaluation")

# package -> packages it must not import
FORBIDDEN = {
    "graph_store": ("lineage", "review_ui", "scoring", "benchmarking", "service", "standins", "acquisition"),
    "review_ui": ("lineage",),
    "acquisition": ("lineage", "service", "review_ui"),
    "catalog": ("lineage", "service", "review_ui", "acquisition"),
    **{package: ("standins",) for package in PRODUCT},
}


@pytest.fixture(scope="module")
def imports() -> nx.DiGraph:
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True, cache_dir=None)
    edges = nx.DiGraph()
    for module in graph.modules:
        edges.add_node(module)
        for imported in graph.find_modules_directly_imported_by(module):
            edges.add_edge(module, imported)
    return edges


def _package(module: str) -> str:
    return module.split(".", 1)[0]


def _describe(edges: nx.DiGraph, cycle: set[str]) -> str:
    return ", ".join(sorted(f"{a} -> {b}" for a, b in edges.subgraph(cycle).edges))


def test_the_graph_sees_imports_inside_functions(imports: nx.DiGraph) -> None:
    # scoring.registry imports the scorer modules inside registry(); a graph of module-level imports would miss it.
    assert imports.has_edge("scoring.registry", "scoring.heuristic")
    assert len(imports) > 100


def test_no_import_cycles(imports: nx.DiGraph) -> None:
    cycles = [c for c in nx.strongly_connected_components(imports) if len(c) > 1]
    assert not cycles, "import cycles: " + "; ".join(_describe(imports, c) for c in cycles)
    self_imports = [m for m in imports if imports.has_edge(m, m)]
    assert not self_imports


def test_packages_stay_in_their_layer(imports: nx.DiGraph) -> None:
    breaches = sorted((a, b) for a, b in imports.edges if _package(b) in FORBIDDEN.get(_package(a), ()))
    assert not breaches, "\n".join(f"{a} imports {b}" for a, b in breaches)


def test_the_command_line_reaches_standins_only_for_oda_hub() -> None:
    from oda.cli import COMMAND_MODULES

    assert [m for m in COMMAND_MODULES if _package(m) == "standins"] == ["standins.cli"]


# Layers, bottom up (README "How it fits together"); a package imports only packages of its own or a lower layer.
LAYERS = (
    ("oda", "prompts"),
    ("graph_store",),
    ("catalog",),
    ("acquisition",),
    ("lineage",),
    ("review_ui", "scoring", "benchmarking"),
    ("service",),
    ("evaluation",),
)
LAYER_OF = {package: rank for rank, layer in enumerate(LAYERS) for package in layer}


def _is_command_line(module: str) -> bool:
    """``oda.cli``, ``oda.entry`` and each package's ``cli`` module: the top, which wires every part together."""
    return module in ("oda.cli", "oda.entry") or module.split(".")[-1] == "cli"


def test_packages_import_only_their_own_or_lower_layers(imports: nx.DiGraph) -> None:
    upward = sorted(
        (a, b)
        for a, b in imports.edges
        if _package(a) in LAYER_OF
        and _package(b) in LAYER_OF
        and LAYER_OF[_package(b)] > LAYER_OF[_package(a)]
        and not _is_command_line(a)
    )
    assert not upward, "\n".join(f"{a} imports {b}, a higher layer" for a, b in upward)
