"""Cross-object checks of cluster DNS that EKS and the API server would accept but that would not work.

- The CoreDNS add-on's ``corefile`` value parses; the block serving the cluster domain keeps the
  kubernetes plugin for it; the root block keeps ``ready`` and ``health`` (the add-on's readiness and
  liveness probes use /ready and /health: EKS user guide, "Manage CoreDNS"); a hosts block ends in
  ``fallthrough`` (without it hosts answers SERVFAIL for every other name: plugin/hosts/hosts.go).
- node-local-dns: its Corefile parses, binds exactly the DaemonSet's -localip addresses and sends misses
  to kube-dns-upstream, never to an address it listens on itself (a loop); iptables mode listens on the
  kube-dns ClusterIP too, ipvs mode must not (kube-ipvs0 holds it); the nodes' kubelet clusterDNS is
  169.254.20.10 exactly when kube-proxy runs ipvs, and never points at it without node-local-dns.

Inputs are the run's records (add-ons, instances' user data) and the API server's objects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from k8snet.network import addressing
from k8snet.dns import corefile
from k8snet.nodes import nodeadm
from k8snet.dns import node_local_dns_manifests as nld

from .stack import stack_config

if TYPE_CHECKING:  # the engine needs moto; these checks run in the policy pack too
    from ..harness.engine import RunResult

ADDON = "aws:eks/addon:Addon"


def addon_values(result: RunResult, name: str) -> dict:
    """An add-on's configuration values as registered ({} if none or the add-on is absent)."""
    for record in result.of_type(ADDON):
        if record.inputs.get("addonName") == name and record.inputs.get("configurationValues"):
            return json.loads(record.inputs["configurationValues"])
    return {}


def coredns_problems(text: str, cluster_domain: str = corefile.CLUSTER_DOMAIN) -> list[str]:
    try:
        blocks = corefile.parse(text)
    except corefile.CorefileError as exc:
        return [f"CoreDNS add-on: the corefile does not parse: {exc}"]
    problems = []
    cluster = corefile.server_for(blocks, cluster_domain)
    kubernetes = cluster.get("kubernetes") if cluster else None
    zones = (kubernetes.args or cluster.zones) if kubernetes else ()
    if kubernetes is None or not any(z in (".", cluster_domain) or cluster_domain.endswith("." + z) for z in zones):
        problems.append(f"CoreDNS add-on: the server block for {cluster_domain} has no kubernetes plugin for it: "
                        "Services and pods would not resolve")
    root = corefile.server_for(blocks, ".")
    for plugin in ("ready", "health"):
        if root is None or root.get(plugin) is None:
            problems.append(f"CoreDNS add-on: the root server block has no {plugin} plugin: the add-on's pods "
                            f"probe /{plugin} and would never become ready or would be restarted")
    for block in blocks:
        hosts = block.get("hosts")
        if hosts is not None and not (hosts.block and hosts.block[-1].name == "fallthrough"):
            problems.append(f"CoreDNS add-on: hosts in {' '.join(block.keys)} does not end in fallthrough: it "
                            "would answer SERVFAIL for every name it does not hold, cluster names included")
    return problems


def kube_proxy_mode(result: RunResult) -> str:
    return addon_values(result, "kube-proxy").get("mode", "iptables")


def obj(objects: Mapping[tuple, dict], api_version: str, kind: str, name: str) -> dict | None:
    return objects.get((api_version, kind, nld.NAMESPACE, name))


def node_local_dns_problems(objects: Mapping[tuple, dict], mode: str, service_cidr: str) -> list[str]:
    ds = obj(objects, "apps/v1", "DaemonSet", nld.NAME)
    if ds is None:
        return []
    listen = nld.local_ips_of(ds)
    kube_dns = addressing.kube_dns_ip(service_cidr)
    problems = []
    if nld.LOCAL_IP not in listen:
        problems.append(f"node-local-dns: -localip {','.join(listen)} lacks {nld.LOCAL_IP}, the address it is known by")
    if mode == "iptables" and kube_dns not in listen:
        problems.append(f"node-local-dns: kube-proxy runs iptables but it does not listen on the kube-dns ClusterIP "
                        f"{kube_dns}: pods (whose resolv.conf names that address) would bypass it")
    if mode == "ipvs" and kube_dns in listen:
        problems.append(f"node-local-dns: kube-proxy runs ipvs, whose kube-ipvs0 interface already holds {kube_dns}; "
                        "listen on the link-local address only")
    config = obj(objects, "v1", "ConfigMap", nld.NAME)
    upstream = obj(objects, "v1", "Service", nld.UPSTREAM_SERVICE)
    if config is None or upstream is None:
        return problems + [f"node-local-dns: the {nld.NAME} ConfigMap and the {nld.UPSTREAM_SERVICE} Service must exist"]
    try:
        blocks = corefile.parse(config["data"]["Corefile"])
    except corefile.CorefileError as exc:
        return problems + [f"node-local-dns: its Corefile does not parse: {exc}"]
    upstream_ip = upstream["spec"].get("clusterIP")
    for block in blocks:
        where = f"node-local-dns {' '.join(block.keys)}"
        bind, forward = block.get("bind"), block.get("forward")
        if bind is None or set(bind.args) != set(listen):
            problems.append(f"{where}: binds {' '.join(bind.args) if bind else 'nothing'}, not the DaemonSet's "
                            f"-localip {','.join(listen)}")
        targets = forward.args[1:] if forward else ()
        if set(targets) & set(listen):
            problems.append(f"{where}: forwards to {' '.join(targets)}, an address it listens on itself (a loop)")
        elif targets != (upstream_ip,):
            problems.append(f"{where}: forwards to {' '.join(targets) or 'nothing'}, not {nld.UPSTREAM_SERVICE} "
                            f"({upstream_ip})")
    return problems


def kubelet_problems(result: RunResult, node_local: bool, mode: str) -> list[str]:
    want = nld.kubelet_cluster_dns(node_local, mode)
    problems = []
    for record in result.of_type("aws:ec2/instance:Instance"):
        config = nodeadm.node_config_of(record.inputs.get("userData") or "") or {}
        got = tuple(((config.get("spec") or {}).get("kubelet") or {}).get("config", {}).get("clusterDNS") or ())
        if got != want:
            problems.append(f"instance {record.name}: kubelet clusterDNS {list(got) or 'nodeadm default'}, expected "
                            f"{list(want) or 'nodeadm default'} (node-local-dns {'on' if node_local else 'off'}, "
                            f"kube-proxy {mode})")
    return problems


def check_run(result: RunResult, objects: Mapping[tuple, dict]) -> list[str]:
    service_cidr = str(stack_config(result).service_cidr)
    problems = []
    values = addon_values(result, "coredns")
    if "corefile" in values:
        problems += coredns_problems(values["corefile"])
    mode = kube_proxy_mode(result)
    node_local = obj(objects, "apps/v1", "DaemonSet", nld.NAME) is not None
    problems += node_local_dns_problems(objects, mode, service_cidr)
    return problems + kubelet_problems(result, node_local, mode)
