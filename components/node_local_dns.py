"""NodeLocalDns: NodeLocal DNSCache on every node (objects from components/node_local_dns_manifests.py).

Register it on the cluster's provider after the CoreDNS add-on: its cache misses go to the CoreDNS
pods through the ``kube-dns-upstream`` Service it creates. The kubelet side (clusterDNS in ipvs
mode) is the nodes' user data, set through ``ClusterArgs.cluster_dns``
(``node_local_dns_manifests.kubelet_cluster_dns``); docs/dns.md explains both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from . import node_local_dns_manifests as m
from .corefile import DEFAULT_CACHE_SECONDS


@dataclass
class NodeLocalDnsArgs:
    service_cidr: str  # the cluster's (the kube-dns ClusterIP is its 10th address)
    kube_proxy_mode: str = "iptables"  # "iptables" | "ipvs": what node-local-dns listens on
    cache_seconds: int = DEFAULT_CACHE_SECONDS  # cap for positive answers (the coredns config's cacheSeconds)
    image: str = m.IMAGE
    provider: k8s.Provider | None = None  # the cluster's
    depends_on: Sequence[pulumi.Resource] = ()  # the CoreDNS add-on


class NodeLocalDns(pulumi.ComponentResource):
    """ServiceAccount, kube-dns-upstream Service, ConfigMap (Corefile) and DaemonSet ``node-local-dns``
    in kube-system.

    Outputs: listen_ips (what node-cache binds), upstream_ip (kube-dns-upstream's ClusterIP, where
    cache misses go), policy_ips (destinations NetworkPolicy egress must allow for DNS)."""

    listen_ips: pulumi.Output[list]
    upstream_ip: pulumi.Output[str]
    policy_ips: tuple[str, ...]

    def __init__(self, name: str, args: NodeLocalDnsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("k8snet:index:NodeLocalDns", name, None, opts)
        listen = m.listen_ips(args.service_cidr, args.kube_proxy_mode)  # refuses an unknown mode first
        child = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.depends_on))

        def after(*resources: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=list(resources)))

        sa_obj, svc_obj = m.service_account(), m.upstream_service()
        account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account", metadata=sa_obj["metadata"],
            automount_service_account_token=sa_obj["automountServiceAccountToken"], opts=child)
        upstream = k8s.core.v1.Service(f"{name}-upstream", metadata=svc_obj["metadata"], spec=svc_obj["spec"],
                                       opts=child)
        upstream_ip = upstream.spec.apply(lambda spec: spec.cluster_ip)
        # The ClusterIP exists once the Service does; node-cache re-reads the ConfigMap (every 10 s)
        # and CoreDNS's reload plugin applies it, so a change needs no pod restart.
        corefile = upstream_ip.apply(lambda ip: m.corefile(listen, ip, args.cache_seconds))
        cm_obj = m.config_map(corefile)
        config = k8s.core.v1.ConfigMap(f"{name}-config", metadata=cm_obj["metadata"], data=cm_obj["data"], opts=child)
        ds = m.daemonset(listen, args.image)
        k8s.apps.v1.DaemonSet(f"{name}-daemonset", metadata=ds["metadata"], spec=ds["spec"],
                              opts=after(account, upstream, config))

        self.listen_ips = pulumi.Output.from_input(list(listen))
        self.upstream_ip = upstream_ip
        self.policy_ips = m.policy_ips(args.service_cidr)
        self.register_outputs({"listenIps": self.listen_ips, "upstreamIp": self.upstream_ip,
                               "policyIps": list(self.policy_ips)})
