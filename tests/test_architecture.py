"""The layout DESIGN.md promises, checked on the source: no import cycles, the layering between packages,
and a docstring on every package saying what it owns."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.import_graph import PROJECT_PACKAGES, ImportGraph, build_graph, private_imports

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def project_graph() -> ImportGraph:
    return build_graph(ROOT)


def _top(module: str) -> str:
    return module.split(".", 1)[0]


def _violations(graph: ImportGraph, importer_package: str, forbidden: set[str]) -> list[str]:
    return [
        f"{graph.where(edge)} imports {edge.imported}"
        for edge in graph.edges
        if _top(edge.importer) == importer_package and _top(edge.imported) in forbidden
    ]


# --- the project ---


def test_no_import_cycles(project_graph: ImportGraph) -> None:
    cycles = project_graph.cycles()
    report = "\n".join(project_graph.describe_cycle(cycle) for cycle in cycles)
    assert not cycles, f"{len(cycles)} import cycle(s) (function-level and TYPE_CHECKING imports count):\n{report}"


def test_graph_reads_every_package(project_graph: ImportGraph) -> None:
    # A graph that silently read nothing would pass the cycle test; make sure each package is there and linked.
    for package in PROJECT_PACKAGES:
        assert package in project_graph.files
    assert "clauderon_tui.cli" in project_graph.internal_edges()["clauderon_tui.__main__"]
    assert len(project_graph.files) > 50


@pytest.mark.parametrize("package", ["runtime", "proxy"])
def test_engine_side_never_imports_the_ui(project_graph: ImportGraph, package: str) -> None:
    forbidden = {"clauderon_tui", "themes", "textual", "rich"}
    assert _violations(project_graph, package, forbidden) == []


def test_proxy_never_imports_runtime(project_graph: ImportGraph) -> None:
    assert _violations(project_graph, "proxy", {"runtime"}) == []


def _reaching_into_proxy(graph: ImportGraph) -> list[str]:
    return [
        f"{graph.where(edge)} imports {edge.imported}"
        for edge in graph.edges
        if _top(edge.importer) == "runtime" and _top(edge.imported) == "proxy" and edge.imported != "proxy"
    ]


def test_runtime_uses_the_proxy_only_through_its_package_exports(project_graph: ImportGraph) -> None:
    assert _reaching_into_proxy(project_graph) == []


MITMPROXY_PATCH = "proxy.errorpages"
"""The one module allowed mitmproxy's private names: it patches mitmproxy's error-page builder and body
states, which have no public hook, pinned to one mitmproxy version (its docstring says why)."""


def test_no_module_imports_private_names(project_graph: ImportGraph) -> None:
    # ruff's SLF001 sees `obj._name` but not `from module import _name`: this is the other half of the rule.
    found = [
        f"{project_graph.where(edge)} imports "
        + (f"{edge.name} from {edge.imported}" if edge.name else edge.imported)
        for edge in private_imports(project_graph)
        if not (edge.importer == MITMPROXY_PATCH and _top(edge.imported) == "mitmproxy")
    ]
    assert not found, "private names imported across modules:\n" + "\n".join(found)


def test_every_package_says_what_it_owns() -> None:
    missing = []
    for package in ("runtime", "proxy", "clauderon_tui", "themes"):
        for init in sorted((ROOT / package).rglob("__init__.py")):
            docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
            if not docstring or not docstring.strip():
                missing.append(str(init.relative_to(ROOT)))
    assert missing == []


# --- the graph reader itself, on small packages made for the purpose ---


def _package(root: Path, files: dict[str, str]) -> Path:
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return root


def test_function_level_import_closes_a_cycle(tmp_path: Path) -> None:
    _package(tmp_path, {
        "pkg/__init__.py": '"""pkg"""\n',
        "pkg/a.py": "from pkg.b import helper\n",
        "pkg/b.py": "def helper() -> None:\n    from pkg import a\n",
    })
    graph = build_graph(tmp_path, ["pkg"])
    assert graph.cycles() == [["pkg.a", "pkg.b"]]
    report = graph.describe_cycle(graph.cycles()[0])
    assert "pkg.a -> pkg.b" in report and "pkg.b -> pkg.a" in report and "b.py:2" in report


def test_type_checking_import_closes_a_cycle(tmp_path: Path) -> None:
    _package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/app.py": "import pkg.commands\n",
        "pkg/commands.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.app import App\n",
    })
    assert build_graph(tmp_path, ["pkg"]).cycles() == [["pkg.app", "pkg.commands"]]


def test_cycle_across_packages_and_through_a_package_init(tmp_path: Path) -> None:
    _package(tmp_path, {
        "one/__init__.py": "from one.core import Thing\n",
        "one/core.py": "from two import Other\nclass Thing: ...\n",
        "two/__init__.py": "from two.impl import Other\n",
        "two/impl.py": "from one import Thing\nclass Other: ...\n",
    })
    assert build_graph(tmp_path, ["one", "two"]).cycles() == [["one", "one.core", "two", "two.impl"]]


def test_relative_imports_are_resolved(tmp_path: Path) -> None:
    _package(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/sub/__init__.py": "from . import left\n",
        "pkg/sub/left.py": "from .right import x\n",
        "pkg/sub/right.py": "from ..sub import left\nx = 1\n",
    })
    assert build_graph(tmp_path, ["pkg"]).cycles() == [["pkg.sub.left", "pkg.sub.right"]]


def test_acyclic_packages_pass(tmp_path: Path) -> None:
    # The usual shape: a package re-exports its modules, which import their siblings and outside libraries,
    # and a name imported from a package (not a submodule) points at the package itself.
    _package(tmp_path, {
        "pkg/__init__.py": "from pkg.high import run\n",
        "pkg/high.py": "import json\nfrom pkg.low import helper\ndef run() -> None:\n    from pkg import mid\n",
        "pkg/mid.py": "from pkg.low import helper\n",
        "pkg/low.py": "import os\ndef helper() -> None: ...\n",
        "user/__init__.py": "from pkg import run\n",
    })
    graph = build_graph(tmp_path, ["pkg", "user"])
    assert graph.cycles() == []
    assert graph.internal_edges()["user"] == {"pkg"}
    assert graph.internal_edges()["pkg.high"] == {"pkg.low", "pkg.mid"}
    assert {edge.imported for edge in graph.edges if edge.importer == "pkg.high"} >= {"json", "pkg.low", "pkg.mid"}


def test_private_imports_are_found(tmp_path: Path) -> None:
    _package(tmp_path, {
        "pkg/__init__.py": "from pkg.a import _helper, public\n",
        "pkg/a.py": "import textual._xterm_parser\nfrom __future__ import annotations\nfrom pkg import __doc__\n"
                    "def public() -> None: ...\ndef _helper() -> None: ...\n",
    })
    found = {(edge.importer, edge.imported, edge.name) for edge in private_imports(build_graph(tmp_path, ["pkg"]))}
    assert found == {("pkg", "pkg.a", "_helper"), ("pkg.a", "textual._xterm_parser", None)}


def test_layering_violations_are_found(tmp_path: Path) -> None:
    _package(tmp_path, {
        "runtime/__init__.py": "",
        "runtime/view.py": "def show() -> None:\n    from textual.app import App\n",
        "runtime/uses_proxy.py": "from proxy import Service\nfrom proxy.service import Service\n",
        "proxy/__init__.py": "",
        "proxy/service.py": "import runtime.view\nclass Service: ...\n",
    })
    graph = build_graph(tmp_path, ["runtime", "proxy"])
    assert _violations(graph, "runtime", {"textual"}) == ["runtime/view.py:2 imports textual.app"]
    assert _violations(graph, "proxy", {"runtime"}) == ["proxy/service.py:1 imports runtime.view"]
    assert _reaching_into_proxy(graph) == ["runtime/uses_proxy.py:2 imports proxy.service"]


def test_self_import_is_not_a_cycle(tmp_path: Path) -> None:
    _package(tmp_path, {"pkg/__init__.py": "import pkg\n", "pkg/a.py": "from pkg import a\n"})
    assert build_graph(tmp_path, ["pkg"]).cycles() == []
