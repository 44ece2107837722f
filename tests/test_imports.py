"""The import graph of the package, read from the source: no cycles, and the layers hold.

Every ``import`` counts: the ones inside functions (a lazy import is still a dependency: it
only moves the cost, not the coupling) and the ones under ``if TYPE_CHECKING:`` (a type-only
import never runs, but neither module can be read, typed or moved without the other: a cycle
through types is a cycle in the design). Layers: ``core`` never imports ``tui``; the live path
(everything in ``core`` outside ``core/eval``) never imports the evaluation layer; the app
(``tui``) never imports the command line (``cli``): what both need is in ``core``.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {"cli": "logwatch.cli", "core": "logwatch.core", "tui": "logwatch.tui", "themes": "logwatch.themes"}


def _module_name(path: Path) -> str:
    top, *rest = path.relative_to(REPO).with_suffix("").parts
    parts = [PACKAGES[top], *rest]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        for dotted in targets:
            target = dotted
            while target and target not in known:  # logwatch.core.x.Name -> logwatch.core.x
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def import_graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for top in PACKAGES for p in (REPO / top).rglob("*.py")
             if "default_model" not in p.parts}
    known = set(files)
    return {name: _imports(path, name, known) for name, path in files.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle if there is any (depth-first search), else None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_graph_is_read() -> None:
    graph = import_graph()
    assert "logwatch.core.engine" in graph["logwatch.core.stream"] or "logwatch.core.reader" in graph["logwatch.core.stream"]
    assert "logwatch.core.eval.metrics" in graph["logwatch.core.eval.evaluate"]
    assert "logwatch.core.ingest" in graph["logwatch.core.reader"]
    # a type-only import is an edge too: the driver names learning's types under TYPE_CHECKING
    assert "logwatch.core.learning.learning" in graph["logwatch.core.stream"]


def test_no_import_cycles_lazy_and_type_only_imports_included() -> None:
    assert _cycle(import_graph()) is None


def test_a_cycle_is_found_when_there_is_one() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_core_never_imports_tui() -> None:
    graph = import_graph()
    bad = {(m, t) for m, targets in graph.items() if m.startswith("logwatch.core") for t in targets
           if t.startswith("logwatch.tui")}
    assert not bad


def test_the_live_path_never_imports_the_evaluation_layer() -> None:
    graph = import_graph()
    bad = {(m, t) for m, targets in graph.items()
           if m.startswith("logwatch.core") and not m.startswith("logwatch.core.eval")
           for t in targets if t.startswith("logwatch.core.eval")}
    assert not bad


def test_the_app_never_imports_the_command_line() -> None:
    graph = import_graph()
    bad = {(m, t) for m, targets in graph.items() if m.startswith("logwatch.tui") for t in targets
           if t.startswith("logwatch.cli")}
    assert not bad


def test_the_layers_point_down_cli_over_tui_over_core() -> None:
    """The screen never reaches into the command line (the monitor's pipeline once imported
    learning decisions from it); core reaches neither."""
    graph = import_graph()
    up = {(m, t) for m, targets in graph.items() for t in targets
          if (m.startswith("logwatch.tui") and t.startswith("logwatch.cli"))
          or (m.startswith("logwatch.core") and t.startswith(("logwatch.cli", "logwatch.tui")))}
    assert not up
