"""The CNI wired into the whole program (as __main__.py will): checks against the VPC's routes,
what switching cni/encapsulation changes, and the preview table."""

from __future__ import annotations

import dataclasses
from dataclasses import replace

import pytest

from offline import checks, flows, report
from offline.checks import cni as cni_checks
from offline.flows import verify
from tests.flows_models import LB_FORWARDS, failing, node_group, with_pre_fix_rules

AWS_TYPES = ("aws:",)
# The flows that carry NodePort traffic a node forwards to a pod on another node -> the Service behind them.
FORWARDED = {"NLB -> NodePort -> pod on another node": "webapp/webapp-lb",
             "ALB -> NodePort -> pod on another node": "webapp/webapp-nodeport"}


@pytest.mark.parametrize("cni, encap", [("calico", "none"), ("calico", "vxlan"), ("calico", "ipip"),
                                        ("flannel", "none"), ("flannel", "vxlan")])
def test_cni_matches_the_vpc(stack_run, cni, encap):
    result, engine = stack_run({"cni": cni, "encapsulation": encap})
    assert result.ok, result.error
    ec2 = engine.ec2_reader()
    routed = cni_checks.routed_blocks(ec2)
    assert routed == {"node1": "10.1.1.0/24", "node2": "10.1.2.0/24", "node3": "10.1.3.0/24"}
    assert cni_checks.check_run(result, engine.kube, ec2) == []
    table = report.cni_table(result, engine.kube, ec2)
    assert table.splitlines()[0].startswith(cni)
    mtu = {"none": "9001", "vxlan": "8951", "ipip": "8981"}[encap]
    rows = [line.split() for line in table.splitlines()[2:]]
    assert [r[0] for r in rows] == ["node1", "node2", "node3"] and all(r[-1] == mtu for r in rows)
    _forwarded_traffic_arrives(result, engine, cni, encap)


def _forwarded_traffic_arrives(result, engine, cni, encap):
    """NodePort/NLB/ALB traffic one node forwards to a webapp pod on another node gets through the security
    group and the policies (issue 11 items 2, 3), and so would Goldmane's if it ran (item 11), as the flow
    verifier walks it (offline/flows; run_all and the preview fail on what it finds). Before the fix: routed
    modes dropped it at the security group, overlays at the webapp policy (tunnel source)."""
    fm = flows.from_engine(result, engine)
    v = verify(fm)
    assert v.holds, v.problems
    assert not fm.cni.goldmane  # Goldmane is off (the release renders no Goldmane resource)
    every = {r.flow.name: r for r in verify(fm, exhaustive=True, only=FORWARDED).results}
    for name, service in FORWARDED.items():  # every ordered pair of the three nodes, through the Service's NodePort
        cases = every[name].cases
        assert len({c.nodes for c in cases}) == 6, name
        assert all(any(h.note.startswith(f"NodePort {service} ") for h in c.trace.hops) for c in cases), name
    group = node_group(fm)
    goldmane = replace(fm, cni=replace(fm.cni, goldmane=True))  # as if the chart's default had stayed on
    if encap == "none":
        # The check bites: without the node-to-node rule for the web port, the forwarded traffic is dropped.
        no_forward = tuple(r for r in fm.rules if not (r.group == group and not r.egress and r.from_port == 80
                                                       and r.peer_group == group))
        bad = failing(verify(replace(fm, rules=no_forward)))
        assert set(FORWARDED) <= set(bad)
        for name in FORWARDED:
            hop = bad[name].trace.decisive
            assert hop.at.startswith("workers-sg ingress on ") and hop.note.startswith("no rule admits tcp/80 from ")
        # Had Goldmane stayed on (the chart's default), calico-node's reports to it would be dropped.
        hop = failing(verify(goldmane))["calico-node -> Goldmane"].trace.decisive
        assert hop.at.startswith("workers-sg ingress on ") and hop.note.startswith("no rule admits tcp/7443 from ")
    else:
        # Without the tunnel sources in the webapp policy, the forwarded traffic is dropped there.
        webapp = next(p for p in fm.policies() if p["metadata"]["name"] == "webapp-ingress")
        rule = webapp["spec"]["ingress"][0]
        vpc_only = {**webapp, "spec": {**webapp["spec"], "ingress": [{**rule, "from": rule["from"][:1]}]}}
        bad = failing(verify(replace(fm, objects=tuple(vpc_only if o is webapp else o for o in fm.objects))))
        assert set(FORWARDED) <= set(bad)
        for name in FORWARDED:
            case = bad[name]
            forwarder = fm.nodes[case.nodes[0]]
            assert case.trace.decisive.at.startswith("NetworkPolicy ingress of webapp/")
            assert case.trace.decisive.note == f"no policy admits tcp/80 from {forwarder.tunnel_ip}"
            assert forwarder.tunnel_ip in forwarder.pod_cidr  # the tunnel address
        gm = verify(goldmane)  # in the tunnel, and nothing polices calico-system
        assert gm.holds and "calico-node -> Goldmane" in {r.flow.name for r in gm.results}


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
    ec2 = engine.ec2_reader()
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


def test_run_all_fails_on_a_broken_forwarded_path(dev_stack):
    """checks.run_all (the CLI's checks) includes the flow verifier's problems: none for the dev stack's own
    verification, the broken paths for one of the rules before the fix."""
    result, engine = dev_stack
    model = flows.from_engine(result, engine)
    assert checks.run_all(result, engine, verify(model)) == []
    broken = verify(with_pre_fix_rules(model))
    problems = checks.run_all(result, engine, broken)
    assert problems == broken.problems and len(problems) == len(LB_FORWARDS)
    assert any(p.startswith("flow NLB -> NodePort -> pod on another node ") and
               "deny at workers-sg ingress on node" in p and "no rule admits tcp/80 from 192.168." in p for p in problems)
