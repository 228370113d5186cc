"""The one mocks setup for the suite: the offline engine (Pulumi mocks backed by moto).

`run_stack(config)` builds and runs the program inside the test. moto is process-global, so
starting a run closes the previous one: only the latest run's AWS state can be read back.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hypothesis.internal.observability  # noqa: F401 -- see below
import pytest

# Imported up front on purpose: CPython 3.11.7 (this machine's) can raise "SystemError: AST
# constructor recursion depth mismatch" (gh-106905, fixed in 3.11.8) when hypothesis's pytest
# plugin imports this module late, under assertion rewriting, after the Pulumi runtime ran.

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from offline import OfflineEngine  # noqa: E402


@pytest.fixture
def run_stack():
    current: list[OfflineEngine] = []

    def run(config: dict | None = None, stack: str = "dev", project_dir: Path = ROOT, **kwargs):
        while current:
            current.pop().__exit__(None, None, None)
        engine = OfflineEngine(project_dir, stack, config, **kwargs).__enter__()
        current.append(engine)
        return engine.run(), engine

    yield run
    while current:
        current.pop().__exit__(None, None, None)


@pytest.fixture
def dev_stack(run_stack):
    """The dev stack, run once for the test: (result, engine), the run known to have succeeded."""
    result, engine = run_stack()
    assert result.ok, result.error
    return result, engine


@pytest.fixture(scope="session")
def dev_records():
    """The dev stack's RunResult, run once for the session, for tests that read only what it recorded
    (resources, inputs, dependencies, exports), not the simulated AWS it left behind."""
    with OfflineEngine(ROOT, "dev") as engine:
        result = engine.run()
    assert result.ok, result.error
    return result


def nodes_config(*indices: int, **extra) -> dict:
    """A `nodes` map node<i> -> {index: i} (plus any per-node extras keyed by node name)."""
    return {f"node{i}": {"index": i, **extra.get(f"node{i}", {})} for i in indices}


def probe_project(directory: Path, program: str) -> Path:
    """A throwaway one-file Pulumi project (stack `test`, us-east-1) for probing the engine."""
    (directory / "Pulumi.yaml").write_text("name: probe\nruntime: python\n")
    (directory / "Pulumi.test.yaml").write_text("config:\n  aws:region: us-east-1\n")
    (directory / "__main__.py").write_text(program)
    return directory


# The dev stack and the variants the security tests scan (checkov, image digests), each run once per
# session. Records only: moto stops with each run, so only what the program registered can be read back.
SCAN_VARIANTS = {"dev": {}, "flannel": {"cni": "flannel"}, "vxlan": {"encapsulation": "vxlan"},
                 "ipvs-node-local-dns": {"kubeProxyMode": "ipvs", "nodeLocalDns": True}}


@pytest.fixture(scope="session")
def variant_records(dev_records):
    """variant -> the records of its run (see SCAN_VARIANTS; the dev stack's is dev_records')."""
    out = {"dev": list(dev_records.records.values())}
    for label, config in SCAN_VARIANTS.items():
        if label == "dev":
            continue
        with OfflineEngine(ROOT, "dev", config) as engine:
            result = engine.run()
        assert result.ok, f"{label}: {result.error}"
        out[label] = list(result.records.values())
    return out
