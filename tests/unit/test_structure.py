"""The layers hold (issue 14, STYLE.md §1–3), read from the code itself:

- no import of a webapp module hides inside a function (a cycle dodged is a piece in the wrong package), bar at
  most three, and none outside ``create_app``;
- nothing commits below the edge: views (and the web layer's helpers for them) commit through
  ``web.edge.commit()``, the queue's jobs and the command line commit where they end, services and everything
  under them never;
- no ``current_app`` in services or rules (they take what they need as arguments, the Notifier included);
- the package graph has no cycle, the web layer and the core depend on no domain, nothing imports another
  domain's views or the composition roots: each package is imported alone in a fresh interpreter and what it
  loaded is read back;
- the README's newcomer section names every package.
"""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEBAPP = ROOT / "webapp"
SOURCES = sorted(WEBAPP.rglob("*.py"))
# Modules that compose the domains (they may import any of them; nothing imports them).
ROOTS = {"__init__", "cli", "queue_cli", "demo", "models"}
# Packages that are not domains: the web layer, and the signing of QR tokens (keys, COSE/CWT); like the core modules
# they import no domain (a credential hands its token facts to signing, it does not read them).
NOT_DOMAINS = {"web", "signing"}
# The edges: where a unit of work ends and commits.
EDGE_MODULES = ("tasks.py", "cli.py", "queue_cli.py", "edge.py")
VIEW_MODULES = ("views.py", "api.py")


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _imports_webapp(node: ast.AST) -> bool:
    if isinstance(node, ast.ImportFrom):
        return (node.module or "").split(".")[0] == "webapp" and node.level == 0
    return isinstance(node, ast.Import) and any(a.name.split(".")[0] == "webapp" for a in node.names)


def test_no_webapp_import_hides_inside_a_function_when_outside_create_app():
    hidden = []
    for path in SOURCES:
        for func in ast.walk(_tree(path)):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if path == WEBAPP / "__init__.py" and func.name == "create_app":
                continue
            hidden += [f"{_name(path)}:{node.lineno}" for node in ast.walk(func) if _imports_webapp(node)]
    assert len(hidden) <= 3, f"imports of webapp modules inside functions: {hidden}"


def _commits(path: Path) -> list[tuple[int, str]]:
    """(line, what is committed on) for every ``….commit()`` call of the module."""
    found = []
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "commit":
            target = node.func.value
            found.append((node.lineno, target.id if isinstance(target, ast.Name) else ast.unparse(target)))
    return found


def test_nothing_commits_below_the_edge_and_views_commit_through_it():
    wrong = []
    for path in SOURCES:
        for line, target in _commits(path):
            if path.name in EDGE_MODULES:
                continue
            # A view, or the web layer's helpers for views (sign-in, sign-out, a reviewer's decision), commits
            # through the edge: it is the edge.
            if (path.name in VIEW_MODULES or path.parent.name == "web") and target == "edge":
                continue
            wrong.append(f"{_name(path)}:{line} {target}.commit()")
    assert not wrong, f"commits below the edge (services never commit; views call edge.commit()): {wrong}"


def test_no_current_app_in_services_or_rules():
    readers = []
    for path in SOURCES:
        if path.name not in ("services.py", "rules.py", "notifier.py"):
            continue
        tree = _tree(path)
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        flask = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("flask")]
        if "current_app" in names or flask:
            readers.append(_name(path))
    assert not readers, f"services or rules that read the app: {readers}"


def _nodes() -> dict[str, list[str]]:
    """Every package or module right under webapp/ (bar the composition roots) → the modules it consists of."""
    nodes: dict[str, list[str]] = {}
    for path in sorted(WEBAPP.iterdir()):
        if path.suffix == ".py" and path.stem not in ROOTS:
            nodes[path.stem] = [_name(path)]
        elif path.is_dir() and (path / "__init__.py").exists() and path.name not in ROOTS:
            nodes[path.name] = [_name(p) for p in sorted(path.rglob("*.py"))]
    return nodes


_PROBE = """
import importlib, json, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
print(json.dumps(sorted({m.split(".")[1] for m in sys.modules if m.startswith("webapp.")})))
"""


@pytest.fixture(scope="module")
def loaded() -> dict[str, set[str]]:
    """What importing each package alone loads, read in a fresh interpreter per package: its transitive imports."""
    def probe(modules: list[str]) -> set[str]:
        out = subprocess.run([sys.executable, "-c", _PROBE, *modules], cwd=ROOT, capture_output=True, text=True,
                             timeout=300)
        if out.returncode:
            pytest.fail(f"importing {modules[0]} alone failed:\n{out.stderr[-2000:]}")
        return set(json.loads(out.stdout.strip().splitlines()[-1]))

    nodes = _nodes()
    with ThreadPoolExecutor(max_workers=4) as pool:
        found = dict(zip(nodes, pool.map(probe, nodes.values())))
    return {node: deps - {node} for node, deps in found.items()}


def _domains() -> set[str]:
    return {name for name in _nodes() if (WEBAPP / name).is_dir()} - NOT_DOMAINS


def test_the_package_graph_has_no_cycle(loaded):
    # Transitive imports: two packages that reach each other are on a cycle of direct imports, and only then.
    cycles = sorted({tuple(sorted((a, b))) for a, deps in loaded.items() for b in deps if a in loaded.get(b, ())})
    assert not cycles, f"packages that import each other (a piece sits in the wrong package): {cycles}"


def test_nothing_imports_a_composition_root(loaded):
    wrong = {node: sorted(deps & ROOTS) for node, deps in loaded.items() if deps & ROOTS}
    assert not wrong, f"imports of create_app's modules, the CLI or the demo: {wrong}"


def test_the_web_layer_signing_and_the_core_depend_on_no_domain(loaded):
    domains = _domains()
    wrong = {node: sorted(deps & domains) for node, deps in loaded.items()
             if node not in domains and deps & domains}
    assert not wrong, f"web layer or core modules that import a domain: {wrong}"


def test_nothing_imports_another_domains_views_or_forms():
    wrong = []
    for path in SOURCES:
        parts = path.relative_to(WEBAPP).parts
        if parts[0].removesuffix(".py") in ROOTS:
            continue
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ImportFrom) and _imports_webapp(node):
                target = (node.module or "").split(".")
                names = {a.name for a in node.names}
                module = target[2] if len(target) > 2 else None
                if len(target) > 1 and target[1] not in (parts[0], "web") and (
                        module in ("views", "forms", "api") or names & {"views", "forms", "api"}):
                    wrong.append(f"{_name(path)}:{node.lineno} from {node.module} import {', '.join(sorted(names))}")
    assert not wrong, f"another domain's views or forms imported: {wrong}"


def test_the_readme_newcomer_section_names_every_package():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "## For a newcomer: the layers" in readme
    section = readme.split("## For a newcomer: the layers", 1)[1].split("\n## ", 1)[0]
    missing = [name for name in _nodes() if (WEBAPP / name).is_dir() and f"`{name}`" not in section]
    assert not missing, f"packages the README's newcomer section does not name: {missing}"
