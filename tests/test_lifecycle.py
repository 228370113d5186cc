"""Updates and destroys (issue 11 items 4, 5, 6): the engine's model of Pulumi's update semantics, and the
stack's changes that must be one clean `pulumi up` -- node swaps, renames, replacements, a switch to IPIP --
and a `pulumi destroy` whose deletions never wait for something already deleted."""

from __future__ import annotations

import copy
import textwrap

import pytest

from conftest import probe_project
from k8snet.cni import calico
from offline.checks import cni as cni_checks
from offline.checks import destroy as destroy_checks
from offline.checks import routes as route_checks
from offline.checks import updates as update_checks
from offline.harness.lifecycle import Lifecycle, delete_order
from offline.kube import helm
from offline.kube.api_server import KubeContext, KubeRejection

PROGRAM = textwrap.dedent('''
    import pulumi
    import pulumi_aws as aws
    cfg = pulumi.Config()
    vpc = aws.ec2.Vpc("vpc", cidr_block="192.168.0.0/16")
    subnet = aws.ec2.Subnet("subnet", vpc_id=vpc.id, cidr_block="192.168.1.0/24", availability_zone="us-east-1a")
    table = aws.ec2.RouteTable("table", vpc_id=vpc.id)
    ami = aws.ssm.get_parameter_output(
        name="/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/x86_64/standard/recommended/image_id").value
    enis = {n: aws.ec2.Instance(n, ami=ami, instance_type="t3.medium", subnet_id=subnet.id,
                                source_dest_check=False).primary_network_interface_id for n in ("a", "b")}
    for name, spec in (cfg.get_object("routes") or {}).items():
        aliases = [pulumi.Alias(name=spec["alias"])] if spec.get("alias") else None
        aws.ec2.Route(name, route_table_id=table.id, destination_cidr_block=spec["cidr"],
                      network_interface_id=enis[spec["to"]],
                      opts=pulumi.ResourceOptions(delete_before_replace=spec.get("dbr"), aliases=aliases))
''')


def _routes(life):
    (table,) = [t for t in life.ec2_reader().describe_route_tables()["RouteTables"]
                if any(r.get("NetworkInterfaceId") for r in t["Routes"])] or [{"Routes": []}]
    return {r["DestinationCidrBlock"]: r["NetworkInterfaceId"] for r in table["Routes"] if r.get("NetworkInterfaceId")}


def _ops(life, since):
    return [(s.op, s.urn.rsplit("::", 1)[1]) for s in life.steps[since:] if s.op != "same"]


def test_the_engine_runs_updates_in_pulumis_order(tmp_path):
    with Lifecycle(probe_project(tmp_path, PROGRAM), "test",
                   {"routes": {"r1": {"cidr": "10.9.1.0/24", "to": "a"}}}) as life:
        assert life.up().ok
        eni = {n: life.state[u].outputs["primaryNetworkInterfaceId"] for u in life.state
               for n in ("a", "b") if u.endswith(f"::{n}")}
        # A new target updates the route in place (ReplaceRoute).
        mark = len(life.steps)
        assert life.up({"routes": {"r1": {"cidr": "10.9.1.0/24", "to": "b"}}}).ok
        assert _ops(life, mark) == [("update", "r1")] and _routes(life) == {"10.9.1.0/24": eni["b"]}
        # A new resource for a destination a removed one still holds: created first, so AWS refuses it.
        result = life.up({"routes": {"r2": {"cidr": "10.9.1.0/24", "to": "a"}}})
        assert not result.ok and "RouteAlreadyExists" in result.error and "r2" in result.error
        # The same resource under an alias is the same route: nothing happens.
        mark = len(life.steps)
        assert life.up({"routes": {"r2": {"cidr": "10.9.1.0/24", "to": "b", "alias": "r1"}}}).ok
        assert _ops(life, mark) == []
        # A new destination replaces the route: create first, the old one deleted at the end ...
        mark = len(life.steps)
        assert life.up({"routes": {"r2": {"cidr": "10.9.2.0/24", "to": "b"}}}).ok
        assert _ops(life, mark) == [("create-replacement", "r2"), ("delete-replaced", "r2")]
        assert _routes(life) == {"10.9.2.0/24": eni["b"]}
        # ... or first, with deleteBeforeReplace.
        mark = len(life.steps)
        assert life.up({"routes": {"r2": {"cidr": "10.9.3.0/24", "to": "b", "dbr": True}}}).ok
        assert _ops(life, mark) == [("delete-replaced", "r2"), ("create-replacement", "r2")]
        # `--replace` of an instance: a new instance, a new interface; its dependents update.
        mark = len(life.steps)
        b = next(u for u in life.state if u.endswith("::b"))
        assert life.up(replace=[b]).ok
        assert _ops(life, mark) == [("create-replacement", "b"), ("update", "r2"), ("delete-replaced", "b")]
        assert _routes(life)["10.9.3.0/24"] != eni["b"]
        # Removed resources are deleted at the end, dependents first; destroy takes every one that way.
        order = [u.rsplit("::", 1)[1] for u in delete_order(life.state)]
        assert order.index("r2") < order.index("b") < order.index("subnet") < order.index("vpc")


def _blocks(ec2):
    return {n.name: (n.pod_cidr, sorted(route_checks.routed_by(n, route_checks.pod_route_tables(ec2))))
            for n in route_checks.nodes(ec2).values()}


def test_moving_pod_blocks_between_nodes_is_one_clean_update_each(dev_records):
    """Each of these failed with RouteAlreadyExists when routes were named after their node (or, for the
    --replace, left two instances claiming one block)."""
    changes = [
        ("node2 removed, node4 takes index 2", {"node1": {"index": 1}, "node3": {"index": 3}, "node4": {"index": 2}}),
        ("node3 renamed node5", {"node1": {"index": 1}, "node4": {"index": 2}, "node5": {"index": 3}}),
        ("node1 and node4 swap indices", {"node1": {"index": 2}, "node4": {"index": 1}, "node5": {"index": 3}}),
    ]
    with Lifecycle(config={}) as life:
        first = life.up()
        assert first.ok, first.error
        # A first up is the engine's plain run (what Lifecycle.after starts the other tests from).
        assert [s.op for s in life.steps] == ["create"] * len(life.steps)
        assert {u: (r.inputs, r.outputs) for u, r in life.state.items()} == {
            u: (r.inputs, r.outputs) for u, r in dev_records.records.items()}
        ec2 = life.ec2_reader()
        tables = len(route_checks.pod_route_tables(ec2))
        for why, nodes in changes:
            mark = len(life.steps)
            result = life.up({"nodes": nodes})
            assert result.ok, f"{why}: {result.error}"
            assert route_checks.check_pod_routes(ec2) == [], why
            routed = _blocks(ec2)
            assert sorted(routed) == sorted(nodes), why
            assert all(cidr == f"10.1.{nodes[n]['index']}.0/24" and len(t) == tables for n, (cidr, t) in routed.items())
            assert update_checks.replacement_problems(life.steps[mark:], result.records) == [], why
            assert cni_checks.check_run(result, life.kube, ec2) == [], why
        # `pulumi up --replace` of a node: the old instance goes first, its routes follow the new one.
        node1 = result.named("workers-node1").urn
        mark = len(life.steps)
        result = life.up(replace=[node1])
        assert result.ok, result.error
        ops = _ops(life, mark)
        assert ops[:2] == [("delete-replaced", "workers-node1"), ("create-replacement", "workers-node1")]
        assert all(op == "update" for op, name in ops[2:] if name.startswith("pod-routes-"))
        assert update_checks.replacement_problems(life.steps[mark:], result.records) == []
        assert route_checks.check_pod_routes(ec2) == []
        # The check bites: the same replacement create-before-delete leaves two instances on node1.
        steps = [s for s in life.steps[mark:] if s.op != "same"]
        swapped = [steps[1], steps[0], *steps[2:]]
        (problem,) = update_checks.replacement_problems(swapped, result.records)
        assert "two instances are node node1" in problem
        # `pulumi destroy`: nothing waits for what is already gone.
        assert destroy_checks.destroy_problems(life.state) == []
        names = destroy_checks.destroy_order(life.state)
        assert names.index("calico-operator") < min(names.index(f"workers-{n}") for n in ("node1", "node4", "node5"))
        assert names.index("lb-controller-release") < names.index("network-nat-us-east-1a")
        assert names.index("webapp-ingress") < names.index("lb-controller-release")
        life.destroy()
        assert life.state == {}


def test_existing_stacks_keep_their_routes(dev_stack):
    """Routes created when they were named <node>-<table> are the same routes under the new names."""
    with Lifecycle.after(*dev_stack) as life:  # the dev stack's first up: its shared run, copied
        legacy = {}
        for urn, record in life.state.items():
            if record.type == "aws:ec2/route:Route" and record.name.startswith("pod-routes-"):
                node = next(r.name.split("-", 1)[1] for r in life.state.values()
                            if r.type == "aws:ec2/instance:Instance"
                            and r.outputs["primaryNetworkInterfaceId"] == record.inputs["networkInterfaceId"])
                table = record.name[len("pod-routes-"):].rsplit("-", 1)[0]
                old = f"pod-routes-{node}-{table}"
                record.urn, record.name = urn.rsplit("::", 1)[0] + f"::{old}", old
            legacy[record.urn] = record
        life.state = legacy
        mark = len(life.steps)
        result = life.up()
        assert result.ok, result.error
        assert _ops(life, mark) == []  # every route adopted through its alias: no create, no delete


def test_switching_to_ipip_patches_felix_instead_of_claiming_its_configuration(dev_stack):
    with Lifecycle.after(*dev_stack) as life:  # the dev stack's first up: its shared run, copied
        key = ("crd.projectcalico.org/v1", "FelixConfiguration", "", "default")
        assert life.kube.owners[key] == "tigera-operator"  # the operator created it
        result = life.up({"encapsulation": "ipip"})
        assert result.ok, result.error
        felix = life.kube.objects[key]["spec"]
        assert felix["programClusterRoutes"] == "Enabled" and felix["vxlanPort"] == 4789
        assert life.kube.owners[key] == "tigera-operator"
        assert life.kube.managers[key]["spec.programClusterRoutes"] == calico.FIELD_MANAGER
        (patch,) = [r for r in result.resources if r.type.endswith(":FelixConfigurationPatch")]
        assert result.named("calico-operator").urn in patch.dependencies
        # Back to none: the patch goes, and so does its field; the operator's object and fields stay.
        assert life.up({}).ok
        felix = life.kube.objects[key]["spec"]
        assert "programClusterRoutes" not in felix and felix["vxlanPort"] == 4789


def test_helm_refuses_an_object_the_operator_created():
    """What the chart's defaultFelixConfiguration did to a stack switched to IPIP: helm upgrade fails."""
    kube = KubeContext()
    release = {"name": "calico", "chart": calico.CHART, "version": calico.CHART_VERSION,
               "values": calico.chart_values("none")}
    helm.install(kube, release)
    assert kube.owner_of("crd.projectcalico.org/v1", "FelixConfiguration", "default") == "tigera-operator"
    felix_values = {**release["values"], "defaultFelixConfiguration": {"enabled": True, "programClusterRoutes": "Enabled"}}
    with pytest.raises(KubeRejection, match="FelixConfiguration 'default' exists and cannot be imported"):
        helm.upgrade(kube, release, {**release, "values": felix_values})
    # At a first install the chart creates it and owns it; the operator then only adds its own fields.
    fresh = KubeContext()
    helm.install(fresh, {**release, "values": felix_values})
    key = ("crd.projectcalico.org/v1", "FelixConfiguration", "", "default")
    assert fresh.owners[key] == "helm:calico" and fresh.objects[key]["spec"]["vxlanVNI"] == 4096
    # Goldmane and Whisker: rendered only when enabled (our values turn them off).
    assert kube.owner_of("operator.tigera.io/v1", "Goldmane", "default") is None
    assert kube.owner_of("operator.tigera.io/v1", "Installation", "default") == "helm:calico"


def test_a_patch_conflicts_only_on_a_field_another_manager_holds():
    kube = KubeContext()
    helm.install(kube, {"name": "calico", "chart": calico.CHART, "version": calico.CHART_VERSION, "values": {}})
    patch = calico.felix_configuration_patch("ipip")
    kube.create("kubernetes:crd.projectcalico.org/v1:FelixConfigurationPatch", patch)
    clash = {**patch, "spec": {"vxlanPort": 4790}}
    with pytest.raises(KubeRejection, match='conflict with "tigera-operator": .spec.vxlanPort'):
        kube.create("kubernetes:crd.projectcalico.org/v1:FelixConfigurationPatch", clash)
    forced = {**clash, "metadata": {**clash["metadata"], "annotations": {"pulumi.com/patchForce": "true"}}}
    kube.create("kubernetes:crd.projectcalico.org/v1:FelixConfigurationPatch", forced)
    assert calico.felix_configuration_patch("vxlan") is None and calico.felix_configuration_patch("none") is None


def test_destroy_checks_catch_the_old_ordering(dev_stack):
    """The CNI release and the load balancer controller did not wait for what their deletion needs."""
    result, _ = dev_stack
    records = copy.deepcopy(result.records)  # the shared run: read, never changed (conftest.py)
    assert destroy_checks.destroy_problems(records) == []
    # The old wiring: nothing of Calico's waited for the workers, the controller not for the network.
    workers = {r.urn for r in result.resources if "WorkerNodes" in r.urn}
    network = {r.urn for r in result.resources if "k8snet:index:Network" in r.urn}
    for record in records.values():
        if record.name.startswith("calico"):
            record.dependencies = [d for d in record.dependencies if d not in workers]
        if record.name.startswith("lb-controller"):
            record.dependencies = [d for d in record.dependencies if d not in network]
    problems = destroy_checks.destroy_problems(records)
    assert any(p.startswith("calico-operator: its chart's pre-delete hook") for p in problems), problems
    assert any(p.startswith("lb-controller-release: does not depend on network-nat") for p in problems), problems
