"""Cluster DNS over the plan: offline/checks/dns.py's checks (the CoreDNS add-on's Corefile, node-local-dns,
kubelet's clusterDNS in the nodes' user data), reading the plan where they read the run."""

from __future__ import annotations

import json

from offline.checks import dns as dns_checks

from ..plan import Plan, Resource, known
from ..registry import MANDATORY, Violation, resource_rule, stack_rule

CLUSTER = "aws:eks/cluster:Cluster"
INSTANCE = "aws:ec2/instance:Instance"


@resource_rule("coredns-corefile", "The CoreDNS add-on's Corefile parses and keeps kubernetes for the cluster domain, "
                                   "ready, health, and hosts with fallthrough",
               types=[dns_checks.ADDON], level=MANDATORY,
               why="A Corefile without the kubernetes plugin for cluster.local, or hosts without fallthrough, breaks "
                   "every Service name in the cluster; without ready/health the add-on's pods never become ready. "
                   "Checked before the add-on is updated. Mandatory.")
def check_corefile(addon: Resource, config: dict):
    if addon.props.get("addonName") != "coredns" or not addon.props.get("configurationValues"):
        return
    values = json.loads(known(addon.props["configurationValues"], "configurationValues"))
    if "corefile" in values:
        for problem in dns_checks.coredns_problems(values["corefile"]):
            yield Violation(problem, addon.urn)


@stack_rule("node-local-dns", "node-local-dns listens where kube-proxy's mode needs it, forwards to "
                              "kube-dns-upstream without a loop, and kubelet's clusterDNS matches",
            level=MANDATORY,
            why="A node-local-dns that listens on the wrong address, forwards to itself or that kubelet does not "
                "point pods at breaks or bypasses DNS on every node. Mandatory.")
def check_node_local_dns(plan: Plan, config: dict):
    clusters = plan.of_type(CLUSTER)
    if len(clusters) != 1:
        return
    network = clusters[0].props.get("kubernetesNetworkConfig") or {}
    service_cidr = known(network.get("serviceIpv4Cidr"), "the cluster's serviceIpv4Cidr")
    objects = {k: o for k, o in plan.kube_object_map().items() if k[2] == dns_checks.nld.NAMESPACE}
    known([a.props.get("configurationValues") for a in plan.of_type(dns_checks.ADDON)], "the add-ons' values")
    mode = dns_checks.kube_proxy_mode(plan)
    node_local = dns_checks.obj(objects, "apps/v1", "DaemonSet", dns_checks.nld.NAME) is not None
    with plan.checking("node-local-dns objects"):
        yield from dns_checks.node_local_dns_problems(known(objects, "its objects"), mode, service_cidr)
    with plan.checking("the nodes' user data"):
        known([i.props.get("userData") for i in plan.of_type(INSTANCE)], "userData")
        yield from dns_checks.kubelet_problems(plan, node_local, mode)
