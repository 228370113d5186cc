"""NodeLocal DNSCache (node-local-dns): its Kubernetes objects as plain dicts, its Corefile and the
kubelet setting it implies. Pure; components/node_local_dns.py registers the objects.

Sources: kubernetes/kubernetes cluster/addons/dns/nodelocaldns (nodelocaldns.yaml and README),
kubernetes/dns cmd/node-cache (flags, iptables rules, Corefile templating; tag 1.26.7), the
Kubernetes task "Using NodeLocal DNSCache in Kubernetes clusters". Written for this project, not
copied; differences from the reference manifest are listed in docs/dns.md.

How it works: a hostNetwork DaemonSet (CoreDNS built as ``node-cache``) adds a dummy interface
``nodelocaldns`` holding its listen addresses and iptables rules that NOTRACK DNS to and from them
(so kube-proxy never DNATs those packets), then serves DNS there from a local cache.

- kube-proxy iptables mode: it listens on the link-local address *and* the kube-dns ClusterIP;
  pods keep the kubelet's clusterDNS (the kube-dns ClusterIP) and are served locally, and if the
  cache stops (its rules are torn down on exit) queries fall back to kube-proxy and CoreDNS.
- ipvs mode: kube-proxy already holds the ClusterIP on kube-ipvs0, so node-local-dns listens on the
  link-local address only and kubelet's clusterDNS must be that address.

Cache misses (every zone) go over TCP to CoreDNS through the ``kube-dns-upstream`` Service (same
pods as kube-dns, another ClusterIP: the kube-dns ClusterIP is intercepted on the node), so the
Corefile the CoreDNS add-on holds (hosts entries, stub domains) stays the single source of truth.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..network import addressing
from .corefile import CLUSTER_DOMAIN, Directive, ServerBlock, render

NAME = "node-local-dns"
NAMESPACE = "kube-system"
UPSTREAM_SERVICE = "kube-dns-upstream"
# The link-local address the Kubernetes docs use; any address that collides with nothing works.
LOCAL_IP = "169.254.20.10"
# kubernetes/dns tag 1.26.7 (2025-10-16), promoted as registry.k8s.io/dns/k8s-dns-node-cache (docs/dns.md).
IMAGE = "registry.k8s.io/dns/k8s-dns-node-cache:1.26.7"
HEALTH_PORT = 8080  # node-cache's -health-port default; the health plugin listens on LOCAL_IP only
METRICS_PORT = 9253  # the reference manifest's prometheus port (CoreDNS's own 9153 may be taken)
DENIAL_TTL = 5  # negative answers for cluster names: StatefulSet pods polling for peers see them soon
CACHE_CAPACITY = 9984  # the cache plugin's default size (256 shards x 39)
COREFILE_PATH = "/etc/Corefile"  # written by node-cache from the mounted Corefile.base
CONFIG_DIR = "/etc/coredns"  # node-cache's -basecorefile default: /etc/coredns/Corefile.base
LABELS = {"k8s-app": NAME}
KUBE_DNS_LABELS = {"k8s-app": "kube-dns"}  # the CoreDNS add-on's pods
PROXY_MODES = ("iptables", "ipvs")


def listen_ips(service_cidr: str, kube_proxy_mode: str) -> tuple[str, ...]:
    """What node-cache binds (-localip): the link-local address, plus the kube-dns ClusterIP in
    iptables mode (ipvs already holds it on kube-ipvs0)."""
    if kube_proxy_mode not in PROXY_MODES:
        raise ValueError(f"kube-proxy mode {kube_proxy_mode!r}: node-local-dns supports {', '.join(PROXY_MODES)}")
    return (LOCAL_IP, addressing.kube_dns_ip(service_cidr)) if kube_proxy_mode == "iptables" else (LOCAL_IP,)


def kubelet_cluster_dns(enabled: bool, kube_proxy_mode: str) -> tuple[str, ...]:
    """kubelet clusterDNS for the nodes' NodeConfig; () keeps nodeadm's default (the kube-dns ClusterIP).

    Only ipvs mode with node-local-dns needs a change (Kubernetes docs: "If using kube-proxy in IPVS
    mode, --cluster-dns flag to kubelet needs to be modified to use <node-local-address>")."""
    return (LOCAL_IP,) if enabled and kube_proxy_mode == "ipvs" else ()


def policy_ips(service_cidr: str) -> tuple[str, str]:
    """Destinations a pod's DNS packets can have while node-local-dns answers them un-NATed (NOTRACK):
    NetworkPolicy egress must allow both as ipBlocks, a selector of the CoreDNS pods never matches."""
    return LOCAL_IP, addressing.kube_dns_ip(service_cidr)


def corefile(listen: Sequence[str], upstream_ip: str, cache_seconds: int,
             cluster_domain: str = CLUSTER_DOMAIN) -> str:
    """node-cache's Corefile: the cluster domain (short negative cache, health) and everything else,
    both bound to ``listen`` and forwarded over TCP to CoreDNS at ``upstream_ip``."""
    bind = Directive("bind", tuple(listen))
    forward = Directive("forward", (".", upstream_ip), (Directive("force_tcp"),))
    metrics = Directive("prometheus", (f":{METRICS_PORT}",))
    cluster = ServerBlock((f"{cluster_domain}:53",), (
        Directive("errors"),
        Directive("cache", (), (Directive("success", (str(CACHE_CAPACITY), str(cache_seconds))),
                                Directive("denial", (str(CACHE_CAPACITY), str(DENIAL_TTL))))),
        Directive("reload"), Directive("loop"), bind, forward, metrics,
        Directive("health", (f"{LOCAL_IP}:{HEALTH_PORT}",)),
    ))
    rest = ServerBlock((".:53",), (
        Directive("errors"), Directive("cache", (str(cache_seconds),)),
        Directive("reload"), Directive("loop"), bind, forward, metrics,
    ), comment="every other name goes to CoreDNS too: its hosts entries and stub domains apply")
    return render((cluster, rest))


def _meta(name: str, labels: dict | None = None) -> dict:
    return {"name": name, "namespace": NAMESPACE,
            "labels": {"app.kubernetes.io/part-of": "k8snet-dns", **(labels or LABELS)}}


def service_account() -> dict:
    # node-cache reads its Corefile from a mounted ConfigMap and the upstream's address from the
    # Service environment variables: it never calls the API, so no token is mounted.
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(NAME),
            "automountServiceAccountToken": False}


def upstream_service() -> dict:
    """kube-dns-upstream: the CoreDNS pods behind a ClusterIP node-local-dns does not intercept."""
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(UPSTREAM_SERVICE),
            "spec": {"selector": dict(KUBE_DNS_LABELS), "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53}]}}


def config_map(corefile_text) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(NAME), "data": {"Corefile": corefile_text}}


def args(listen: Sequence[str]) -> list[str]:
    """node-cache's flags: listen addresses, the Corefile it writes (CoreDNS's -conf), the Service
    whose ClusterIP environment variable it may substitute into the Corefile."""
    return ["-localip", ",".join(listen), "-conf", COREFILE_PATH, "-upstreamsvc", UPSTREAM_SERVICE]


def daemonset(listen: Sequence[str], image: str = IMAGE) -> dict:
    container = {
        "name": "node-cache",
        "image": image,
        "args": args(listen),
        # NET_ADMIN: the dummy interface and the NOTRACK/ACCEPT iptables rules. Runs as root (binds :53).
        "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}},
        "resources": {"requests": {"cpu": "25m", "memory": "5Mi"}},  # the reference manifest's requests
        "ports": [{"containerPort": 53, "name": "dns", "protocol": "UDP"},
                  {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
                  {"containerPort": METRICS_PORT, "name": "metrics", "protocol": "TCP"}],
        "livenessProbe": {"httpGet": {"host": LOCAL_IP, "path": "/health", "port": HEALTH_PORT},
                          "initialDelaySeconds": 60, "timeoutSeconds": 5},
        "volumeMounts": [{"name": "xtables-lock", "mountPath": "/run/xtables.lock"},
                         {"name": "config", "mountPath": CONFIG_DIR}],
    }
    pod = {
        "priorityClassName": "system-node-critical",
        "serviceAccountName": NAME,
        "automountServiceAccountToken": False,
        "hostNetwork": True,
        "dnsPolicy": "Default",  # the node's resolver: it must not depend on cluster DNS
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"},
                        {"operator": "Exists", "effect": "NoExecute"},
                        {"operator": "Exists", "effect": "NoSchedule"}],
        "containers": [container],
        "volumes": [
            # kube-proxy and node-cache share the host's iptables lock.
            {"name": "xtables-lock", "hostPath": {"path": "/run/xtables.lock", "type": "FileOrCreate"}},
            {"name": "config", "configMap": {"name": NAME, "items": [{"key": "Corefile", "path": "Corefile.base"}]}},
        ],
    }
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": _meta(NAME),
            "spec": {"selector": {"matchLabels": dict(LABELS)},
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}},
                     "template": {"metadata": {"labels": dict(LABELS)}, "spec": pod}}}


def local_ips_of(daemonset_obj: dict) -> tuple[str, ...]:
    """The -localip addresses of a node-local-dns DaemonSet (for checks reading the API server)."""
    for c in daemonset_obj["spec"]["template"]["spec"].get("containers") or []:
        flags = list(c.get("args") or [])
        if "-localip" in flags[:-1]:
            return tuple(flags[flags.index("-localip") + 1].split(","))
    return ()
