"""The flow verifier (offline/flows): every promised path and denial, per mode, end to end.

Engine runs: one per mode for the session (tests/flows_models.py) plus the preview's; everything else walks
the extracted model, changed where a test needs another state.
"""

from __future__ import annotations

import argparse
import copy
import ipaddress
from dataclasses import replace

import pytest

from offline.__main__ import _flows
from offline.flows import verify
from offline.flows.explain import BadPath, explain
from offline.flows.model import NaclEntry, NetworkAcl
from offline.flows.placement import Placement
from offline.flows.walk import Walker
from tests.flows_models import LB_FORWARDS, MODES, failing, model, with_pre_fix_rules


@pytest.mark.parametrize("mode", MODES)
def test_every_promised_flow_holds(mode):
    v = verify(model(mode))
    assert v.holds, "\n".join(v.problems)
    names = {r.flow.name for r in v.results}
    assert {"pod -> pod, same node", "pod -> pod, other node", "pod -> ClusterIP -> pod, other node",
            *LB_FORWARDS, "pod -> internet via NAT", "node -> EKS API (private endpoint)",
            "control plane -> kubelet", "internet -> pod directly", "other pod in webapp -> MySQL",
            "MySQL -> webapp", "webapp -> internet"} <= names
    m = model(mode)
    assert ("calico-node -> Typha" in names) == (m.cni.kind == "calico")
    assert any(n.startswith("overlay") for n in names) == m.cni.overlay
    assert ("DNS cache miss" in names) == any(s.addresses for s in m.host_services)


@pytest.mark.parametrize("mode", MODES)
def test_review_breaks_deny_at_the_right_hop_on_the_pre_fix_rules(mode):
    """Issue 11 items 2 and 3, on the rules as they were: routed modes drop kube-proxy's forwarded traffic at
    the receiving node's security group (from the forwarding node's address), overlays at the webapp
    policy (from the forwarding node's tunnel address, inside the pod CIDR)."""
    m = with_pre_fix_rules(model(mode))
    bad = failing(verify(m))
    assert set(bad) == set(LB_FORWARDS)
    for name, case in bad.items():
        hop = case.trace.decisive
        forwarder = m.nodes[case.nodes[0]]
        if m.cni.overlay:
            assert hop.at == "NetworkPolicy ingress of webapp/webapp-1", (name, str(hop))
            assert hop.note == f"no policy admits tcp/80 from {forwarder.tunnel_ip}"
            assert forwarder.tunnel_ip in forwarder.pod_cidr
        else:
            assert hop.at == f"workers-sg ingress on {case.nodes[1]}", (name, str(hop))
            assert hop.note == f"no rule admits tcp/80 from {forwarder.ip}"


@pytest.mark.parametrize("mode", MODES)
def test_node_classes_stand_for_every_node(mode):
    """Grouped and exhaustive walks agree on every flow, on the intact state and on a broken one."""
    def summary(v):
        return {(r.flow.name, r.verdict, sum(c.weight for c in r.failing), r.total) for r in v.results}

    for m in (model(mode), with_pre_fix_rules(model(mode))):
        grouped, every = verify(m), verify(m, exhaustive=True)
        assert len(grouped.classes) < len(every.classes)
        assert summary(grouped) == summary(every)


# --- single hops, on changed states -------------------------------------------------------------------------

def test_source_dest_check_on_drops_routed_pod_traffic():
    m = model("calico-none")
    node2 = m.nodes["node2"]
    iface = m.interfaces[node2.interface]
    checked = replace(m, interfaces={**m.interfaces, iface.id: replace(iface, source_dest_check=True)})
    bad = failing(verify(checked))
    assert "pod -> pod, other node" in bad and "pod -> pod, same node" not in bad
    hop = bad["pod -> pod, other node"].trace.decisive
    assert hop.at == "source/dest check on node2" and iface.id in hop.note


def test_a_network_acl_entry_is_stateless():
    """Denying ephemeral ports inbound to the nodes' subnets breaks replies, not requests."""
    m = model("calico-none")
    subnet = m.subnets[m.interfaces[m.nodes["node1"].interface].subnet]
    acl = m.nacls[subnet.nacl]
    strict = NetworkAcl(acl.id, acl.name, (NaclEntry(50, False, "6", False, ipaddress.IPv4Network("0.0.0.0/0"),
                                                      (1024, 65535)), *acl.entries))
    bad = failing(verify(replace(m, nacls={**m.nacls, acl.id: strict})))
    hop = bad["node -> EKS API (private endpoint)"].trace.decisive
    assert hop.at == f"network ACL {acl.name}" and "the reply (in, tcp/32768" in hop.note


def test_client_ip_preservation_needs_the_client_admitted():
    """An internet-facing NLB that preserves the client's address (the default for instance targets) reaches
    the NodePort from the internet: the node security group admits the VPC only. (The stack's NLB is internal
    unless a stack makes it public: issue 13.)"""
    m = model("calico-none")
    objects = copy.deepcopy(list(m.objects))
    svc = next(o for o in objects if o["kind"] == "Service" and o["metadata"]["name"] == "webapp-lb")
    svc["metadata"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-scheme"] = "internet-facing"
    del svc["metadata"]["annotations"]["service.beta.kubernetes.io/aws-load-balancer-target-group-attributes"]
    bad = failing(verify(replace(m, objects=tuple(objects))))
    hop = bad["NLB -> NodePort -> pod on the same node"].trace.decisive
    assert hop.at.startswith("workers-sg ingress on node") and hop.note.endswith("from 203.0.113.7")


def test_external_traffic_policy_local_promises_local_delivery_only():
    m = model("calico-none")
    objects = copy.deepcopy(list(m.objects))
    for o in objects:
        if o["kind"] == "Service" and o["spec"].get("type") in ("NodePort", "LoadBalancer"):
            o["spec"]["externalTrafficPolicy"] = "Local"
    v = verify(replace(m, objects=tuple(objects)))
    names = {r.flow.name for r in v.results}
    assert "NLB -> NodePort -> pod on the same node" in names and not names & set(LB_FORWARDS)
    title, trace = explain(replace(m, objects=tuple(objects)), "nlb", "node3", endpoint="webapp@node1")
    assert not trace.allowed and "externalTrafficPolicy Local" in trace.decisive.note


def test_the_control_plane_cannot_reach_a_webhook_on_the_pod_network():
    m = model("calico-none")
    v = verify(replace(m, lb_controller={**m.lb_controller, "hostNetwork": False}))
    bad = failing(v)
    hop = bad["control plane -> aws-load-balancer-controller webhook (pod network)"].trace.decisive
    assert hop.at == "EKS control plane" and "VPC CIDR" in hop.note


@pytest.mark.parametrize("mode", ["calico-vxlan", "flannel-vxlan"])
def test_a_pods_own_node_reaches_it_whatever_its_policies(mode):
    """Kubernetes admits a pod's own node whatever the pod's ingress policies ("traffic to and from the node where
    a Pod is running is always allowed"; kubelet's probes of MySQL need it); from another node the same packet
    meets the policy. NodePort traffic a node forwards to its own pod is not the node's: still policed."""
    m = model(mode)
    placement = Placement(m)
    walker = Walker(m, placement)
    mysql = placement.find("mysql-0")
    own, other = m.nodes[mysql.node], next(n for n in m.nodes.values() if n.name != mysql.node)
    trace = walker.from_host(own, mysql.ip, "tcp", 3306, who="kubelet")
    assert trace.allowed
    assert any(h.at == "NetworkPolicy ingress of webapp/mysql-0" and "its own node" in h.note for h in trace.hops)
    trace = walker.from_host(other, mysql.ip, "tcp", 3306)
    assert not trace.allowed and trace.decisive.at == "NetworkPolicy ingress of webapp/mysql-0"
    assert trace.decisive.note == f"no policy admits tcp/3306 from {other.tunnel_ip}"
    (local,) = verify(m, only=["NLB -> NodePort -> pod on the same node"]).results
    assert all(any(h.at == "NetworkPolicy ingress of webapp/webapp-1" and any(u.startswith("netpol:") for u in h.uses)
                   for h in c.trace.hops) for c in local.cases)
    assert {r.flow.name for r in verify(m).results} >= {"kubelet -> mysql probes (tcp/3306)",
                                                      "kubelet -> webapp probes (tcp/80)"}


def test_a_missing_pod_route_is_named_at_the_route_table():
    m = model("calico-none")
    table = next(t for t in m.tables.values() if t.name == "network-private-us-east-1a")
    route = next(r for r in table.routes if r.destination == m.nodes["node2"].pod_cidr)
    v = verify(replace(m, tables={**m.tables, table.id: replace(table, routes=tuple(
        r for r in table.routes if r is not route))}))
    hop = failing(v)["pod -> pod, other node"].trace.decisive
    assert hop.at == "route table network-private-us-east-1a"
    assert hop.note.startswith("no route to node2's pod block 10.1.2.0/24")


# --- explaining one path ---------------------------------------------------------------------------------

def test_explain_walks_one_path_hop_by_hop():
    m = model("calico-vxlan")
    title, trace = explain(m, "webapp@node1", "mysql-0@node2")
    assert trace.allowed and title == "webapp@node1 -> webapp/mysql-0 on node2"
    ats = [h.at for h in trace.hops]
    assert ats[0] == "webapp/webapp-1 on node1" and ats[-1] == "webapp/mysql-0"
    assert "NetworkPolicy egress of webapp/webapp-1" in ats and "NetworkPolicy ingress of webapp/mysql-0" in ats
    assert any("encapsulated in udp/4789" in h.note for h in trace.hops)
    _, denied = explain(m, "internet", "webapp")
    assert not denied.allowed and denied.decisive.at.startswith("internet gateway")
    _, api = explain(m, "node2", "api")
    assert api.allowed and api.decisive.at == "EKS control plane"
    with pytest.raises(BadPath, match="no pod or workload"):
        explain(m, "nosuchpod", "mysql-0")
    with pytest.raises(BadPath, match="no node 'node9'"):
        explain(m, "webapp@node9", "mysql-0")


def test_preview_prints_the_flow_table(dev_preview):
    status, out = dev_preview  # `main(["--cwd", str(ROOT)])`, its stdout (tests/test_cli.py reads it too)
    section = out.split("\nFlows (", 1)[1].split("\n\n", 1)[0]
    rows = {line.split("  ")[0]: line for line in section.splitlines()[2:]}
    assert "calico, no encapsulation, kube-proxy iptables, node-local-dns off; 3 nodes" in section
    assert "pod -> pod, other node" in rows and "internet -> pod directly" in rows
    holds = verify(model("calico-none")).holds  # the same stack, walked from its model
    assert status == (0 if holds else 1)
    assert any("<-- promised" in line for line in rows.values()) == (not holds)


def test_flows_command_explains_one_path_and_exits_by_its_verdict(capsys):
    def run(*argv):
        args = argparse.Namespace(source=None, dest=None, port=None, proto=None, endpoint=None)
        for key, value in zip(argv[::2], argv[1::2]):
            setattr(args, key, value)
        return _flows(model("calico-none"), args)

    assert run("source", "mysql-0", "dest", "webapp") == 1
    out = capsys.readouterr().out
    assert "DENY  NetworkPolicy egress of webapp/mysql-0: no policy admits tcp/80" in out
    assert "verdict: deny (NetworkPolicy egress of webapp/mysql-0" in out
    assert run("source", "webapp@node3", "dest", "mysql-0@node2") == 0
    assert "verdict: allow (webapp/mysql-0: mysql listens on tcp/3306" in capsys.readouterr().out
    assert run("source", "webapp", "dest", "nosuchpod") == 2
    assert "no pod or workload" in capsys.readouterr().err
    holds = verify(model("calico-none")).holds
    assert run() == (0 if holds else 1)
    assert "path" in capsys.readouterr().out.splitlines()[1]  # the table with who talks to whom
