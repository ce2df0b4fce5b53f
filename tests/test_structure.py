"""Issue 27: the structure rules, checked. No import cycle anywhere in the package (imports inside functions
counted), no ui module over 500 lines, and no controller or view presenter holding the main window."""

import ast
from pathlib import Path

import pytest
from PySide6 import QtWidgets

PKG = Path(__file__).resolve().parents[1] / "kgn_gui"


def module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module → the package's modules it imports anywhere in its text (top level or inside a function)."""
    mods = {module_name(p): p for p in PKG.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        pkg = m if p.name == "__init__.py" else m.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom):
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1] if node.level else []
                target = ".".join(base + ([node.module] if node.module else []))
                names = [target, *(f"{target}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            graph[m].update(n for n in names if n in mods and n != m)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, out, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_cycle_finder_finds_a_cycle_through_a_function_local_import():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_package_has_no_import_cycle_counting_imports_inside_functions():
    g = import_graph()
    assert "kgn_gui.core.chain.sampler" in g["kgn_gui.core.chain.chain"]  # the graph is read (a sanity check)
    assert cycles(g) == []


def test_core_floors_are_well_founded():
    """Every core module sits on a floor above the core modules it imports (possible only without cycles)."""
    g = import_graph()
    core = {m for m in g if m.startswith("kgn_gui.core.")}
    floor: dict[str, int] = {}

    def of(m):
        if m not in floor:
            floor[m] = 1 + max((of(d) for d in g[m] & core), default=-1)
        return floor[m]

    assert all(of(m) > max((of(d) for d in g[m] & core), default=-1) for m in core)
    assert of("kgn_gui.core.errors") == 0 and of("kgn_gui.core.export.bundle") > of("kgn_gui.core.chain.chain")


@pytest.mark.parametrize("path", sorted((PKG / "ui").rglob("*.py")), ids=lambda p: str(p.relative_to(PKG)))
def test_no_ui_module_is_over_500_lines(path):
    assert len(path.read_text().splitlines()) <= 500


def test_no_controller_or_view_presenter_holds_the_window(make_window):
    w = make_window()
    parts = [w.models, w.chain, w.training, w.measures, w.exports, w.points, w.lab, w.views_ctl, w.guard]
    for part in parts:
        held = [k for k, v in vars(part).items() if v is w]
        assert held == [], f"{type(part).__name__} holds the window as {held}"


def test_the_main_window_is_composed_not_inherited():
    """MainWindow is a QMainWindow with no mixins: what its menus do lives in action objects it holds."""
    from kgn_gui.ui.main_window import MainWindow

    ours = [c.__name__ for c in MainWindow.__mro__ if c.__module__.startswith("kgn_gui")]
    assert ours == ["MainWindow"]
    assert MainWindow.__bases__ == (QtWidgets.QMainWindow,)


def test_no_test_reaches_into_the_cli():
    """The CLI is argparse → one call → print: tests run it through main() (or build_parser), never its
    private helpers (what they would test belongs in core or the API)."""
    import re

    reach = re.compile(r"from kgn_gui\.cli import[^\n]*\b_\w+|kgn_gui\.cli\._\w+|\bcli\._\w+\(")
    tests = Path(__file__).resolve().parent
    found = [
        str(p.relative_to(tests))
        for p in tests.rglob("*.py")
        if p != Path(__file__).resolve() and reach.search(p.read_text())
    ]
    assert found == []
