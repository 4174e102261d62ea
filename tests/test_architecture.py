"""The package's shape: imports run one way (no cycle between files or between folders), every module imports on
its own, and ``import qrelforge`` stays light."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import qrelforge

PACKAGE = Path(qrelforge.__file__).parent


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(name: str, path: Path) -> set[str]:
    """The qrelforge modules ``name`` imports anywhere in its file (inside functions too); a name taken from the
    package's lazy exports counts as its real module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("qrelforge")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            if not base.startswith("qrelforge"):
                continue
            for alias in node.names:
                child = f"{base}.{alias.name}"
                if child in MODULES:
                    found.add(child)
                elif base == "qrelforge" and alias.name in qrelforge._MODULE_OF:
                    found.add(qrelforge._MODULE_OF[alias.name])
                else:
                    found.add(base)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: imported_modules(name, path) for name, path in MODULES.items()}


def unit(name: str) -> str:
    """A module's folder (``qrelforge.students``), or the module itself at the top level (``qrelforge.report``)."""
    parts = name.split(".")
    return ".".join(parts[:2])


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_import_graph_is_read() -> None:
    assert "qrelforge.students.student" in GRAPH["qrelforge.labeling.job"]
    assert "qrelforge.labeling.job" in GRAPH["qrelforge.cli.commands"]  # through `from .. import label_job`


def test_no_import_cycle_between_files() -> None:
    assert cycle(GRAPH) is None, " -> ".join(cycle(GRAPH) or [])


def test_no_import_cycle_between_folders() -> None:
    folders: dict[str, set[str]] = {}
    for name, targets in GRAPH.items():
        if name == "qrelforge":
            continue  # the package's lazy export table names every layer; it imports none of them
        folders.setdefault(unit(name), set()).update(unit(t) for t in targets if unit(t) != unit(name))
    assert cycle(folders) is None, " -> ".join(cycle(folders) or [])


OPTIONAL = {"qrelforge.pyterrier": "pyterrier"}  # modules of an optional extra: they import only with it


def test_every_module_imports_on_its_own() -> None:
    import importlib.util

    missing = {m for m, package in OPTIONAL.items() if importlib.util.find_spec(package) is None}
    code = (
        "import importlib, sys\n"
        f"for name in {sorted(set(MODULES) - {'qrelforge.__main__'} - missing)!r}:\n"
        "    for loaded in [m for m in sys.modules if m.startswith('qrelforge')]:\n"
        "        del sys.modules[loaded]\n"
        "    importlib.import_module(name)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_public_api_is_typed_and_shows_an_example() -> None:
    import importlib
    import inspect

    for name in qrelforge.__all__:
        obj = getattr(qrelforge, name)
        module = importlib.import_module(qrelforge._MODULE_OF[name])
        assert inspect.getdoc(obj), f"{name} has no docstring"
        assert ">>>" in (obj.__doc__ or "") + (module.__doc__ or ""), f"{name}: no example in it or its module"
        if inspect.isfunction(obj):
            signature = inspect.signature(obj)
            untyped = [p for p in signature.parameters.values() if p.annotation is inspect.Parameter.empty]
            assert signature.return_annotation is not inspect.Signature.empty and not untyped, name
