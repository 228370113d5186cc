"""Flannel: values against the pinned chart's facts, the podCIDR assigner, the component under the engine."""

from __future__ import annotations

import json
import textwrap
from ipaddress import ip_network

import pytest

from offline.checks.chart_facts import key_paths
from offline.checks.chart_facts import load as chart_facts
from k8snet.cni import flannel
from k8snet.cni import pod_cidr_assigner
from conftest import probe_project
from offline.checks import cni as cni_checks
from offline.kube.schemas import KubeSchemas

FACTS = chart_facts("flannel-v0.28.9")


def test_pinned_chart_matches_the_facts_file():
    assert (flannel.CHART, flannel.CHART_VERSION, flannel.CHART_REPO) == (FACTS["chart"], FACTS["version"], FACTS["repo"])


@pytest.mark.parametrize("encap", ["none", "vxlan"])
@pytest.mark.parametrize("policy", [False, True])
def test_every_value_we_set_exists_in_the_chart(encap, policy):
    values = flannel.chart_values("10.1.0.0/16", encap, policy)
    known = set(FACTS["valuesKeys"]) | set(FACTS["templateOnlyKeys"])
    assert [p for p in key_paths(values) if p not in known] == []
    assert values["flannel"]["backend"] in FACTS["backends"]
    assert values["netpol"]["enabled"] is policy


def test_backend_per_mode():
    assert flannel.backend("none") == "alloc"  # lease only: the VPC routes forward
    assert flannel.backend("vxlan") == "vxlan"
    with pytest.raises(ValueError):
        flannel.backend("ipip")


def test_blocks_must_lie_in_the_flannel_network():
    flannel.check_blocks("10.1.0.0/16", {"node1": ip_network("10.1.1.0/24")})
    with pytest.raises(ValueError, match="outside the flannel network"):
        flannel.check_blocks("10.1.0.0/16", {"node1": ip_network("10.2.1.0/24")})


def test_assigner_daemonset_targets_exactly_its_node():
    ds = pod_cidr_assigner.daemonset("node2", ip_network("10.1.2.0/24"), "kube-flannel")
    pod = ds["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"k8snet.io/node": "node2"}
    assert pod["hostNetwork"] is True  # runs before any CNI exists
    assert {"operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]  # NotReady, uninitialized
    (init,) = pod["initContainers"]
    assert init["args"][:3] == ["patch", "node", "$(NODE_NAME)"]
    patch = json.loads(init["args"][-1].split("=", 1)[1])
    assert patch == {"spec": {"podCIDR": "10.1.2.0/24", "podCIDRs": ["10.1.2.0/24"]}}
    assert ds["metadata"]["annotations"]["pulumi.com/skipAwait"] == "true"
    obj = {"apiVersion": "apps/v1", "kind": "DaemonSet", **ds}
    assert KubeSchemas("1.35").errors(obj) == []


PROGRAM = textwrap.dedent('''
    import pulumi
    import pulumi_kubernetes as k8s
    from k8snet.cni.flannel import Flannel, FlannelArgs
    provider = k8s.Provider("k8s", kubeconfig="{}")
    Flannel("flannel", FlannelArgs(node_blocks={BLOCKS}, pod_cidr="10.1.0.0/16", encapsulation="{ENCAP}",
                                   network_policy=True), opts=pulumi.ResourceOptions(provider=provider))
''')


def _run(run_stack, tmp_path, blocks, encap="none"):
    program = PROGRAM.replace("{BLOCKS}", repr(blocks)).replace("{ENCAP}", encap)
    return run_stack(project_dir=probe_project(tmp_path, program), stack="test")


@pytest.mark.parametrize("encap", ["none", "vxlan"])
def test_component_under_the_engine(run_stack, tmp_path, encap):
    blocks = {"node1": "10.1.1.0/24", "node2": "10.1.2.0/24", "node3": "10.1.3.0/24"}
    result, engine = _run(run_stack, tmp_path, blocks, encap)
    assert result.ok, result.error
    assert cni_checks.check_cni(engine.kube.objects, result.records.values(), blocks, encap) == []
    (component,) = result.of_type("k8snet:index:Flannel")
    assert component.outputs["podCidrs"] == blocks
    assert component.outputs["mtu"] == (9001 if encap == "none" else 8951)
    (release,) = result.of_type("kubernetes:helm.sh/v3:Release")
    assert release.inputs["skipAwait"] is True
    assert release.inputs["values"]["netpol"] == {"enabled": True}
    assert all(r.name.startswith("flannel-") for r in result.resources if r.parent == component.urn)


def test_checks_catch_a_node_assigned_twice_or_never():
    blocks = {"node1": "10.1.1.0/24", "node2": "10.1.2.0/24"}
    ds = {("apps/v1", "DaemonSet", "kube-flannel", f"d{i}"):
          {"apiVersion": "apps/v1", "kind": "DaemonSet", **pod_cidr_assigner.daemonset("node1", ip_network(b), "kube-flannel")}
          for i, b in enumerate(["10.1.1.0/24", "10.1.9.0/24"])}
    problems = cni_checks.check_flannel(ds, flannel.chart_values("10.1.0.0/16", "none", False), blocks, "none")
    assert "node1: podCIDR assigned 2 times (want exactly once)" in problems
    assert "node2: podCIDR assigned 0 times (want exactly once)" in problems
