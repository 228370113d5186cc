"""Traffic a node forwards to a pod on another node (issue 11 items 2, 3, 11): the pure pieces of the
forwarding check (security-group evaluation, the packet per mode) and the program's choices per mode.
The per-mode runs of the whole stack are in tests/test_cni_wiring.py (test_cni_matches_the_vpc)."""

from __future__ import annotations

import pytest

from k8snet.app import manifests as m
from k8snet.app.flows import flows
from k8snet.app.policy_eval import Endpoint, allowed
from k8snet.cni import calico
from k8snet.cni.dataplane import forwarded_source_cidrs
from k8snet.nodes import security
from offline.checks import forwarding
from offline.checks.routes import NodeView

A = NodeView("node1", "i-a", "us-east-1a", "192.168.1.4", "10.1.1.0/24", "eni-a", False)
B = NodeView("node2", "i-b", "us-east-1b", "192.168.2.4", "10.1.2.0/24", "eni-b", False)
WEB = forwarding.pod_on(B, "Deployment/webapp", "webapp", m.WEBAPP_LABELS, {"http": 80})
FLOW = forwarding.Flow("kube-proxy forwarding webapp/webapp-nodeport (TCP 80)", A, B, WEB, "TCP", 80)


def _rule(protocol, from_port=-1, to_port=-1, cidr=None, group=None, egress=False):
    return {"IsEgress": egress, "IpProtocol": protocol, "FromPort": from_port, "ToPort": to_port,
            "CidrIpv4": cidr, "ReferencedGroupInfo": {"GroupId": group} if group else None}


def test_security_group_rules_match_protocol_ports_and_source():
    packet = forwarding.Packet("192.168.1.4", "10.1.2.10", "TCP", 80)
    assert forwarding.sg_admits([_rule("tcp", 80, 80, group="sg-nodes")], packet, ["sg-nodes"])
    assert forwarding.sg_admits([_rule("6", 1, 1024, group="sg-nodes")], packet, ["sg-nodes"])  # protocol number
    assert forwarding.sg_admits([_rule("-1", cidr="192.168.0.0/16")], packet, [])
    assert not forwarding.sg_admits([_rule("tcp", 10250, 10250, group="sg-nodes")], packet, ["sg-nodes"])
    assert not forwarding.sg_admits([_rule("udp", 80, 80, group="sg-nodes")], packet, ["sg-nodes"])
    assert not forwarding.sg_admits([_rule("tcp", 80, 80, group="sg-other")], packet, ["sg-nodes"])
    assert not forwarding.sg_admits([_rule("-1", cidr="10.1.0.0/16")], packet, [])  # the pod CIDR: not a node
    assert not forwarding.sg_admits([_rule("-1", cidr="0.0.0.0/0", egress=True)], packet, [])
    ipip = forwarding.Packet("192.168.1.4", "192.168.2.4", "4", None)
    assert forwarding.sg_admits([_rule("4", group="sg-nodes")], ipip, ["sg-nodes"])
    assert not forwarding.sg_admits([_rule("udp", 4789, 4789, group="sg-nodes")], ipip, ["sg-nodes"])


@pytest.mark.parametrize("cni, encap, wire, inner", [
    ("calico", "none", ("192.168.1.4", "10.1.2.10", "TCP", 80), "192.168.1.4"),
    ("flannel", "none", ("192.168.1.4", "10.1.2.10", "TCP", 80), "192.168.1.4"),
    ("calico", "vxlan", ("192.168.1.4", "192.168.2.4", "udp", 4789), "10.1.1.0"),
    ("calico", "ipip", ("192.168.1.4", "192.168.2.4", "4", None), "10.1.1.0"),
    ("flannel", "vxlan", ("192.168.1.4", "192.168.2.4", "udp", 8472), "10.1.1.0"),
])
def test_the_forwarded_packet_per_mode(cni, encap, wire, inner):
    """Routed: the VPC carries node A's SNATed packet to the pod. Overlay: the security group sees the tunnel
    packet between the nodes, the policy the inner one, sourced from A's tunnel address in A's block."""
    packet, source = forwarding.on_the_wire(cni, encap, FLOW)
    assert (packet.src, packet.dst, packet.protocol, packet.port) == wire
    assert source == inner


@pytest.mark.parametrize("encap", ["none", "vxlan", "ipip"])
def test_the_program_admits_what_each_mode_sends(encap):
    """The node rules the program opens and the webapp policy it writes, evaluated on the forwarded packet."""
    sg = "sg-nodes"
    source = {"nodes": {"group": sg}, "pod-cidr": {"cidr": "10.1.0.0/16"}, "vpc-cidr": {"cidr": "192.168.0.0/16"},
              "control-plane": {"group": "sg-cp"}}

    def rules(forwarded_ports):
        return [_rule(r.protocol, r.from_port or -1, r.to_port or -1, **source[r.source])
                for r in security.node_ingress_rules("calico", encap, forwarded_ports)]

    settings = m.AppSettings(forwarded_from=forwarded_source_cidrs(encap, "10.1.0.0/16"))
    new = forwarding.flow_problems([FLOW], "calico", encap, lambda n: rules([80]), lambda n: (sg,),
                                   m.network_policies(settings))
    assert new == []
    # What the program sent before: no node-to-node rule for the pod port, the VPC alone in the policy.
    old = forwarding.flow_problems([FLOW], "calico", encap, lambda n: rules(()), lambda n: (sg,),
                                   m.network_policies(m.AppSettings()))
    expected = "security group drops TCP port 80" if encap == "none" else "NetworkPolicies in webapp drop it"
    assert len(old) == 1 and expected in old[0], old


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


def test_services_with_local_traffic_policy_are_not_forwarded():
    svc = {"kind": "Service", "metadata": {"name": "s", "namespace": "webapp"},
           "spec": {"type": "NodePort", "selector": m.WEBAPP_LABELS, "externalTrafficPolicy": "Local",
                    "ports": [{"port": 80, "targetPort": "http"}]}}
    deployment = m.webapp_deployment(m.AppSettings())
    assert forwarding.forwarded_services([svc, deployment]) == []
    svc["spec"]["externalTrafficPolicy"] = "Cluster"
    (found,) = forwarding.forwarded_services([svc, deployment])
    assert found[0] == "webapp/s" and found[4] == 80 and found[5] == "TCP"
