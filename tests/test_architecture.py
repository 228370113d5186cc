"""The house shows its architecture: one folder per concept, imports running one way, no import circle.

k8snet: stack -> config -> domains -> shared. A domain imports shared and, where the concept really needs
it, one other domain (nodes open the CNI's ports; DNS uses the network's address plan). offline: the CLI
and report on top; checks read runs (harness, kube) and the product; the harness drives aws and kube;
aws and kube know nothing of each other or of the checks. Neither package imports tests; k8snet never
imports offline.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "components" / "k8snet"
DOMAINS = {"network", "nodes", "cluster", "cni", "dns", "app", "ingress"}
# concept -> the concepts it may import (besides itself)
K8SNET_LAYERS = {
    "shared": set(),
    "network": {"shared"}, "cni": {"shared"}, "cluster": {"shared"}, "app": {"shared"}, "ingress": {"shared"},
    "nodes": {"shared", "cni"}, "dns": {"shared", "network"},
    "config": {"shared", *DOMAINS},
    "stack": {"shared", "config", *DOMAINS},
    "doctor": {"shared", "config", *DOMAINS},
    "": {"shared", "config", "stack", *DOMAINS},  # k8snet/__init__.py (lazy exports)
}
OFFLINE_LAYERS = {
    "aws": set(), "kube": set(), "tls": {"kube"},  # tls: the pulumi-tls provider's model
    "harness": {"aws", "kube", "tls"},
    "checks": {"harness", "kube", "aws"},
    "flows": {"harness", "kube", "aws", "checks"},
    # offline/__init__.py, __main__.py
    "": {"harness", "aws", "kube", "checks", "flows", "report", "outputs", "dataplane"},
    "report": {"harness", "kube", "aws", "checks", "flows"},
    "policy": {"harness", "kube"},  # a policy pack over a run's records
    "diagram": {"harness", "checks"},
    "outputs": {"harness", "kube", "checks", "flows", "policy", "diagram"},  # --json, --render-dir, ...
    "dataplane": {"flows", "report"},  # the flow model in the kernel (root only)
}


def _module_name(path: Path, root: Path, package: str) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([package, *parts])


@lru_cache(maxsize=None)
def _import_nodes(path: Path) -> tuple[tuple[ast.Import | ast.ImportFrom, bool], ...]:
    """A module's import statements, each with whether it sits under ``if TYPE_CHECKING:`` (never executed):
    one walk of each file for the tests' several graphs (they only read the nodes)."""
    tree = ast.parse(path.read_text())
    hidden = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            hidden |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return tuple((node, id(node) in hidden) for node in ast.walk(tree)
                 if isinstance(node, (ast.Import, ast.ImportFrom)))


def _imports(path: Path, module: str, runtime_only: bool = False) -> set[str]:
    """Absolute names of what a module imports (relative imports resolved); ``runtime_only`` leaves out the
    imports under ``if TYPE_CHECKING:``."""
    is_package = path.name == "__init__.py"
    found = set()
    for node, type_checking_only in _import_nodes(path):
        if runtime_only and type_checking_only:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        else:
            if node.level:
                base = module.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found |= {f"{target}.{alias.name}" for alias in node.names}
    return found


def _graph(root: Path, package: str, runtime_only: bool = False) -> dict[str, set[str]]:
    modules = {_module_name(p, root, package): p for p in root.rglob("*.py") if "files" not in p.parts}
    return {name: {i for i in _imports(path, name, runtime_only) if i in modules or i.split(".")[0] == package}
            for name, path in modules.items()}


def _concept(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] != "__main__") else ""


def _layer_violations(graph, layers) -> list[str]:
    bad = []
    for module, imports in sorted(graph.items()):
        here = _concept(module)
        for imported in sorted(imports):
            there = _concept(imported)
            if there and there != here and there not in layers.get(here, set()):
                bad.append(f"{module} imports {imported} ({here or 'top'} -> {there})")
    return bad


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Import circles between modules. A module importing its own parent package is no circle (Python
    imports the parents first in any case)."""
    modules = set(graph)
    edges = {m: {i for i in imps if i in modules and i != m and not m.startswith(i + ".")} for m, imps in graph.items()}
    found, state, stack = [], {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for module in sorted(modules):
        if module not in state:
            visit(module)
    return found


def test_k8snet_imports_run_one_way():
    graph = _graph(PACKAGE, "k8snet")
    assert {_concept(m) for m in graph} - {""} <= set(K8SNET_LAYERS), "a new folder needs its place in the layers"
    assert _layer_violations(graph, K8SNET_LAYERS) == []


def test_offline_imports_run_one_way():
    graph = _graph(ROOT / "offline", "offline")
    assert _layer_violations(graph, OFFLINE_LAYERS) == []


def test_no_import_circle():
    for root, package in ((PACKAGE, "k8snet"), (ROOT / "offline", "offline")):
        assert _cycles(_graph(root, package, runtime_only=True)) == [], package


def test_the_product_never_imports_the_engine_or_the_tests():
    for module, imports in _graph(PACKAGE, "k8snet").items():
        assert not {i for i in imports if i.split(".")[0] in ("offline", "tests")}, module


def test_the_checks_catch_a_back_import(tmp_path):
    """The layer check itself can fail: a shared module importing a domain is reported."""
    graph = {"k8snet.shared.tags": {"k8snet.network.addressing"}, "k8snet.network.addressing": set()}
    assert _layer_violations(graph, K8SNET_LAYERS) == ["k8snet.shared.tags imports k8snet.network.addressing "
                                                       "(shared -> network)"]
    assert _cycles({"a": {"b"}, "b": {"a"}}) == [["a", "b", "a"]]
