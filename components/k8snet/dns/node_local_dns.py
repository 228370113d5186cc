"""NodeLocalDns: NodeLocal DNSCache on every node (objects from k8snet/dns/node_local_dns_manifests.py).

Register it on the cluster's provider after the CoreDNS add-on: its cache misses go to the CoreDNS
pods through the ``kube-dns-upstream`` Service it creates. The kubelet side (clusterDNS in ipvs
mode) is the nodes' user data, set through ``WorkerNodesArgs.cluster_dns``
(``node_local_dns_manifests.kubelet_cluster_dns``); docs/dns.md explains both.
"""

from typing import NotRequired, Optional, TypedDict

import pulumi

from ..shared.args import checked
from ..shared import options
from ..shared.kube import kube_resource
from . import node_local_dns_manifests as m
from .corefile import DEFAULT_CACHE_SECONDS


class NodeLocalDnsArgs(TypedDict):
    service_cidr: str
    """The cluster's service CIDR (the kube-dns ClusterIP is its 10th address)."""
    kube_proxy_mode: NotRequired[str]
    """'iptables' (default) or 'ipvs': what node-local-dns listens on."""
    cache_seconds: NotRequired[int]
    """Cap for positive answers (the coredns setting cacheSeconds; default 30)."""
    image: NotRequired[str]
    """The node-cache image."""


class NodeLocalDns(pulumi.ComponentResource):
    """ServiceAccount, kube-dns-upstream Service, ConfigMap (Corefile) and DaemonSet ``node-local-dns``
    in kube-system. Pass the cluster's Kubernetes provider and what to wait for (the CoreDNS add-on)
    in ``opts``.

    Outputs: listen_ips (what node-cache binds), upstream_ip (kube-dns-upstream's ClusterIP, where
    cache misses go), policy_ips (destinations NetworkPolicy egress must allow for DNS)."""

    listen_ips: pulumi.Output[list[str]]
    """What node-cache binds on every node."""
    upstream_ip: pulumi.Output[str]
    """kube-dns-upstream's ClusterIP, where cache misses go."""
    policy_ips: list[str]
    """Destinations NetworkPolicy egress must allow for DNS (as /32 ipBlocks)."""

    def __init__(self, name: str, args: NodeLocalDnsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = checked(args, NodeLocalDnsArgs)
        mode = args.get("kube_proxy_mode", "iptables")
        listen = m.listen_ips(args["service_cidr"], mode)  # refuses an unknown mode first
        super().__init__("k8snet:index:NodeLocalDns", name, None, opts)
        after = options.dependencies(opts)

        account = kube_resource(f"{name}-service-account", m.service_account(), options.child(self, after))
        upstream = kube_resource(f"{name}-upstream", m.upstream_service(), options.child(self, after))
        upstream_ip = upstream.spec.apply(lambda spec: spec.cluster_ip)
        # The ClusterIP exists once the Service does; node-cache re-reads the ConfigMap (every 10 s)
        # and CoreDNS's reload plugin applies it, so a change needs no pod restart.
        corefile = upstream_ip.apply(lambda ip: m.corefile(listen, ip, args.get("cache_seconds", DEFAULT_CACHE_SECONDS)))
        config = kube_resource(f"{name}-config", m.config_map(corefile), options.child(self, after))
        kube_resource(f"{name}-daemonset", m.daemonset(listen, args.get("image", m.IMAGE)),
                      options.child(self, [*after, account, upstream, config]))

        self.listen_ips = pulumi.Output.from_input(list(listen))
        self.upstream_ip = upstream_ip
        self.policy_ips = list(m.policy_ips(args["service_cidr"]))
        self.register_outputs({"listenIps": self.listen_ips, "upstreamIp": self.upstream_ip,
                               "policyIps": self.policy_ips})
