"""No import cycle among the model, saving, CLI, parity and benchmark modules.

The module-level imports of every ``gpuflow`` module (those run when the module loads: at its top, or inside a
module-level ``if``/``try``; not those inside functions) are read with ``ast`` and resolved to modules; a cycle
through one of the watched modules fails, naming it. ``from pkg import name`` is an edge to ``pkg.name`` when that
is a module, else to ``pkg``; the implicit import of a module's parent packages is not an edge (a package whose
``__init__`` re-exports its submodules is not a cycle). Each watched module is also imported first in a fresh
interpreter, where an import-order cycle would show as an ImportError.
"""
import ast
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "gpuflow")
# The modules the rule covers (issue 11: keras/models, keras/saving, cli, parity, bench); a name ending in ".*"
# covers the package and everything under it.
WATCHED = ("gpuflow.keras.models", "gpuflow.keras.saving.*", "gpuflow.cli", "gpuflow.parity", "gpuflow.bench.*")
# Imported first, each in its own interpreter.
ENTRY_POINTS = ("gpuflow.keras.models", "gpuflow.keras.saving", "gpuflow.cli", "gpuflow.parity", "gpuflow.bench.model")


def _modules():
    """``{module name: (path, is_package)}`` for every Python module under gpuflow/."""
    found = {}
    for folder, dirs, files in os.walk(PACKAGE):
        dirs[:] = [d for d in dirs if os.path.isfile(os.path.join(folder, d, "__init__.py"))]
        parts = os.path.relpath(folder, ROOT).split(os.sep)
        for name in files:
            if name.endswith(".py"):
                is_package = name == "__init__.py"
                module = ".".join(parts if is_package else parts + [name[:-3]])
                found[module] = (os.path.join(folder, name), is_package)
    return found


def _module_level(body):
    """The statements run when a module loads: its body, and the bodies of module-level if/try/with blocks."""
    for node in body:
        yield node
        if isinstance(node, (ast.If, ast.With)):
            yield from _module_level(node.body)
            yield from _module_level(getattr(node, "orelse", []))
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *[h.body for h in node.handlers]):
                yield from _module_level(block)


def _edges(module, path, is_package, modules):
    """The gpuflow modules that ``module`` imports when it loads."""
    package = module if is_package else module.rpartition(".")[0]
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    out = set()
    for node in _module_level(tree.body):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = ".".join(p for p in (base if node.level else "", node.module or "") if p)
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.add(sub if sub in modules else target)
    return {m for m in out if m in modules and m != module}


def import_graph():
    modules = _modules()
    return {m: _edges(m, path, is_package, modules) for m, (path, is_package) in modules.items()}


def cycles(graph):
    """The strongly connected components of ``graph`` with more than one module (Tarjan's algorithm), each
    sorted; also a module importing itself."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, ()):
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def watched(module):
    return any(module == w or (w.endswith(".*") and (module + ".").startswith(w[:-1])) for w in WATCHED)


def test_the_graph_sees_the_imports_it_must():
    graph = import_graph()
    assert "gpuflow.keras.models" in graph["gpuflow.keras.saving.serialization"]  # from ..models import ...
    assert "gpuflow.keras.saving.saving_api" in graph["gpuflow.keras.saving"]  # from .saving_api import ...
    assert "gpuflow.keras.saving.registry" in graph["gpuflow.keras.saving.serialization"]  # from . import registry
    assert "gpuflow.keras.saving" not in graph["gpuflow.keras.models"]  # only inside Model.save & co.
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_through_models_saving_cli_parity_or_bench():
    found = [c for c in cycles(import_graph()) if any(watched(m) for m in c)]
    assert found == [], f"module-level import cycles: {found}"


def test_each_entry_point_imports_first_in_a_fresh_interpreter():
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    runs = {m: subprocess.Popen([sys.executable, "-c", f"import {m}"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True) for m in ENTRY_POINTS}
    failed = {}
    for module, proc in runs.items():
        out, _ = proc.communicate(timeout=120)
        if proc.returncode != 0:
            failed[module] = out[-2000:]
    assert failed == {}


def test_saving_imports_at_module_top():
    """Saving's modules import what they use when they load, so this graph sees all of it; the one exception is
    h5py, imported on first use so that ``import gpuflow.keras`` neither pays for it nor breaks with it."""
    nested = {}
    for module, (path, _) in _modules().items():
        if watched(module) and module.startswith("gpuflow.keras.saving"):
            with open(path, encoding="utf-8") as f:
                tree = ast.parse(f.read(), path)
            for top in tree.body:
                if isinstance(top, (ast.FunctionDef, ast.ClassDef)):
                    for n in ast.walk(top):
                        if isinstance(n, (ast.Import, ast.ImportFrom)):
                            nested.setdefault(module, []).append(ast.unparse(n))
    assert nested == {"gpuflow.keras.saving.weights_h5": ["import h5py as module"]}
