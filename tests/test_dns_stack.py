"""Cluster DNS in the whole program under the engine: the CoreDNS add-on's Corefile, NodeLocal DNSCache
per kube-proxy mode, the nodes' kubelet setting and the app's DNS policy."""

from __future__ import annotations

import json

import pytest

from k8snet.dns import corefile
from k8snet.nodes import nodeadm
from k8snet.dns import node_local_dns_manifests as m
from offline.checks import app as app_checks
from offline.aws.eks_catalog import ADDON_SCHEMAS


def _addon(result, name):
    (addon,) = [a for a in result.of_type("aws:eks/addon:Addon") if a.inputs["addonName"] == name]
    return addon


def _node_configs(result) -> dict[str, dict]:
    return {r.name: nodeadm.node_config_of(r.inputs["userData"]) for r in result.of_type("aws:ec2/instance:Instance")}


MODES = {"off": {}, "iptables": {"nodeLocalDns": True}, "ipvs": {"nodeLocalDns": True, "kubeProxyMode": "ipvs"}}


def _run(stack_run, mode: str):
    """The dev stack with node-local-dns off, on with iptables, or on with ipvs: the run and the API server's objects."""
    result, engine = stack_run(MODES[mode])
    assert result.ok, (mode, result.error)
    return result, dict(engine.kube.objects)


def test_coredns_addon_gets_the_dev_corefile_as_sorted_json(stack_run):
    result, _ = _run(stack_run, "off")
    addon = _addon(result, "coredns")
    values = addon.inputs["configurationValues"]
    settings = corefile.CorednsSettings(hosts=(corefile.HostEntry("192.168.0.123", ("myapp.local",)),),
                                        stub_domains=(("mydomain.com", ("10.0.0.1",)),))
    assert values == json.dumps({"corefile": corefile.coredns_corefile(settings)}, sort_keys=True)
    assert set(json.loads(values)) <= set(ADDON_SCHEMAS["coredns"]["properties"])
    blocks = corefile.parse(json.loads(values)["corefile"])
    assert corefile.server_for(blocks, "mydomain.com").get("forward").args == (".", "10.0.0.1")
    assert corefile.server_for(blocks, "myapp.local").get("hosts").block[0].args == ("myapp.local",)
    assert addon.inputs["resolveConflictsOnCreate"] == addon.inputs["resolveConflictsOnUpdate"] == "OVERWRITE"


def test_node_local_dns_is_off_by_default(stack_run):
    result, objects = _run(stack_run, "off")
    assert not result.of_type("k8snet:index:NodeLocalDns")
    assert not any(key[3] in ("node-local-dns", "kube-dns-upstream") for key in objects)
    assert all("clusterDNS" not in c["spec"]["kubelet"]["config"] for c in _node_configs(result).values())
    allow_dns = objects[("networking.k8s.io/v1", "NetworkPolicy", "webapp", "allow-dns")]
    assert not any("ipBlock" in peer for peer in allow_dns["spec"]["egress"][0]["to"])


@pytest.mark.parametrize("mode", ["iptables", "ipvs"])
def test_node_local_dns_objects_and_settings_per_mode(stack_run, mode):
    result, objects = _run(stack_run, mode)
    ds = objects[("apps/v1", "DaemonSet", "kube-system", "node-local-dns")]
    upstream = objects[("v1", "Service", "kube-system", "kube-dns-upstream")]
    kube_dns = objects[("v1", "Service", "kube-system", "kube-dns")]
    config = objects[("v1", "ConfigMap", "kube-system", "node-local-dns")]
    assert ("v1", "ServiceAccount", "kube-system", "node-local-dns") in objects
    listen = m.local_ips_of(ds)
    if mode == "iptables":  # also the kube-dns ClusterIP; kubelet keeps pointing pods there
        assert listen == ("169.254.20.10", kube_dns["spec"]["clusterIP"]) == ("169.254.20.10", "10.100.0.10")
    else:  # kube-ipvs0 holds the ClusterIP: the link-local address only, and kubelet must use it
        assert listen == ("169.254.20.10",)
    cluster_dns = {tuple(c["spec"]["kubelet"]["config"].get("clusterDNS") or ()) for c in _node_configs(result).values()}
    assert cluster_dns == ({()} if mode == "iptables" else {("169.254.20.10",)})
    # Cache misses go over TCP to the CoreDNS pods through kube-dns-upstream, a ClusterIP the node does not intercept.
    upstream_ip = upstream["spec"]["clusterIP"]
    assert upstream_ip not in listen and upstream["spec"]["selector"] == kube_dns["spec"]["selector"]
    for block in corefile.parse(config["data"]["Corefile"]):
        assert block.get("bind").args == listen
        assert block.get("forward").args == (".", upstream_ip)
    # The component: named children on the cluster's provider, after the CoreDNS add-on.
    (component,) = result.of_type("k8snet:index:NodeLocalDns")
    children = [r for r in result.resources if r.parent == component.urn]
    assert sorted(c.name for c in children) == ["node-local-dns-config", "node-local-dns-daemonset",
                                                "node-local-dns-service-account", "node-local-dns-upstream"]
    provider = next(r for r in result.resources if r.type == "pulumi:providers:kubernetes")
    assert all(c.options["provider"].startswith(provider.urn) for c in children)
    coredns = _addon(result, "coredns")
    assert all(coredns.urn in c.dependencies for c in children)
    assert component.outputs["listenIps"] == list(listen) and component.outputs["upstreamIp"] == upstream_ip
    # The app's DNS policy admits both addresses, and every intended flow holds.
    assert app_checks.flow_problems(objects.values(), "webapp", "192.168.0.0/16") == []
    allow_dns = objects[("networking.k8s.io/v1", "NetworkPolicy", "webapp", "allow-dns")]
    assert [p["ipBlock"]["cidr"] for p in allow_dns["spec"]["egress"][0]["to"] if "ipBlock" in p] == [
        "169.254.20.10/32", "10.100.0.10/32"]


def test_iptables_mode_leaves_the_nodes_user_data_alone(stack_run):
    """Toggling node-local-dns in iptables mode must not stop and start every instance."""
    def user_data(mode):
        return {r.name: r.inputs["userData"] for r in _run(stack_run, mode)[0].of_type("aws:ec2/instance:Instance")}

    off, on, ipvs = user_data("off"), user_data("iptables"), user_data("ipvs")
    assert off == on
    assert set(off) == set(ipvs) and all(off[n] != ipvs[n] for n in off)


def test_cluster_dns_reaches_the_node_config_only_when_set():
    base = dict(cluster_name="c", endpoint="https://e", certificate_authority="Q0E=", service_cidr="10.100.0.0/16",
                max_pods=253, labels={"k8snet.io/node": "node1"})
    assert "clusterDNS" not in nodeadm.node_config(**base)["spec"]["kubelet"]["config"]
    config = nodeadm.node_config(**base, cluster_dns=("169.254.20.10",))
    assert config["spec"]["kubelet"]["config"] == {"maxPods": 253, "clusterDNS": ["169.254.20.10"]}
    assert nodeadm.node_config_of(nodeadm.user_data(config, ("#!/bin/sh\ntrue\n",))) == config


# --- the engine's DNS checks and the preview --------------------------------------------------------

DEV_COREFILE = corefile.coredns_corefile(corefile.CorednsSettings(hosts=(corefile.HostEntry("192.0.2.1", ("a.local",)),)))


@pytest.mark.parametrize("edit, expected", [
    (lambda t: t.replace("kubernetes cluster.local in-addr.arpa", "kubernetes example.internal in-addr.arpa"),
     "the server block for cluster.local has no kubernetes plugin for it"),
    (lambda t: t.replace("    ready\n", ""), "the root server block has no ready plugin"),
    (lambda t: t.replace("health {\n        lameduck 5s\n    }\n", ""), "the root server block has no health plugin"),
    (lambda t: t.replace("        fallthrough\n    }\n    kubernetes", "    }\n    kubernetes"),
     "hosts in .:53 does not end in fallthrough"),
    (lambda t: t.replace("    loadbalance\n}", "    loadbalance\n"), "the corefile does not parse: line 1: block is never"),
])
def test_corefile_checks_catch_broken_corefiles(edit, expected):
    from offline.checks.dns import coredns_problems

    assert coredns_problems(DEV_COREFILE) == []
    broken = edit(DEV_COREFILE)
    assert broken != DEV_COREFILE
    assert any(expected in p for p in coredns_problems(broken)), coredns_problems(broken)


def test_node_local_dns_checks_catch_mismatches(stack_run):
    from offline.checks.dns import kubelet_problems, node_local_dns_problems

    result, objects = _run(stack_run, "iptables")
    assert node_local_dns_problems(objects, "iptables", "10.100.0.0/16") == []
    assert any("kube-ipvs0 interface already holds 10.100.0.10" in p
               for p in node_local_dns_problems(objects, "ipvs", "10.100.0.0/16"))
    key = ("v1", "ConfigMap", "kube-system", "node-local-dns")
    looped = {**objects, key: m.config_map(m.corefile(("169.254.20.10", "10.100.0.10"), "10.100.0.10", 30))}
    assert any("an address it listens on itself (a loop)" in p
               for p in node_local_dns_problems(looped, "iptables", "10.100.0.0/16"))
    narrow = {**objects, key: m.config_map(m.corefile(("169.254.20.10",), objects[
        ("v1", "Service", "kube-system", "kube-dns-upstream")]["spec"]["clusterIP"], 30))}
    assert any("binds 169.254.20.10, not the DaemonSet's -localip 169.254.20.10,10.100.0.10" in p
               for p in node_local_dns_problems(narrow, "iptables", "10.100.0.0/16"))
    assert kubelet_problems(result, True, "iptables") == []
    # The nodes of this run would be wrong for ipvs: kubelet would still send pods to the ClusterIP.
    assert len(kubelet_problems(result, True, "ipvs")) == 3


def test_kubelet_pointing_at_node_local_dns_without_it_is_caught(stack_run):
    from offline.checks.dns import kubelet_problems

    result, _ = _run(stack_run, "ipvs")
    assert kubelet_problems(result, True, "ipvs") == []
    problems = kubelet_problems(result, False, "ipvs")  # what turning node-local-dns off leaves until nodes restart
    assert len(problems) == 3 and all("clusterDNS ['169.254.20.10'], expected nodeadm default" in p for p in problems)


def test_preview_prints_the_corefile_and_node_local_dns(capsys):
    """With node-local-dns and ipvs; tests/test_cli.py holds the dev preview's (node-local-dns off)."""
    from offline.__main__ import main
    from tests.conftest import ROOT

    assert main(["--cwd", str(ROOT), "--config", "nodeLocalDns=true", "--config", "kubeProxyMode=ipvs"]) == 0
    out = capsys.readouterr().out
    section = out.split("\nCoreDNS:\n", 1)[1]
    assert "        hosts {\n            192.168.0.123 myapp.local\n            fallthrough\n        }\n" in section
    assert "    mydomain.com:53 {\n        errors\n        cache 30\n        forward . 10.0.0.1\n    }\n" in section
    assert '{"corefile": "<27 lines, see CoreDNS below>"}' in out  # the add-on table does not repeat it
    assert "DNS checks:" in out
    assert "    listens on 169.254.20.10; queries to them are NOTRACKed" in section
    assert "    kubelet clusterDNS: 169.254.20.10 (set in the nodes' user data)" in section
    assert "node-local-dns 169.254.20.10:53/UDP    allow" in out


def test_kubernetes_plugin_without_zones_serves_its_blocks_zones():
    from offline.checks.dns import coredns_problems

    text = DEV_COREFILE.replace("kubernetes cluster.local in-addr.arpa ip6.arpa {", "kubernetes {")
    assert coredns_problems(text) == []  # authoritative for the block's zone ".", cluster.local included
    moved = ".:53 {\n    ready\n    health\n    forward . /etc/resolv.conf\n}\n" \
            "cluster.local:53 {\n    kubernetes\n}\nexample.org:53 {\n    kubernetes\n}\n"
    assert coredns_problems(moved) == []
    assert any("cluster.local has no kubernetes" in p for p in coredns_problems(moved.replace(
        "cluster.local:53 {\n    kubernetes\n}\n", "")))
