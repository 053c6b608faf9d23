"""The import graph of our packages: no circles, and dependencies one way.

Every module under the packages is read with ``ast`` (nothing is imported),
and every import in it counts: top-level, function-local, under
``TYPE_CHECKING``, and ``importlib.import_module("...")`` with a constant
name, since a lazy or dynamic import hides a dependency rather than
removing it. An edge goes to the module named (``from a.b import c`` is
``a.b.c`` when that is a module, else ``a.b``), not to the packages above
it, so a package's ``__init__`` that re-exports its submodules is no circle.

``RULES``, ``FORBIDDEN`` and ``COMPOSITION_ROOTS`` are the table "Layout and
dependency rules" of docs/architecture.md; a test keeps the two the same.
"""

from __future__ import annotations

import ast
import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# package -> the other packages of ours it may import (itself always).
RULES: dict[str, tuple[str, ...]] = {
    "martlet": (),
    "ring": ("martlet",),
    "storage": ("martlet",),
    "proxy": ("ring", "martlet"),
    "replicator": ("ring", "martlet", "storage"),
    "expirer": ("ring", "martlet", "storage", "replicator"),
    "ops": ("ring", "martlet"),
}
# Modules of an allowed package that a package may still not import: the
# replicator runs beside storage's on-disk code, never its HTTP handlers.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "replicator": ("storage.server", "storage.*_server", "storage.replication",
                   "storage.db_replication", "storage.cli"),
    "expirer": ("storage.server", "storage.*_server", "storage.replication",
                "storage.db_replication", "storage.cli"),
}
# The composition root lists every component's subcommands, so it may also
# import each package's ``cli`` module.
COMPOSITION_ROOTS = ("ops.main",)


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module
    where: str  # file:line of the import
    via: str = ""  # for an import lifted to siblings: the modules' own import

    def __str__(self) -> str:
        if self.via:
            return f"{self.where}: {self.source} -> {self.target} ({self.via})"
        return f"{self.where}: {self.source} imports {self.target}"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    """Every module of our packages, by dotted name."""
    return {module_name(p): p for package in RULES for p in sorted((ROOT / package).rglob("*.py"))}


def resolve(name: str, modules: set[str]) -> str | None:
    """The module ``name`` denotes: itself, or its longest prefix that is a
    module (``a.b.func`` -> ``a.b``); None when it is not one of ours."""
    parts = name.split(".")
    while parts:
        if ".".join(parts) in modules:
            return ".".join(parts)
        parts.pop()
    return None


def imports_in(tree: ast.AST, module: str, is_package: bool, modules: set[str]) -> Iterator[tuple[str, int]]:
    """(imported module, line) for every import of ours anywhere in ``tree``."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            # ``from a import b``: the module a.b if there is one, else a.
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            names = [node.args[0].value]
        for name in names:
            target = resolve(name, modules)
            if target is not None and target != module:
                yield target, getattr(node, "lineno", 0)


def import_graph(modules: dict[str, Path]) -> list[Import]:
    """One edge per (importer, imported) pair, at its first import."""
    names = set(modules)
    edges: dict[tuple[str, str], Import] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for target, line in imports_in(tree, module, path.name == "__init__.py", names):
            edges.setdefault((module, target), Import(module, target, f"{path.relative_to(ROOT)}:{line}"))
    return list(edges.values())


def strongly_connected(edges: list[Import]) -> list[list[str]]:
    """Tarjan's components with more than one module: each holds a circle."""
    graph: dict[str, list[str]] = {}
    for edge in edges:
        graph.setdefault(edge.source, []).append(edge.target)
        graph.setdefault(edge.target, [])
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def shortest_circle(component: list[str], edges: list[Import]) -> list[Import]:
    """A shortest circle through the component's first module, edge by edge."""
    members = set(component)
    out: dict[str, list[Import]] = {}
    for edge in edges:
        if edge.source in members and edge.target in members:
            out.setdefault(edge.source, []).append(edge)
    start = component[0]
    paths: dict[str, list[Import]] = {start: []}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for edge in sorted(out.get(node, []), key=lambda e: e.target):
                if edge.target == start:
                    return [*paths[node], edge]
                if edge.target not in paths:
                    paths[edge.target] = [*paths[node], edge]
                    following.append(edge.target)
        frontier = following
    raise AssertionError(f"no circle in component {component}")


def sibling_edges(edges: list[Import]) -> list[Import]:
    """The imports lifted to siblings: an import from ``a.x.m`` of ``a.y.n``
    is one of sibling ``a.x`` of sibling ``a.y``, so that two subpackages
    that import each other form a circle even when no two of their modules
    do. An import between a package and what it contains is not lifted (an
    ``__init__`` that re-exports its submodules is no circle)."""
    lifted: dict[tuple[str, str], Import] = {}
    for edge in edges:
        source, target = edge.source.split("."), edge.target.split(".")
        common = 0
        while common < min(len(source), len(target)) and source[common] == target[common]:
            common += 1
        if common in (len(source), len(target)):
            continue
        pair = (".".join(source[: common + 1]), ".".join(target[: common + 1]))
        via = "" if pair == (edge.source, edge.target) else f"{edge.source} imports {edge.target}"
        lifted.setdefault(pair, Import(pair[0], pair[1], edge.where, via))
    return list(lifted.values())


def circles(edges: list[Import], only_with: set[str] | None = None) -> list[str]:
    """One report per strongly connected component (with a member in
    ``only_with``, if given): its members and one circle."""
    reports = []
    for component in strongly_connected(edges):
        if only_with is not None and not only_with & set(component):
            continue
        circle = shortest_circle(component, edges)
        steps = "\n".join(f"    {edge}" for edge in circle)
        reports.append(f"circle among {', '.join(component)}:\n{steps}")
    return reports


def rule_breaks(edges: list[Import]) -> list[str]:
    breaks = []
    for edge in edges:
        source, target = edge.source.split(".")[0], edge.target.split(".")[0]
        if source == target:
            continue
        if edge.source in COMPOSITION_ROOTS and edge.target == f"{target}.cli":
            continue
        allowed = RULES[source]
        if target not in allowed:
            only = ", ".join(f"{p}/" for p in allowed) or "nothing of ours"
            breaks.append(f"{edge}: {source}/ may import only {only}")
        elif any(fnmatch.fnmatchcase(edge.target, pattern) for pattern in FORBIDDEN.get(source, ())):
            breaks.append(f"{edge}: {source}/ may not import {edge.target} (FORBIDDEN)")
    return breaks


def test_no_import_circles_between_modules() -> None:
    found = circles(import_graph(all_modules()))
    assert not found, "import circles:\n" + "\n".join(found)


def test_no_import_circles_between_packages() -> None:
    """Circles of siblings with a subpackage among them (those of modules
    alone are the test above's)."""
    modules = all_modules()
    packages = {name for name, path in modules.items() if path.name == "__init__.py"}
    found = circles(sibling_edges(import_graph(modules)), only_with=packages)
    assert not found, "import circles between packages:\n" + "\n".join(found)


def test_imports_follow_the_dependency_rules() -> None:
    breaks = rule_breaks(import_graph(all_modules()))
    assert not breaks, "imports against the rules of docs/architecture.md:\n" + "\n".join(breaks)


# -- the checks themselves ------------------------------------------------------


def test_every_kind_of_import_is_seen() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "import importlib\n"
        "from ring import load_ring\n"
        "from ring import ring_file\n"
        "if TYPE_CHECKING:\n"
        "    from storage.diskfile import DiskFile\n"
        "def f():\n"
        "    import proxy.app\n"
        "    from . import sibling\n"
        "    from .sibling import thing\n"
        "    return importlib.import_module('replicator.cli')\n"
    )
    modules = {"ring", "ring.ring_file", "storage.diskfile", "proxy.app", "ops.sibling", "replicator.cli", "ops.x"}
    seen = sorted(imports_in(ast.parse(source), "ops.x", False, modules))
    assert seen == [("ops.sibling", 9), ("ops.sibling", 10), ("proxy.app", 8), ("replicator.cli", 11),
                    ("ring", 3), ("ring.ring_file", 4), ("storage.diskfile", 6)]


def test_a_circle_and_a_rule_break_are_reported_with_file_and_line() -> None:
    edges = [Import("ring.a", "ring.b", "ring/a.py:3"), Import("ring.b", "ring.c", "ring/b.py:4"),
             Import("ring.c", "ring.a", "ring/c.py:5"), Import("ring.c", "proxy.app", "ring/c.py:9"),
             Import("replicator.x", "storage.object_server", "replicator/x.py:2"),
             Import("ops.main", "proxy.cli", "ops/main.py:1"), Import("ops.dev", "proxy.cli", "ops/dev.py:7")]
    (report,) = circles(edges)
    assert "ring/a.py:3: ring.a imports ring.b" in report and "ring/c.py:5: ring.c imports ring.a" in report
    assert rule_breaks(edges) == [
        "ring/c.py:9: ring.c imports proxy.app: ring/ may import only martlet/",
        "replicator/x.py:2: replicator.x imports storage.object_server: replicator/ may not import "
        "storage.object_server (FORBIDDEN)",
        "ops/dev.py:7: ops.dev imports proxy.cli: ops/ may import only ring/, martlet/",
    ]


def test_subpackages_that_import_each_other_are_a_circle() -> None:
    edges = [Import("proxy.controllers.object", "proxy.large_objects", "proxy/controllers/object.py:23"),
             Import("proxy.large_objects.copy", "proxy.controllers.base", "proxy/large_objects/copy.py:23"),
             Import("proxy.large_objects", "proxy.large_objects.copy", "proxy/large_objects/__init__.py:28"),
             Import("proxy.large_objects.copy", "proxy.large_objects", "proxy/large_objects/copy.py:30")]
    (between_modules,) = circles(edges)
    assert between_modules.startswith("circle among proxy.large_objects, proxy.large_objects.copy:")
    (report,) = circles(sibling_edges(edges))
    assert "proxy/large_objects/copy.py:23: proxy.large_objects -> proxy.controllers " \
        "(proxy.large_objects.copy imports proxy.controllers.base)" in report


def doc_rows() -> dict[str, str]:
    """package -> its "may import" cell in docs/architecture.md's table."""
    text = (ROOT / "docs/architecture.md").read_text(encoding="utf-8")
    table = text.split("## Layout and dependency rules", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        match = re.fullmatch(r"`(\w+)/`", cells[0]) if len(cells) == 3 else None
        if match:
            rows[match[1]] = cells[2]
    return rows


def test_rules_mirror_the_architecture_doc() -> None:
    rows = doc_rows()
    assert set(rows) == set(RULES), "one row per package"
    for package, cell in rows.items():
        named = set(re.findall(r"`(\w+)/`", cell)) & set(RULES)
        assert named == set(RULES[package]), f"{package}/: the doc says {sorted(named)}"
        paths = set(re.findall(r"`([\w*/]+\.py)`", cell))
        expected = {p.replace(".", "/") + ".py" for p in FORBIDDEN.get(package, ())}
        expected |= {r.replace(".", "/") + ".py" for r in COMPOSITION_ROOTS if r.startswith(f"{package}.")}
        assert paths == expected, f"{package}/: the doc names {sorted(paths)}"
