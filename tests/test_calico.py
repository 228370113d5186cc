"""Calico: pure pool/values logic against the pinned chart's facts, and the component under the engine."""

from __future__ import annotations

import textwrap
from ipaddress import ip_network

import jsonschema
import pytest

from offline.checks.chart_facts import key_paths
from offline.checks.chart_facts import load as chart_facts
from k8snet.cni import calico
from k8snet.cni import dataplane as cni
from k8snet.shared.node_labels import NODE_NAME_LABEL
from conftest import probe_project
from offline.checks import cni as cni_checks
from offline.kube.schemas import KubeSchemas, _crd_schema

import json

FACTS = chart_facts("tigera-operator-v3.31.7")
ENCAPS = ("none", "vxlan", "ipip")


def _strict_validator(subset: dict):
    return jsonschema.Draft202012Validator(_crd_schema(json.dumps(subset, sort_keys=True)))


def test_pinned_chart_matches_the_facts_file():
    assert (calico.CHART, calico.CHART_VERSION, calico.CHART_REPO) == (FACTS["chart"], FACTS["version"], FACTS["repo"])


@pytest.mark.parametrize("encap", ENCAPS)
def test_every_value_we_set_exists_in_the_chart(encap):
    values = calico.chart_values(encap)
    known = set(FACTS["valuesKeys"])
    # Top-level keys and the "enabled" switches are the chart's own; the rest of installation /
    # defaultFelixConfiguration is passed through as the CR spec and checked against the CRD below.
    for path in key_paths(values):
        head = path.split(".")[0]
        if head in ("installation", "defaultFelixConfiguration") and path.count(".") >= 1 and not path.endswith(".enabled"):
            continue
        assert path in known, path


@pytest.mark.parametrize("encap", ENCAPS)
def test_rendered_custom_resources_validate_against_the_crds(encap):
    values = calico.chart_values(encap)
    spec = {k: v for k, v in values["installation"].items() if k != "enabled"}
    errors = list(_strict_validator({"type": "object", **FACTS["installationSpec"]}).iter_errors(spec))
    assert not errors, [e.message for e in errors]
    felix = calico.felix_configuration_patch(encap)
    if felix:
        errors = list(_strict_validator({"type": "object", **FACTS["felixConfigurationSpec"]}).iter_errors(felix["spec"]))
        assert not errors, [e.message for e in errors]
        assert KubeSchemas("1.35").errors(felix, partial=True) == []
    # A misspelt field is caught (the check is not vacuous).
    bad = {**spec, "calicoNetwork": {**spec["calicoNetwork"], "bgpp": "Disabled"}}
    assert list(_strict_validator({"type": "object", **FACTS["installationSpec"]}).iter_errors(bad))


@pytest.mark.parametrize("encap, mtu", [("none", 9001), ("vxlan", 8951), ("ipip", 8981)])
def test_installation_for_eks(encap, mtu):
    inst = calico.chart_values(encap)["installation"]
    assert inst["kubernetesProvider"] == "EKS"
    assert inst["cni"] == {"type": "Calico", "ipam": {"type": "Calico"}}
    assert inst["calicoNetwork"] == {"bgp": "Disabled", "mtu": mtu, "ipPools": []}
    # IPIP routes without BIRD need Felix; only then (unencapsulated pools would get direct routes). Set by a
    # patch of the operator's FelixConfiguration, never by the chart (whose object Helm would have to own).
    assert "defaultFelixConfiguration" not in calico.chart_values(encap)
    felix = calico.felix_configuration_patch(encap)
    assert (felix is not None) == (encap == "ipip")
    if felix:
        assert felix["spec"] == {"programClusterRoutes": "Enabled"} and felix["metadata"]["name"] == "default"
        assert felix["metadata"]["annotations"] == {"pulumi.com/patchFieldManager": calico.FIELD_MANAGER}


@pytest.mark.parametrize("encap", ENCAPS)
def test_pool_pins_one_block_to_one_node(encap):
    pool = calico.ip_pool("node2", ip_network("10.1.2.0/24"), encap)
    spec = pool["spec"]
    assert spec["cidr"] == "10.1.2.0/24" and spec["blockSize"] == 24
    assert cni_checks.selector_matches(spec["nodeSelector"], {NODE_NAME_LABEL: "node2"})
    assert not cni_checks.selector_matches(spec["nodeSelector"], {NODE_NAME_LABEL: "node22"})
    assert not cni_checks.selector_matches(spec["nodeSelector"], {})
    assert spec["ipipMode"] == ("Always" if encap == "ipip" else "Never")
    assert spec["vxlanMode"] == ("Always" if encap == "vxlan" else "Never")
    assert spec["natOutgoing"] is True
    assert KubeSchemas("1.35").errors(pool) == []


def test_pool_rejects_what_calico_rejects():
    with pytest.raises(ValueError, match="block sizes"):
        calico.ip_pool("node1", ip_network("10.0.0.0/16"), "none")  # Calico IPv4 blocks are /20../32
    with pytest.raises(ValueError):
        calico.ip_pool("node1", ip_network("10.1.1.0/24"), "wireguard")
    with pytest.raises(ValueError, match="overlap"):
        cni.node_blocks({"node1": "10.1.0.0/23", "node2": "10.1.1.0/24"})


def test_ipam_config_is_strict():
    obj = calico.ipam_config()
    assert obj["metadata"]["name"] == "default" and obj["spec"]["strictAffinity"] is True
    assert KubeSchemas("1.35").errors(obj) == []


def test_control_plane_reaches_the_calico_api_server():
    (rule,) = cni.control_plane_ports("calico")
    assert (rule.protocol, rule.from_port, rule.to_port) == ("tcp", 5443, 5443)
    assert cni.control_plane_ports("flannel") == ()


PROGRAM = textwrap.dedent('''
    import pulumi
    import pulumi_kubernetes as k8s
    from k8snet.cni.calico import Calico, CalicoArgs
    provider = k8s.Provider("k8s", kubeconfig="{}")
    blocks = {BLOCKS}
    Calico("calico", CalicoArgs(node_blocks=blocks, encapsulation="{ENCAP}"),
           opts=pulumi.ResourceOptions(provider=provider))
''')


def _run(run_stack, tmp_path, blocks, encap="none"):
    program = PROGRAM.replace("{BLOCKS}", repr(blocks)).replace("{ENCAP}", encap)
    return run_stack(project_dir=probe_project(tmp_path, program), stack="test")


def test_component_under_the_engine(run_stack, tmp_path):
    blocks = {"node1": "10.1.1.0/24", "node2": "10.1.2.0/24", "node3": "10.1.3.0/24"}
    result, engine = _run(run_stack, tmp_path, blocks, "vxlan")
    assert result.ok, result.error
    pools = {o["metadata"]["name"]: o["spec"] for (av, kind, _, _), o in engine.kube.objects.items() if kind == "IPPool"}
    assert {p["cidr"] for p in pools.values()} == set(blocks.values())
    assert cni_checks.check_cni(engine.kube.objects, result.records.values(), blocks, "vxlan") == []
    # Every child of the component carries the provider and sits under it.
    (component,) = result.of_type("k8snet:index:Calico")
    children = [r for r in result.resources if r.parent == component.urn]
    assert all(c.options["provider"].split("::")[-2] == "k8s" for c in children)
    assert component.outputs["poolCidrs"] == blocks and component.outputs["mtu"] == 8951
    # The release never waits for nodes (they cannot be Ready before the CNI).
    (release,) = result.of_type("kubernetes:helm.sh/v3:Release")
    assert release.inputs["skipAwait"] is True and release.inputs["version"] == calico.CHART_VERSION


def test_adding_a_node_adds_one_pool_and_changes_nothing_else(run_stack, tmp_path):
    three = {"node1": "10.1.1.0/24", "node2": "10.1.2.0/24", "node3": "10.1.3.0/24"}
    before, _ = _run(run_stack, tmp_path, three)
    after, _ = _run(run_stack, tmp_path, {**three, "node4": "10.1.4.0/24"})
    old = {r.urn: r.inputs for r in before.resources}
    new = {r.urn: r.inputs for r in after.resources}
    added = set(new) - set(old)
    assert [u.rsplit("::", 1)[1] for u in added] == ["calico-pool-node4"]
    assert not set(old) - set(new)
    assert {u: new[u] for u in old} == old


def test_checks_catch_a_pool_for_the_wrong_block():
    blocks = {"node1": "10.1.1.0/24", "node2": "10.1.2.0/24"}
    pools = {("crd.projectcalico.org/v1", "IPPool", "", f"p{n}"): calico.ip_pool(n, ip_network(b), "none")
             for n, b in blocks.items()}
    ipam = {("crd.projectcalico.org/v1", "IPAMConfig", "", "default"): calico.ipam_config()}
    values = calico.chart_values("none")
    assert cni_checks.check_calico({**pools, **ipam}, values, blocks, "none") == []
    swapped = {"node1": "10.1.2.0/24", "node2": "10.1.1.0/24"}
    problems = cni_checks.check_calico({**pools, **ipam}, values, swapped, "none")
    assert any("but the VPC routes 10.1.2.0/24 to node1" in p for p in problems), problems
    problems = cni_checks.check_calico(pools, values, {**blocks, "node3": "10.1.3.0/24"}, "vxlan")
    assert any("strictAffinity" in p for p in problems)
    assert any("node3: 0 IP pools" in p for p in problems)
    assert any("MTU 9001 but vxlan needs 8951" in p for p in problems)
    assert any("ipipMode/vxlanMode Never/Never" in p for p in problems)
