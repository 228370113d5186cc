"""NodeLocal DNSCache: the pure objects and decisions (components/node_local_dns_manifests.py), then the
component under the engine (every object validated against the Kubernetes 1.35 schemas)."""

from __future__ import annotations

import pytest

from components import addressing, corefile
from components import node_local_dns_manifests as m
from offline.kube_schema import KubeSchemas


@pytest.mark.parametrize("cidr, expected", [("10.100.0.0/16", "10.100.0.10"), ("172.20.0.0/16", "172.20.0.10"),
                                            ("10.96.0.0/12", "10.96.0.10"), ("192.168.7.0/24", "192.168.7.10")])
def test_kube_dns_is_the_tenth_address_as_nodeadm_derives_it(cidr, expected):
    # nodeadm replaces the CIDR's last octet with 10 (GetClusterDns); for every CIDR EKS accepts
    # (/12../24, no host bits) that is the network address + 10.
    nodeadm_heuristic = cidr.split("/")[0].rsplit(".", 1)[0] + ".10"
    assert addressing.kube_dns_ip(cidr) == expected == nodeadm_heuristic


def test_listen_addresses_and_kubelet_setting_per_kube_proxy_mode():
    assert m.listen_ips("10.100.0.0/16", "iptables") == ("169.254.20.10", "10.100.0.10")
    assert m.listen_ips("10.100.0.0/16", "ipvs") == ("169.254.20.10",)  # kube-ipvs0 holds the ClusterIP
    assert m.kubelet_cluster_dns(True, "ipvs") == ("169.254.20.10",)
    assert m.kubelet_cluster_dns(True, "iptables") == ()  # pods keep the kube-dns ClusterIP, served locally
    assert m.kubelet_cluster_dns(False, "ipvs") == ()
    assert m.policy_ips("10.100.0.0/16") == ("169.254.20.10", "10.100.0.10")
    with pytest.raises(ValueError, match="nftables"):
        m.listen_ips("10.100.0.0/16", "nftables")


def test_node_cache_corefile_binds_the_listen_addresses_and_sends_every_miss_to_coredns():
    listen = m.listen_ips("10.100.0.0/16", "iptables")
    blocks = corefile.parse(m.corefile(listen, "10.100.1.1", 20))
    assert [b.zones for b in blocks] == [("cluster.local",), (".",)]
    for block in blocks:
        assert block.get("bind").args == listen
        forward = block.get("forward")
        assert forward.args == (".", "10.100.1.1") and forward.get("force_tcp") is not None
        assert block.get("reload") is not None and block.get("loop") is not None  # ConfigMap edits apply live
    cluster, rest = blocks
    cache = cluster.get("cache")
    assert cache.get("success").args == ("9984", "20") and cache.get("denial").args == ("9984", "5")
    assert cluster.get("health").args == ("169.254.20.10:8080",)
    assert rest.get("cache").args == ("20",)


def test_daemonset_flags_capabilities_and_probe():
    ds = m.daemonset(("169.254.20.10", "10.100.0.10"))
    pod = ds["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["image"] == "registry.k8s.io/dns/k8s-dns-node-cache:1.26.7"
    assert c["args"] == ["-localip", "169.254.20.10,10.100.0.10", "-conf", "/etc/Corefile",
                         "-upstreamsvc", "kube-dns-upstream"]
    assert m.local_ips_of(ds) == ("169.254.20.10", "10.100.0.10")
    assert c["securityContext"]["capabilities"]["add"] == ["NET_ADMIN"]
    assert c["livenessProbe"]["httpGet"] == {"host": "169.254.20.10", "path": "/health", "port": 8080}
    assert pod["hostNetwork"] is True and pod["dnsPolicy"] == "Default"
    assert pod["priorityClassName"] == "system-node-critical"
    assert pod["automountServiceAccountToken"] is False
    mounts = {v["mountPath"]: v["name"] for v in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/etc/coredns"]]["configMap"]["items"] == [{"key": "Corefile", "path": "Corefile.base"}]
    assert volumes[mounts["/run/xtables.lock"]]["hostPath"] == {"path": "/run/xtables.lock", "type": "FileOrCreate"}


def test_upstream_service_selects_the_coredns_pods_on_udp_and_tcp():
    svc = m.upstream_service()
    assert svc["metadata"]["name"] == "kube-dns-upstream" and svc["metadata"]["namespace"] == "kube-system"
    assert svc["spec"]["selector"] == {"k8s-app": "kube-dns"}
    assert {(p["protocol"], p["port"]) for p in svc["spec"]["ports"]} == {("UDP", 53), ("TCP", 53)}


def test_every_object_is_valid_for_kubernetes_1_35():
    schemas = KubeSchemas("1.35")
    listen = m.listen_ips("10.100.0.0/16", "iptables")
    for obj in (m.service_account(), m.upstream_service(), m.config_map(m.corefile(listen, "10.100.1.1", 30)),
                m.daemonset(listen)):
        assert schemas.errors(obj) == [], obj["kind"]
