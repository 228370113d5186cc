"""The kernel against the flow model (offline/dataplane/differential.py): every flow case the emulation runs gets
the same verdict from packets through the kernel as from the model's walk, on every mode's state, on the state
before the review's fix, and on the dev stack under every mutation generated from its state.

Engine runs: none of its own; the flow tests' models (tests/flows_models.py, one run per mode per session).
"""

from __future__ import annotations

import pytest

pytest.importorskip("offline.flows", reason="the flow model (issue 12) is not in this tree")

from offline.dataplane import differential, kernel, mutations  # noqa: E402
from offline.flows.mutations import mutations as model_mutations  # noqa: E402
from tests.flows_models import MODES, model, with_pre_fix_rules  # noqa: E402


@pytest.fixture(scope="module")
def kernel_ready():
    reason = kernel.unavailable_reason()
    if reason:
        pytest.skip(reason)


def host_to_own_pod(run: differential.Run) -> bool:
    """A host process reaching a pod on its own node. Kubernetes admits it whatever the policies ("the only
    allowed connections into the pod are those from the pod's node and those allowed by the ingress list",
    kubernetes.io NetworkPolicy), Calico does not police it (projectcalico/calico#4469), nor does the emulation;
    the model applies the pod's ingress policy (reported to issue 12)."""
    a = run.case.args
    dst = next((p for p in (a.get("endpoint"), *a["pods"]) if p is not None and getattr(p, "ip", None) == a["dst"]), None)
    return run.case.entry == "host" and dst is not None and dst.node == a["node"].name


def disagreements(runs) -> list[str]:
    return [f"{r.case.flow} [{r.case.label}]: model {'allow' if r.case.trace.allowed else 'deny'} "
            f"({r.case.trace.decisive}), kernel {r.outcome}" for r in runs if r.agrees is False and not host_to_own_pod(r)]


@pytest.mark.parametrize("mode", list(MODES))
def test_kernel_and_model_agree_on_every_mode(kernel_ready, mode):
    runs, emulation = differential.compare(model(mode))
    emulation.__exit__(None, None, None)
    assert disagreements(runs) == []
    covered = [r for r in runs if r.outcome is not None]
    assert len(covered) >= 0.9 * len(runs), [r.uncovered for r in runs if r.outcome is None]
    assert any(r.outcome.ok for r in covered) and any(not r.outcome.ok for r in covered)
    # the one known difference is there, and is what it says
    known = [r for r in runs if r.agrees is False]
    assert known and all(host_to_own_pod(r) and r.outcome.ok for r in known)


@pytest.mark.parametrize("mode", ["calico-none", "calico-vxlan"])
def test_kernel_and_model_agree_on_the_review_breaks(kernel_ready, mode):
    """The state before the review's fix: both drop the NodePort traffic forwarded to a pod on another node, the
    kernel at the kind of hop the model names (unencapsulated: a security group; overlay: NetworkPolicy)."""
    runs, emulation = differential.compare(with_pre_fix_rules(model(mode)))
    emulation.__exit__(None, None, None)
    assert disagreements(runs) == []
    forwarded = [r for r in runs if "pod on another node" in r.case.flow or "no local replica" in r.case.flow]
    assert forwarded and not any(r.outcome.ok for r in forwarded)
    health = [r for r in forwarded if "health check" in r.case.flow]
    want = "refused: security group" if mode == "calico-none" else "refused: NetworkPolicy"
    assert health and all(r.outcome.detail == want for r in health)


def test_kernel_and_model_agree_under_every_mutation_of_the_dev_stack(kernel_ready):
    """Each security group rule, pod route, NetworkPolicy rule deleted; each source/dest check turned on (the
    model's mutations); the NAT and internet gateway routes deleted and every check turned off (the emulation's own,
    for what the model's do not change). Every case, every state, the same verdict."""
    m = model("calico-none")
    changes = list(model_mutations(m))
    keys = {c.key for c in changes}
    extra = [c for c in mutations.mutations(m) if c.key not in keys and (
        (c.key.startswith("route:") and not c.key.endswith(f":{m.vpc_cidr}")) or c.key.startswith("source-dest-check:"))]
    results = differential.sweep(m, changes + extra)
    assert len(results) == len(changes) + len(extra) + 1
    problems = {key: disagreements(runs) for key, runs in results.items() if disagreements(runs)}
    assert problems == {}
    intact = {(r.case.flow, r.case.label): r.outcome.ok for r in results[""] if r.outcome is not None}
    changed = {key for key, runs in results.items() if key and any(
        r.outcome is not None and intact.get((r.case.flow, r.case.label)) not in (None, r.outcome.ok) for r in runs)}
    assert len(changed) >= len(results) // 2  # mutations do change what gets through, and the kernel sees it
