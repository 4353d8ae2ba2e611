"""No import cycle in ``src/citybrain``: the module graph, read with ``ast``, has no strongly
connected component of more than one module.

An edge is an import executed when a module is first imported: top-level statements (also inside
``if``/``try``/``with`` at top level), not imports inside functions or classes, nor under
``if TYPE_CHECKING``. Importing ``a.b.c`` also runs the ``__init__`` of ``a.b`` and ``a``, so those
count as edges too, except the importer's own packages (already running when it is imported) unless
it imports a name they define. ``from pkg import name`` is an edge to ``pkg.name`` when that is a
module, else to ``pkg``, so a package ``__init__`` that re-exports its modules has edges to them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in (SRC / "citybrain").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _top_level_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not _type_checking(node.test):
                yield from _top_level_imports(node.body)
            yield from _top_level_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _top_level_imports(block)
        elif isinstance(node, ast.With):
            yield from _top_level_imports(node.body)


def _imported(
    module: str, is_package: bool, node: ast.Import | ast.ImportFrom, modules: dict[str, Path]
) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        target = ".".join([*base, node.module] if node.module else base)
    else:
        target = node.module or ""
    names = [f"{target}.{alias.name}" for alias in node.names]
    yield from names
    # ``from pkg import submodule`` works in a package still initialising (Python imports the
    # submodule itself); only a name defined by ``pkg`` needs ``pkg``'s own code to have run.
    if any(name not in modules for name in names):
        yield target


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        own = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 2)}
        for node in _top_level_imports(ast.parse(path.read_text(encoding="utf-8")).body):
            for name in _imported(module, is_package, node, modules):
                if name in modules and name != module:
                    graph[module].add(name)
                parts = name.split(".")
                for i in range(1, len(parts)):  # the packages it runs on the way there
                    dep = ".".join(parts[:i])
                    if dep in modules and dep not in own:
                        graph[module].add(dep)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            step = next(edges, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(graph[step]))))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_the_graph_sees_imports() -> None:
    graph = import_graph()
    assert "citybrain.core.events" in graph["citybrain.core.bus.base"]  # a plain top-level import
    assert "citybrain.core.bus.embedded" in graph["citybrain.core.bus"]  # a package re-export
    assert "citybrain.core" in graph["citybrain.api.routes_session"]  # a package it runs
    assert "citybrain.core.bus" not in graph["citybrain.core.bus.embedded"]  # its own package
    assert "citybrain.geo.matching.batch" in graph["citybrain.geo.matching.hmm"]
    assert not any("bus.nats" in m for m in graph["citybrain.core.platform"])  # inside a function


def test_cycles_are_found() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_cycle_between_top_level_packages() -> None:
    """Layers stay layers: e.g. ``api`` mounts ``web``, so nothing in ``web`` imports ``api``."""

    def top(module: str) -> str:
        return ".".join(module.split(".")[:2])

    packages: dict[str, set[str]] = {}
    for module, deps in import_graph().items():
        packages.setdefault(top(module), set()).update(top(d) for d in deps if top(d) != top(module))
    for deps in list(packages.values()):
        for d in deps:
            packages.setdefault(d, set())
    found = cycles(packages)
    assert not found, "cycles between packages:\n" + "\n".join(" <-> ".join(c) for c in found)
