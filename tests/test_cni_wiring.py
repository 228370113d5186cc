"""The CNI wired into the whole program (as __main__.py will): checks against the VPC's routes,
what switching cni/encapsulation changes, and the preview table."""

from __future__ import annotations

import dataclasses

import pytest

from offline.checks import cni as cni_checks
from offline.checks import forwarding
from offline import report

AWS_TYPES = ("aws:",)


@pytest.mark.parametrize("cni, encap", [("calico", "none"), ("calico", "vxlan"), ("calico", "ipip"),
                                        ("flannel", "none"), ("flannel", "vxlan")])
def test_cni_matches_the_vpc(stack_run, cni, encap):
    result, engine = stack_run({"cni": cni, "encapsulation": encap})
    assert result.ok, result.error
    ec2 = engine.client("ec2")
    routed = cni_checks.routed_blocks(ec2)
    assert routed == {"node1": "10.1.1.0/24", "node2": "10.1.2.0/24", "node3": "10.1.3.0/24"}
    assert cni_checks.check_run(result, engine.kube, ec2) == []
    table = report.cni_table(result, engine.kube, ec2)
    assert table.splitlines()[0].startswith(cni)
    mtu = {"none": "9001", "vxlan": "8951", "ipip": "8981"}[encap]
    rows = [line.split() for line in table.splitlines()[2:]]
    assert [r[0] for r in rows] == ["node1", "node2", "node3"] and all(r[-1] == mtu for r in rows)
    _forwarded_traffic_arrives(result, engine, ec2, cni, encap)


def _forwarded_traffic_arrives(result, engine, ec2, cni, encap):
    """NodePort/NLB/ALB traffic one node forwards to a webapp pod on another node gets through the security
    group and the policies (issue 11 items 2, 3), and so would Goldmane's if it ran (item 11). Before the
    fix: routed modes dropped it at the security group, overlays at the webapp policy (tunnel source)."""
    assert forwarding.check_run(result, engine.kube, ec2) == []
    nodes = list(forwarding.routes.nodes(ec2).values())
    objects = list(engine.kube.objects.values())
    flows = forwarding.flows(objects, nodes, goldmane=False)  # Goldmane is off (the release says so)
    goldmane = [f for f in forwarding.flows(objects, nodes, goldmane=True) if "Goldmane" in f.what]
    assert {f.what.split(" (")[0] for f in flows} >= {"kube-proxy forwarding webapp/webapp-nodeport",
                                                       "kube-proxy forwarding webapp/webapp-lb"}
    assert len({(f.a.name, f.b.name) for f in flows}) == 6  # every ordered pair of the three nodes
    sg = result.named("workers-sg").id
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [sg]}])["SecurityGroupRules"]
    pols = [o for o in objects if o["kind"] == "NetworkPolicy"]

    def problems(rules_, pols_, flows_=flows):
        return forwarding.flow_problems(flows_, cni, encap, lambda n: rules_, lambda n: (sg,), pols_)

    assert problems(rules, pols) == []
    # The check bites: without the node-to-node rule (routed) or the tunnel sources in the webapp policy
    # (overlay), the forwarded traffic is dropped -- as it was before the fix.
    if encap == "none":
        no_forward = [r for r in rules if not (r.get("FromPort") == 80 and r.get("ReferencedGroupInfo"))]
        assert any("security group drops TCP port 80" in p for p in problems(no_forward, pols))
        # Had Goldmane stayed on (the chart's default), calico-node's reports to it would be dropped.
        assert any("security group drops TCP port 7443" in p for p in problems(rules, pols, goldmane))
    else:
        webapp = next(p for p in pols if p["metadata"]["name"] == "webapp-ingress")
        rule = webapp["spec"]["ingress"][0]
        vpc_only = {**webapp, "spec": {**webapp["spec"], "ingress": [{**rule, "from": rule["from"][:1]}]}}
        old = [vpc_only if p is webapp else p for p in pols]
        assert any("NetworkPolicies in webapp drop it" in p and "tunnel address" in p for p in problems(rules, old))
        assert problems(rules, pols, goldmane) == []  # in the tunnel, and nothing polices calico-system


def _cni_rule(record) -> bool:
    # The nodes' security-group rules a CNI mode needs (tests/test_cluster.py checks them per mode).
    return record.type == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule" and (
        record.name.startswith(("workers-cni-", "workers-cp-calico")))


def _aws(result):
    return {r.urn: r.inputs for r in result.resources
            if r.type.startswith(AWS_TYPES) and r.type != "aws:ec2/route:Route" and not _cni_rule(r)}


def test_switching_cni_or_encapsulation_touches_only_cni_and_pod_routes(stack_run):
    base, _ = stack_run({"cni": "calico", "encapsulation": "none"})
    for change in ({"cni": "flannel", "encapsulation": "none"}, {"cni": "calico", "encapsulation": "vxlan"},
                   {"cni": "flannel", "encapsulation": "vxlan"}):
        other, _ = stack_run(change)
        assert other.ok, other.error
        assert _aws(other) == _aws(base), change  # VPC, subnets, instances: same URNs, same inputs
        routes = {r.urn for r in other.of_type("aws:ec2/route:Route")}
        pod_routes = {r.urn for r in base.of_type("aws:ec2/route:Route") if "pod-routes" in r.urn}
        if change["encapsulation"] == "none":
            assert pod_routes <= routes
        else:
            assert not pod_routes & routes


def test_checks_fail_when_cni_and_vpc_disagree(stack_run):
    result, engine = stack_run({"cni": "calico"})
    ec2 = engine.client("ec2")
    blocks = cni_checks.routed_blocks(ec2)
    blocks["node2"], blocks["node3"] = blocks["node3"], blocks["node2"]
    problems = cni_checks.check_cni(engine.kube.objects, result.records.values(), blocks, "none")
    assert any("node2" in p and "10.1.3.0/24" in p for p in problems), problems


def test_custom_resources_depend_on_the_release(stack_run):
    result, _ = stack_run({"cni": "calico"})
    assert cni_checks.check_crd_dependencies(result.records.values()) == []
    records = [r for r in result.records.values()]
    pool = dataclasses.replace(next(r for r in records if r.type.endswith(":IPPool")), dependencies=[])
    records = [pool if r.urn == pool.urn else r for r in records]
    assert cni_checks.check_crd_dependencies(records) == [
        f"{pool.type} {pool.name}: does not depend on the helm release that installs its CRD"]
