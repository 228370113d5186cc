"""NodeLocal DNSCache (node-local-dns): its Kubernetes objects as plain dicts, its Corefile and the
kubelet setting it implies. Pure; components/node_local_dns.py registers the objects.

Sources: kubernetes/kubernetes cluster/addons/dns/nodelocaldns (nodelocaldns.yaml and README),
kubernetes/dns cmd/node-cache (flags, iptables rules, Corefile templating; tag 1.26.4), the
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
from ..shared import images
from .corefile import CLUSTER_DOMAIN, Directive, ServerBlock, render

NAME = "node-local-dns"
NAMESPACE = "kube-system"
UPSTREAM_SERVICE = "kube-dns-upstream"
# The link-local address the Kubernetes docs use; any address that collides with nothing works.
LOCAL_IP = "169.254.20.10"
# registry.k8s.io/dns/k8s-dns-node-cache, tag and digest (and why 1.26.4) in k8snet/shared/images.py.
IMAGE = images.NODE_CACHE
HEALTH_PORT = 8080  # node-cache's -health-port default; the health plugin listens on LOCAL_IP only
METRICS_PORT = 9253  # the reference manifest's prometheus port (CoreDNS's own 9153 may be taken)
DENIAL_TTL = 5  # negative answers for cluster names: StatefulSet pods polling for peers see them soon
CACHE_CAPACITY = 9984  # the cache plugin's default size (256 shards x 39)
# node-cache renders Corefile.base into the file CoreDNS's -conf flag names (cmd/node-cache/main.go: -conf
# overrides -corefile, default /etc/Corefile; app/configmap.go updateCorefile writes it with os.WriteFile,
# at start and on every ConfigMap change). The root filesystem is read-only, so it goes to an emptyDir.
RENDER_DIR = "/run/node-cache"
COREFILE_PATH = f"{RENDER_DIR}/Corefile"
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


# Hardening (issue 13). Root, because netlink and iptables need it (the capabilities below are not raised
# for a non-root process without file capabilities), but only with:
# - NET_ADMIN: the dummy interface and the NOTRACK/ACCEPT rules (iptables-nft talks netlink; AL2023 nodes
#   use the nft backend, so NET_RAW, which legacy iptables' raw socket would need, stays dropped);
# - NET_BIND_SERVICE: binding port 53.
# A read-only root: the image's iptables-wrapper (kubernetes-sigs/iptables-wrappers main.go) cannot relink
# /usr/sbin/iptables to the detected backend and then runs xtables-<mode>-multi itself on every call, which
# works; the xtables lock is the host's file and the rendered Corefile goes to RENDER_DIR.
CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True,
                      "capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN", "NET_BIND_SERVICE"]}}
# Requests as the reference manifest; limits bound a runaway cache without throttling normal load (CoreDNS's
# own manifest limits memory to 170Mi).
RESOURCES = {"requests": {"cpu": "25m", "memory": "5Mi"}, "limits": {"cpu": "1", "memory": "170Mi"}}


def daemonset(listen: Sequence[str], image: str = IMAGE) -> dict:
    health = {"httpGet": {"host": LOCAL_IP, "path": "/health", "port": HEALTH_PORT}, "timeoutSeconds": 5}
    container = {
        "name": "node-cache",
        "image": image,
        "args": args(listen),
        "securityContext": CONTAINER_SECURITY,
        "resources": RESOURCES,
        "ports": [{"containerPort": 53, "name": "dns", "protocol": "UDP"},
                  {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
                  {"containerPort": METRICS_PORT, "name": "metrics", "protocol": "TCP"}],
        "livenessProbe": {**health, "initialDelaySeconds": 60},
        "readinessProbe": {**health, "periodSeconds": 10},
        "volumeMounts": [{"name": "xtables-lock", "mountPath": "/run/xtables.lock"},
                         {"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                         {"name": "rendered", "mountPath": RENDER_DIR}],
    }
    pod = {
        "priorityClassName": "system-node-critical",
        "serviceAccountName": NAME,
        "automountServiceAccountToken": False,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
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
            {"name": "rendered", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
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
