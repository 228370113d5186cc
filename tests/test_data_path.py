"""Traffic a node forwards to a pod on another node (issue 11 items 2, 3, 11), proved by the flow verifier
(offline/flows): the security-group hop, the forwarded packet per mode, the program's choices per mode, and which
Services are forwarded at all. The per-mode runs of the whole stack are in tests/test_cni_wiring.py
(test_cni_matches_the_vpc).

Engine runs: none of its own; the flow tests' models (tests/flows_models.py, one run per mode per session).
"""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from k8snet.app import manifests as m
from k8snet.app.flows import flows
from k8snet.app.policy_eval import Endpoint, allowed
from k8snet.cni import calico
from k8snet.cni.dataplane import forwarded_source_cidrs
from k8snet.nodes import security
from offline.flows import verify
from offline.flows.extract import sg_rule
from offline.flows.model import SgRule, net
from offline.flows.walk import Packet, admitting_rules
from tests.flows_models import LB_FORWARDS, MODES, failing, model, node_group, with_node_rules

WEB = Endpoint("webapp on node2", "10.1.2.10", "webapp", m.WEBAPP_LABELS, ports={"http": 80})
FORWARDED = "NLB -> NodePort -> pod on another node"


def test_security_group_rules_match_protocol_ports_and_source():
    """The verifier's security-group hop: protocol (by number too), port range, the source in the rule's CIDR
    or among the addresses of the interfaces carrying its referenced group; ingress rules only."""
    dev = model("calico-none")
    group, a, b = node_group(dev), dev.nodes["node1"], dev.nodes["node2"]

    def admits(rule: SgRule, packet: Packet) -> bool:
        return bool(admitting_rules(replace(dev, rules=(rule,)), [group], packet, egress=False))

    def rule(protocol, from_port=None, to_port=None, cidr=None, peer=None, egress=False):
        return SgRule("sgr-test", group, egress, protocol, from_port, to_port, net(cidr) if cidr else None, peer)

    packet = Packet(a.ip, b.pod_cidr.network_address + 10, "tcp", 80)
    assert admits(rule("tcp", 80, 80, peer=group), packet)
    as_stored = SimpleNamespace(id="sgr-6", ip_protocol="6", from_port=1, to_port=1024, ip_range=None,
                                source_group={"GroupId": group})  # EC2 keeps the number it was given
    assert admits(sg_rule(group, False, as_stored), packet)
    assert admits(rule("-1", cidr="192.168.0.0/16"), packet)
    assert not admits(rule("tcp", 10250, 10250, peer=group), packet)
    assert not admits(rule("udp", 80, 80, peer=group), packet)
    assert not admits(rule("tcp", 80, 80, peer="sg-other"), packet)
    assert not admits(rule("-1", cidr="10.1.0.0/16"), packet)  # the pod CIDR: not a node
    assert not admits(rule("-1", cidr="0.0.0.0/0", egress=True), packet)
    ipip = Packet(a.ip, b.ip, "4", None)
    assert admits(rule("4", peer=group), ipip)
    assert not admits(rule("udp", 4789, 4789, peer=group), ipip)


# What the receiving node's security group sees of the forwarded packet, per mode.
WIRE = {("calico", "none"): "tcp/80", ("flannel", "none"): "tcp/80", ("calico", "vxlan"): "udp/4789",
        ("calico", "ipip"): "IP protocol 4", ("flannel", "vxlan"): "udp/8472"}


@pytest.mark.parametrize("mode", MODES)
def test_the_forwarded_packet_per_mode(mode):
    """Routed: the VPC carries node A's SNATed packet to the pod. Overlay: the security group sees the tunnel
    packet between the nodes, the pod the inner one, sourced from A's tunnel address: its block's first address."""
    dm = model(mode)
    (result,) = verify(dm, only=[FORWARDED]).results
    case = next(c for c in result.cases if c.nodes[0] != c.nodes[1])
    a, b = (dm.nodes[n] for n in case.nodes)
    hops = {h.at: h.note for h in case.trace.hops}
    assert hops[f"workers-sg ingress on {b.name}"].endswith(f"admits {WIRE[(dm.cni.kind, dm.cni.encapsulation)]} "
                                                            f"from {a.ip}")
    inner = a.tunnel_ip if dm.cni.overlay else a.ip
    assert case.trace.hops[-1].note.endswith(f"(reached from {inner})")
    if dm.cni.overlay:
        assert a.tunnel_ip == a.pod_cidr.network_address


@pytest.mark.parametrize("mode", ["calico-none", "calico-vxlan", "calico-ipip"])
def test_the_program_admits_what_each_mode_sends(mode):
    """The node rules the program opens and the webapp policy it writes, walked: the forwarded traffic arrives.
    What it sent before (no node-to-node rule for the pod port, the VPC alone in the policy) drops it."""
    dm = model(mode)
    encap = dm.cni.encapsulation

    def webapp_ingress(settings):  # the webapp's own policy (the others depend on the mode's DNS settings)
        return [p for p in m.network_policies(settings) if p["metadata"]["name"] == "webapp-ingress"]

    settings = m.AppSettings(forwarded_from=forwarded_source_cidrs(encap, "10.1.0.0/16"))
    new = with_node_rules(dm, security.node_ingress_rules("calico", encap, [80]), webapp_ingress(settings))
    assert verify(new).holds, verify(new).problems
    old = with_node_rules(dm, security.node_ingress_rules("calico", encap, ()), webapp_ingress(m.AppSettings()))
    bad = failing(verify(old))
    assert set(bad) == set(LB_FORWARDS)
    for case in bad.values():
        hop = case.trace.decisive
        assert hop.at.startswith("workers-sg ingress" if encap == "none" else "NetworkPolicy ingress of webapp/"), hop
        assert hop.note.startswith("no rule admits tcp/80" if encap == "none" else "no policy admits tcp/80"), hop


def test_routed_mode_opens_only_the_forwarded_ports_between_nodes():
    routed = {r.key: r for r in security.node_ingress_rules("calico", "none", [80, 80])}
    assert (routed["cni-forwarded-80"].source, routed["cni-forwarded-80"].protocol) == ("nodes", "tcp")
    assert (routed["cni-forwarded-80"].from_port, routed["cni-forwarded-80"].to_port) == (80, 80)
    assert not any(k.startswith("cni-forwarded") for k in
                   (r.key for r in security.node_ingress_rules("calico", "vxlan", [80])))
    # EC2's description alphabet has no '>' (issue 11 item 1).
    assert all(">" not in r.description for r in routed.values() if r.key.startswith("cni-forwarded"))


def test_overlays_admit_the_pod_cidr_on_the_web_port_only():
    assert forwarded_source_cidrs("none", "10.1.0.0/16") == ()
    assert forwarded_source_cidrs("vxlan", "10.1.0.0/16") == forwarded_source_cidrs("ipip", "10.1.0.0/16") == \
        ("10.1.0.0/16",)
    pols = m.network_policies(m.AppSettings(forwarded_from=("10.1.0.0/16",)))
    tunnel = Endpoint("node1 tunnel", "10.1.1.0")
    mysql = Endpoint("mysql-0", "10.1.2.11", "webapp", m.MYSQL_LABELS, ports={"mysql": 3306})
    assert allowed(pols, tunnel, WEB, 80)
    assert not allowed(pols, tunnel, WEB, 8080)
    assert not allowed(pols, tunnel, mysql, 3306)
    # The intended matrix says so too: with an overlay, pods may reach the web port (through the tunnel range).
    by_why = {f.why: f.expected for f in flows("webapp", "192.168.0.0/16", forwarded_from=("10.1.0.0/16",))}
    assert by_why["forwarded by another node through the overlay"] is True
    assert by_why["tunnel addresses share the pod CIDR"] is True
    routed = {f.why: f.expected for f in flows("webapp", "192.168.0.0/16")}
    assert routed["pods use no load balancer path"] is False and routed["no overlay, no tunnel"] is False


def test_goldmane_and_whisker_are_off():
    for encap in ("none", "vxlan", "ipip"):
        values = calico.chart_values(encap)
        assert values["goldmane"] == {"enabled": False} and values["whisker"] == {"enabled": False}


def _service(target_port, policy: str | None = None) -> dict:
    spec = {"type": "NodePort", "selector": m.WEBAPP_LABELS,
            "ports": [{"port": 80, "targetPort": target_port, "nodePort": 30999, "protocol": "TCP"}]}
    if policy:
        spec["externalTrafficPolicy"] = policy
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "webapp"}, "spec": spec}


def test_every_forwarded_service_is_walked_and_local_ones_are_not_forwarded():
    """A Service of the user's own with a NodePort no load balancer sends to: with externalTrafficPolicy Cluster
    (the default) the verifier walks what its NodePort forwards to a pod on another node (here to port 80 by
    the name "http", which the stack admits); with Local nothing is forwarded, so there is no such flow."""
    dev = model("calico-none")
    name = "NodePort webapp/s:30999 -> pod on another node"
    local = verify(replace(dev, objects=(*dev.objects, _service("http", "Local"))))
    assert name not in {r.flow.name for r in local.results} and local.holds
    v = verify(replace(dev, objects=(*dev.objects, _service("http"))))
    assert v.holds, v.problems
    (result,) = [r for r in v.results if r.flow.name == name]
    case = result.cases[0]
    assert any(h.note.startswith("NodePort webapp/s 30999 -> webapp/webapp-1 ") and h.note.endswith(
        f":80 on {case.nodes[1]}, masqueraded (externalTrafficPolicy Cluster)") for h in case.trace.hops)
    assert case.trace.hops[-1].note.startswith("nginx listens on tcp/80")


def test_a_forwarded_port_the_nodes_do_not_admit_is_reported():
    """The app port (8080) behind a NodePort of the user's own: the node that forwards it sends from its own
    address, and routed nodes admit only the forwarded web port from each other."""
    dev = model("calico-none")
    bad = failing(verify(replace(dev, objects=(*dev.objects, _service(8080)))))
    case = bad["NodePort webapp/s:30999 -> pod on another node"]
    hop = case.trace.decisive
    assert hop.at == f"workers-sg ingress on {case.nodes[1]}"
    assert hop.note == f"no rule admits tcp/8080 from {dev.nodes[case.nodes[0]].ip}"
