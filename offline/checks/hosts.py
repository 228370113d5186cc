"""Host protection under Calico: may a pod open a connection to a node's own address?

The operator runs calico-node with DefaultEndpointToHostAction ACCEPT, so only a policy on the pod's
egress stands between a pod and its node's host-network ports (and other nodes' ports the security group
admits between nodes, which pods reach SNATed to their node). This evaluates Calico's tiered policy for a
pod's egress to every node address and to ordinary destinations, over the GlobalNetworkPolicies and Tiers
in the simulated API server (crd.projectcalico.org/v1), with Calico's semantics: tiers by ascending order;
in a tier, the policies selecting the endpoint by order, their rules in turn (Allow/Deny decide, Pass
leaves the tier); a tier where some policy selected the endpoint but no rule decided applies its
defaultAction (the default tier's is Deny). Only the selectors the stack writes are understood
(``has(key)``, ``all()``); Kubernetes NetworkPolicies live in the default tier and are judged elsewhere.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache

from . import routes
from .cni import cni_of

CRD = "crd.projectcalico.org/v1"
DEFAULT_TIER_ORDER = 1_000_000.0  # libcalico-go clientv3 EnsureInitialized (tier "default", action Deny)
_HAS = re.compile(r"^\s*has\(([^)]+)\)\s*$")
# The labels Calico gives every pod's workload endpoint (libcalico-go conversion/workload_endpoint_default.go).
WORKLOAD_LABELS = {"projectcalico.org/orchestrator": "k8s", "projectcalico.org/namespace": "default"}


def _selects(selector: str, labels: Mapping[str, str]) -> bool:
    if selector.strip() == "all()":
        return True
    m = _HAS.match(selector or "")
    return bool(m) and m.group(1).strip() in labels


@lru_cache(maxsize=64)
def _nets(nets: tuple[str, ...]) -> tuple[frozenset, tuple]:
    """A rule's nets as (single addresses, wider networks): the host-protection rule lists every node's /32,
    so a lookup per node stays constant-time instead of scanning them all (quadratic at 1000 nodes)."""
    parsed = [ipaddress.ip_network(n, strict=False) for n in nets]
    return (frozenset(n.network_address for n in parsed if n.num_addresses == 1),
            tuple(n for n in parsed if n.num_addresses > 1))


def _in(ip, nets) -> bool:
    hosts, wider = _nets(tuple(nets))
    return ip in hosts or any(ip in n for n in wider)


def _rule_matches(rule: Mapping, dst: str) -> bool:
    d = rule.get("destination") or {}
    ip = ipaddress.ip_address(dst)
    if d.get("nets") and not _in(ip, d["nets"]):
        return False
    if d.get("notNets") and _in(ip, d["notNets"]):
        return False
    return not (d.get("selector") or d.get("notSelector") or d.get("ports") or rule.get("protocol"))


def egress_verdict(objects: Sequence[Mapping], dst: str, labels: Mapping[str, str] = WORKLOAD_LABELS) -> str:
    """"Allow", "Deny", or "next" (no tier before the default one decided) for a pod's egress to ``dst``."""
    tiers = {o["metadata"]["name"]: o.get("spec") or {} for o in objects
             if o["apiVersion"] == CRD and o["kind"] == "Tier"}
    policies = [o for o in objects if o["apiVersion"] == CRD and o["kind"] == "GlobalNetworkPolicy"]
    for tier in sorted(tiers, key=lambda t: (float(tiers[t].get("order", DEFAULT_TIER_ORDER)), t)):
        if float(tiers[tier].get("order", DEFAULT_TIER_ORDER)) >= DEFAULT_TIER_ORDER:
            break  # the default tier and after: NetworkPolicies' business
        selecting = sorted((p for p in policies if (p["spec"].get("tier") or "default") == tier
                            and "Egress" in (p["spec"].get("types") or ["Egress"])
                            and _selects(p["spec"].get("selector", "all()"), labels)),
                           key=lambda p: (float(p["spec"].get("order", 1e18)), p["metadata"]["name"]))
        verdict = None
        for policy in selecting:
            rule = next((r for r in policy["spec"].get("egress") or [] if _rule_matches(r, dst)), None)
            if rule is not None:
                verdict = rule["action"]
                break
        if verdict in ("Allow", "Deny"):
            return verdict
        if verdict is None and selecting and tiers[tier].get("defaultAction", "Deny") == "Deny":
            return "Deny"
    return "next"


def host_protection_problems(objects: Sequence[Mapping], node_ips: Mapping[str, str],
                             elsewhere: Sequence[str]) -> list[str]:
    """Every node address must be denied to pods; ``elsewhere`` (pod IPs, the internet, the API server)
    must be left to the namespaces' policies."""
    problems = [f"pods can open connections to {node}'s own address {ip} (its host-network ports: kubelet, "
                "Typha, the load balancer controller's webhook and probes, node-local-dns metrics): no Calico "
                "policy before the default tier denies it"
                for node, ip in sorted(node_ips.items()) if egress_verdict(objects, ip) != "Deny"]
    problems += [f"pods' egress to {dst} is decided ({verdict}) before the namespaces' NetworkPolicies: a host "
                 "protection tier must pass everything but the node addresses on"
                 for dst in elsewhere if (verdict := egress_verdict(objects, dst)) != "next"]
    return problems


def calico_problems(objects: Sequence[Mapping], node_ips: Mapping[str, str], pod_blocks: Sequence[str]) -> list[str]:
    """The nodes' addresses denied to pods; one pod address (in the first block) and an internet address
    left to the namespaces' policies."""
    elsewhere = [str(ipaddress.ip_network(b)[10]) for b in pod_blocks if b][:1]
    return host_protection_problems(objects, node_ips, [*elsewhere, "203.0.113.7"])


def check_run(result, kube, ec2) -> list[str]:
    """For a run with Calico: its policies against moto's node addresses (flannel has no such policy:
    docs/data-path.md says what that leaves open)."""
    kind, _ = cni_of(result.records.values())
    if kind != "calico":
        return []
    nodes = routes.nodes(ec2)
    return calico_problems(list(kube.objects.values()), {n: v.private_ip for n, v in nodes.items()},
                           [n.pod_cidr for n in nodes.values()])
