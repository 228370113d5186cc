"""NodeLocal DNSCache: the pure objects and decisions (k8snet/dns/node_local_dns_manifests.py), then the
component under the engine (every object validated against the Kubernetes 1.35 schemas)."""

from __future__ import annotations

import pytest

from k8snet.network import addressing
from k8snet.dns import corefile
from k8snet.dns import node_local_dns_manifests as m
from offline.kube.schemas import KubeSchemas


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
    assert c["image"].startswith("registry.k8s.io/dns/k8s-dns-node-cache:1.26.4@sha256:")
    assert c["args"] == ["-localip", "169.254.20.10,10.100.0.10", "-conf", "/run/node-cache/Corefile",
                         "-upstreamsvc", "kube-dns-upstream"]
    assert m.local_ips_of(ds) == ("169.254.20.10", "10.100.0.10")
    # Least privilege (issue 13): read-only root, the two capabilities node-cache needs, default seccomp.
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"], "add": ["NET_ADMIN", "NET_BIND_SERVICE"]}
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert set(c["resources"]["limits"]) == {"cpu", "memory"}
    assert c["livenessProbe"]["httpGet"] == {"host": "169.254.20.10", "path": "/health", "port": 8080}
    assert pod["hostNetwork"] is True and pod["dnsPolicy"] == "Default"
    assert pod["priorityClassName"] == "system-node-critical"
    assert pod["automountServiceAccountToken"] is False
    mounts = {v["mountPath"]: v["name"] for v in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/etc/coredns"]]["configMap"]["items"] == [{"key": "Corefile", "path": "Corefile.base"}]
    assert volumes[mounts["/run/xtables.lock"]]["hostPath"] == {"path": "/run/xtables.lock", "type": "FileOrCreate"}
    assert "emptyDir" in volumes[mounts["/run/node-cache"]]  # where -conf is written: the root is read-only


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


# --- NetworkPolicy: DNS to node-local-dns is never DNATed to a CoreDNS pod ------------------------

def _app_objects(dns_ips=()):
    from k8snet.app import manifests as app_manifests

    return app_manifests.all_objects(app_manifests.AppSettings(dns_ips=tuple(dns_ips)))


@pytest.mark.parametrize("mode", ["iptables", "ipvs"])
def test_app_dns_policy_allows_what_node_local_dns_listens_on(mode):
    from offline.checks import app as app_checks

    listen = m.listen_ips("10.100.0.0/16", mode)
    objects = _app_objects(m.policy_ips("10.100.0.0/16")) + [m.daemonset(listen)]
    results = app_checks.flow_results(objects, "webapp", "192.168.0.0/16")
    local = [(f, got) for f, got in results if f.dst.name.startswith("node-local-dns")]
    assert {f.dst.ip for f, _ in local} == set(listen)
    assert all(got == f.expected for f, got in results), [(f.dst.name, f.port, got) for f, got in results]
    assert any(f.port == 53 and got for f, got in local) and any(f.port == 8080 and not got for f, got in local)
    allow_dns = next(o for o in objects if o["metadata"]["name"] == "allow-dns")
    blocks = [p["ipBlock"]["cidr"] for p in allow_dns["spec"]["egress"][0]["to"] if "ipBlock" in p]
    assert blocks == ["169.254.20.10/32", "10.100.0.10/32"]


def test_selector_only_dns_policy_breaks_dns_through_node_local_dns():
    """The app's policies without the ipBlocks: Calico would drop the NOTRACKed queries, and the check says so."""
    from offline.checks import app as app_checks
    from offline import report

    objects = _app_objects() + [m.daemonset(m.listen_ips("10.100.0.0/16", "iptables"))]
    problems = app_checks.flow_problems(objects, "webapp", "192.168.0.0/16")
    assert "webapp pod -> node-local-dns 169.254.20.10:53/UDP is denied, expected allowed " \
           "(DNS answered on the node, never DNATed)" in problems
    assert any("node-local-dns 10.100.0.10:53/TCP is denied" in p for p in problems)
    assert "<-- expected allow" in report.flow_matrix(objects, "webapp", "192.168.0.0/16")


def test_without_node_local_dns_the_link_local_address_stays_closed():
    from k8snet.app.policy_eval import Endpoint, allowed
    from offline.checks import app as app_checks

    objects = _app_objects()
    assert app_checks.node_local_dns_ips(objects) == ()
    webapp = Endpoint("webapp", "10.1.1.10", "webapp", {"app": "webapp"})
    policies = app_checks.policies(objects)
    assert not allowed(policies, webapp, Endpoint("169.254.20.10", "169.254.20.10"), 53, "UDP")
    assert not allowed(policies, webapp, Endpoint("kube-dns ClusterIP", "10.100.0.10"), 53, "UDP")
