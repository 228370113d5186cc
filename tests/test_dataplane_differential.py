"""The kernel against the flow model (offline/dataplane/differential.py): every flow case the emulation runs gets
the same verdict from packets through the kernel as from the model's walk, on every mode's state, on the state
before the review's fix, and on the dev stack under every mutation generated from its state.

Engine runs: none of its own; the flow tests' models (tests/flows_models.py, one run per mode per session).
"""

from __future__ import annotations

import pytest

from offline.dataplane import cli, differential, kernel, mutations
from offline.flows.mutations import mutations as model_mutations
from tests.flows_models import MODES, model, with_pre_fix_rules


@pytest.fixture(scope="module")
def kernel_ready():
    reason = kernel.unavailable_reason()
    if reason:
        pytest.skip(reason)


# REFERENCE.md (AWS: 9001 inside a VPC; VXLAN costs 50 bytes, IPIP 20): the largest packet a pod may send.
MODE_MTU = {"none": 9001, "vxlan": 8951, "ipip": 8981}


def disagreements(runs) -> list[str]:
    return [f"{r.case.flow} [{r.case.label}]: model {'allow' if r.case.trace.allowed else 'deny'} "
            f"({r.case.trace.decisive}), kernel {r.outcome}" for r in runs if r.agrees is False]


def _own_node(args) -> bool:
    dst = next((p for p in (args.get("endpoint"), *args["pods"]) if getattr(p, "ip", None) == args["dst"]), None)
    return dst is not None and dst.node == args["node"].name


def compared(m) -> differential.Comparison:
    result = differential.compare(m)
    result.emulation.__exit__(None, None, None)
    return result


@pytest.mark.parametrize("mode", list(MODES))
def test_kernel_and_model_agree_on_every_mode(kernel_ready, mode):
    """Every case: the same verdict. The path MTU is the mode's: a packet of exactly the pods' MTU crosses to a pod
    on every other node with DF set, one byte more does not. NodePort traffic a node forwards to a pod elsewhere
    arrives from that node's address, or through an overlay from its tunnel address (the route through the tunnel
    device has no src: calico#5533)."""
    m = model(mode)
    result = compared(m)
    runs = result.runs
    assert disagreements(runs) == []
    covered = [r for r in runs if r.outcome is not None]
    assert len(covered) >= 0.9 * len(runs), [r.uncovered for r in runs if r.outcome is None]
    assert any(r.outcome.ok for r in covered) and any(not r.outcome.ok for r in covered)
    # A host reaching a pod on its own node (kubelet's probes of MySQL, which no policy admits from a node): the
    # kernel lets it through and so does the model (Kubernetes and Calico always allow it).
    own_node = [r for r in covered if r.case.entry == "host" and _own_node(r.case.args)]
    assert own_node and all(r.outcome.ok and r.case.trace.allowed for r in own_node)
    assert any(r.case.flow.startswith("kubelet -> mysql") for r in own_node)

    want = MODE_MTU[m.cni.encapsulation]
    assert result.emulation.plan.mtu == want
    fits, too_big = result.path_mtu[0::2], result.path_mtu[1::2]
    assert fits and all(o.ok and o.probe.size == want for o in fits), [str(o) for o in fits]
    assert not any(o.ok for o in too_big)

    for r in covered:
        if r.case.entry == "load balancer" and r.outcome.ok and r.case.args["endpoint"].node != r.case.args["node"].name:
            forwarder = r.case.args["node"]
            assert r.outcome.seen_source == str(forwarder.tunnel_ip if m.cni.overlay else forwarder.ip), r.case.label


@pytest.mark.parametrize("mode", ["calico-none", "calico-vxlan"])
def test_kernel_and_model_agree_on_the_review_breaks(kernel_ready, mode):
    """The state before the review's fix: both drop the NodePort traffic forwarded to a pod on another node, the
    kernel at the kind of hop the model names (unencapsulated: a security group; overlay: NetworkPolicy)."""
    runs = compared(with_pre_fix_rules(model(mode))).runs
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
    changes, extra = list(model_mutations(m)), mutations.extra_mutations(m)
    assert extra and not {c.key for c in changes} & {c.key for c in extra}
    results = differential.sweep(m, changes + extra)
    assert len(results) == len(changes) + len(extra) + 1
    problems = {key: disagreements(runs) for key, runs in results.items() if disagreements(runs)}
    assert problems == {}
    intact = {(r.case.flow, r.case.label): r.outcome.ok for r in results[""] if r.outcome is not None}
    changed = {key for key, runs in results.items() if key and any(
        r.outcome is not None and intact.get((r.case.flow, r.case.label)) not in (None, r.outcome.ok) for r in runs)}
    assert len(changed) >= len(results) // 2  # mutations do change what gets through, and the kernel sees it


def test_the_cli_prints_every_case_and_the_path_mtu(kernel_ready):
    import io
    out = io.StringIO()
    result = cli.report(model("calico-none"), out)
    text = out.getvalue()
    assert text.startswith("Emulated data plane (calico, encapsulation none, pod MTU 9001)")
    assert f"{len(result.runs)} cases: {len(result.runs)} run in the kernel, 0 differ from the model" in text
    assert "path MTU node1 -> node2: 9001: passes" in text and "path MTU node1 -> node2: 9002: fails" in text
    assert cli.mtu_holds(result)
    assert kernel.ours(result.emulation.plan.prefix) == []
