"""Pods and the nodes' own ports (issue 13 item 4): under Calico a tiered GlobalNetworkPolicy keeps pods off
the node addresses and passes everything else on; the engine evaluates Calico's tier semantics to show it."""

from __future__ import annotations

from k8snet.cni import calico
from offline.checks import hosts
from offline.kube.schemas import KubeSchemas

NODES = {"node1": "192.168.1.4", "node2": "192.168.2.4"}
ELSEWHERE = ["10.1.1.10", "203.0.113.7", "192.168.1.200"]  # a pod, the internet, an internal load balancer


def _objects(tier=None, policy=None):
    return [tier or calico.host_protection_tier(), policy or calico.host_protection_policy(NODES.values())]


def test_the_policy_denies_node_addresses_and_passes_the_rest():
    objects = _objects()
    assert all(hosts.egress_verdict(objects, ip) == "Deny" for ip in NODES.values())
    assert all(hosts.egress_verdict(objects, ip) == "next" for ip in ELSEWHERE)
    assert hosts.host_protection_problems(objects, NODES, ELSEWHERE) == []
    schemas = KubeSchemas("1.35")
    assert all(schemas.errors(o) == [] for o in objects)
    assert objects[1]["metadata"]["name"] == f"{calico.HOST_TIER}.pods-to-nodes"  # v3's tiered name


def test_without_the_policy_every_node_is_open_to_pods():
    """What the stack shipped before: no Calico policy, only the namespaces' NetworkPolicies."""
    problems = hosts.host_protection_problems([], NODES, ELSEWHERE)
    assert len(problems) == 2 and all("no Calico policy before the default tier denies it" in p for p in problems)
    # A node missing from the policy (added later, policy not updated) is open too.
    partial = _objects(policy=calico.host_protection_policy(["192.168.1.4"]))
    (problem,) = hosts.host_protection_problems(partial, NODES, ELSEWHERE)
    assert "node2" in problem


def test_a_deny_by_default_tier_would_isolate_every_pod():
    """Calico drops at the end of a tier whatever a selecting policy did not decide, unless the tier passes."""
    deny_tier = {**calico.host_protection_tier(), "spec": {"order": calico.HOST_TIER_ORDER, "defaultAction": "Deny"}}
    policy = calico.host_protection_policy(NODES.values())
    no_pass = {**policy, "spec": {**policy["spec"], "egress": policy["spec"]["egress"][:1]}}
    problems = hosts.host_protection_problems(_objects(deny_tier, no_pass), NODES, ELSEWHERE)
    assert len(problems) == len(ELSEWHERE) and all("decided (Deny)" in p for p in problems)
    # With the explicit Pass rule the same tier is harmless; with defaultAction Pass the rule is not needed.
    assert hosts.host_protection_problems(_objects(deny_tier, policy), NODES, ELSEWHERE) == []
    assert hosts.host_protection_problems(_objects(policy=no_pass), NODES, ELSEWHERE) == []
    # In the default tier (no tier of its own) the policy is not evaluated before the NetworkPolicies.
    untiered = {**policy, "spec": {k: v for k, v in policy["spec"].items() if k != "tier"}}
    assert hosts.host_protection_problems([untiered], NODES, ELSEWHERE)


def test_the_dev_stack_protects_every_node(dev_stack):
    result, engine = dev_stack
    ec2 = engine.ec2_reader()
    assert hosts.check_run(result, engine.kube, ec2) == []
    (policy,) = [o for o in engine.kube.objects.values() if o["kind"] == "GlobalNetworkPolicy"]
    node_ips = {f"{n.private_ip}/32" for n in hosts.routes.nodes(ec2).values()}
    assert set(policy["spec"]["egress"][0]["destination"]["nets"]) == node_ips
    gnp = next(r for r in result.resources if r.name == "calico-host-protection")
    assert result.named("calico-host-tier").urn in gnp.dependencies
    assert result.named("calico-operator").urn in gnp.dependencies
