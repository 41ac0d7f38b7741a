"""The project's import graph, read from source with `ast`, and the cycles in it.

Every import statement counts as an edge wherever it sits: at module level, inside a function (the
on-demand imports that used to hide cycles) or under `if TYPE_CHECKING:` (a cycle for the type checker is
still two modules that each need the other). Run `python -m tests.import_graph` to print the cycles.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_PACKAGES = ("runtime", "proxy", "clauderon_tui", "themes")


@dataclass(frozen=True)
class ImportEdge:
    """One import statement: `importer` names `imported` (a project module or an outside one) at `line`;
    `name` is what `from imported import name` takes when that is not a submodule."""

    importer: str
    imported: str
    line: int
    name: str | None = None


@dataclass
class ImportGraph:
    """Modules of the packages read, and every import each makes (project and outside modules alike)."""

    root: Path
    files: dict[str, Path]
    edges: list[ImportEdge] = field(default_factory=list)

    def where(self, edge: ImportEdge) -> str:
        """`path:line` of an import, relative to the root read."""
        return f"{self.files[edge.importer].relative_to(self.root)}:{edge.line}"

    def internal_edges(self) -> dict[str, set[str]]:
        """Adjacency between project modules only (outside modules dropped), without self-imports."""
        adjacency: dict[str, set[str]] = {name: set() for name in self.files}
        for edge in self.edges:
            if edge.imported in self.files and edge.imported != edge.importer:
                adjacency[edge.importer].add(edge.imported)
        return adjacency

    def cycles(self) -> list[list[str]]:
        """Each strongly connected component of more than one module, sorted, biggest first."""
        components = strongly_connected_components(self.internal_edges())
        cycles = [sorted(component) for component in components if len(component) > 1]
        return sorted(cycles, key=lambda cycle: (-len(cycle), cycle))

    def describe_cycle(self, cycle: list[str]) -> str:
        """The cycle's modules and the import lines that tie them, for a failure message."""
        members = set(cycle)
        lines = [f"cycle of {len(cycle)} modules: {', '.join(cycle)}"]
        seen: set[tuple[str, str]] = set()
        for edge in sorted(self.edges, key=lambda e: (e.importer, e.line)):
            pair = (edge.importer, edge.imported)
            if edge.importer in members and edge.imported in members and edge.importer != edge.imported:
                if pair in seen:
                    continue
                seen.add(pair)
                lines.append(f"    {edge.importer} -> {edge.imported}  ({self.where(edge)})")
        return "\n".join(lines)


def is_private(name: str) -> bool:
    """`_name` is private to its module; dunders (`__version__`, `__future__`) are not."""
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_imports(graph: ImportGraph) -> list[ImportEdge]:
    """Imports of another module's private name (`from a import _b`) or of a private module (`a._b`)."""
    return [
        edge for edge in graph.edges
        if any(is_private(part) for part in edge.imported.split(".")) or (edge.name and is_private(edge.name))
    ]


def module_files(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Dotted module name to source file for every `.py` under each package directory of `root`."""
    files: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            files[".".join(parts)] = path
    return files


def _absolute_base(importer: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The module a `from ... import` statement reads from, with relative levels resolved."""
    if node.level == 0:
        return node.module or ""
    package_parts = importer.split(".") if is_package else importer.split(".")[:-1]
    anchor = package_parts[: len(package_parts) - (node.level - 1)]
    return ".".join([*anchor, node.module] if node.module else anchor)


def _imports_in(importer: str, path: Path, known: dict[str, Path]) -> Iterator[ImportEdge]:
    """Every import in one file, each `from a.b import c` resolved to `a.b.c` when that is a module."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield ImportEdge(importer, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute_base(importer, is_package, node)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in known:
                    yield ImportEdge(importer, submodule, node.lineno)
                else:
                    yield ImportEdge(importer, base, node.lineno, None if alias.name == "*" else alias.name)


def build_graph(root: Path, packages: Iterable[str] = PROJECT_PACKAGES) -> ImportGraph:
    """Read every module of `packages` under `root` and collect its imports."""
    files = module_files(root, packages)
    graph = ImportGraph(root, files)
    for name, path in files.items():
        graph.edges.extend(_imports_in(name, path, files))
    return graph


def strongly_connected_components(adjacency: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iterative so a deep chain of imports cannot hit the recursion limit."""
    index_of: dict[str, int] = {}
    lowlink: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[set[str]] = []
    counter = 0
    for start in sorted(adjacency):
        if start in index_of:
            continue
        work: list[tuple[str, Iterator[str]]] = []
        index_of[start] = lowlink[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        work.append((start, iter(sorted(adjacency[start]))))
        while work:
            node, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index_of:
                    index_of[successor] = lowlink[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(adjacency.get(successor, ())))))
                    advanced = True
                    break
                if successor in on_stack:
                    lowlink[node] = min(lowlink[node], index_of[successor])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                lowlink[parent] = min(lowlink[parent], lowlink[node])
            if lowlink[node] == index_of[node]:
                component: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
    return components


def main() -> int:
    """Print every cycle in the project (the repository holding `tests/`), exit 1 if there is one."""
    graph = build_graph(Path(__file__).resolve().parent.parent)
    cycles = graph.cycles()
    for cycle in cycles:
        print(graph.describe_cycle(cycle))
    print(f"{len(cycles)} cycle(s) among {len(graph.files)} modules")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
