"""The example app's traffic, intended and forbidden: the matrix its NetworkPolicies must produce.

Sources of web traffic: NodePort, NLB and ALB (instance target) connections reach the pod from a VPC address --
the node's after kube-proxy's SNAT (externalTrafficPolicy Cluster), or the NLB's own with client IP
preservation off. Pods have pod-CIDR addresses, outside the VPC CIDR, so an ipBlock of the VPC admits
nodes and load balancers but no pod. With an overlay, traffic a node forwards to a pod on another node
leaves the tunnel device with the node's tunnel address, inside the pod CIDR (``forwarded_from``): the
policy admits that range on the web port too, and with it any pod (docs/data-path.md).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from . import manifests as m
from .policy_eval import Endpoint


@dataclass(frozen=True)
class Flow:
    src: Endpoint
    dst: Endpoint
    port: int
    protocol: str
    expected: bool
    why: str


def endpoints(namespace: str, vpc_cidr: str) -> dict[str, Endpoint]:
    node_ip = str(ipaddress.ip_network(vpc_cidr)[266 if ipaddress.ip_network(vpc_cidr).num_addresses > 512 else 10])
    return {
        "webapp": Endpoint("webapp pod", "10.1.1.10", namespace, m.WEBAPP_LABELS, ports={"http": 80, "app": 8080}),
        "mysql": Endpoint("mysql-0", "10.1.2.10", namespace, m.MYSQL_LABELS, ports={"mysql": 3306}),
        "other": Endpoint(f"other pod in {namespace}", "10.1.1.20", namespace, {"app": "debug"}),
        "foreign": Endpoint("pod in default", "10.1.3.10", "default", {"run": "client"}),
        "dns": Endpoint("kube-dns", "10.1.2.53", m.KUBE_DNS["namespace"], m.KUBE_DNS["labels"]),
        "node": Endpoint("node / NLB / ALB (VPC)", node_ip),
        "internet": Endpoint("internet client", "203.0.113.7"),
        "remote": Endpoint("internet host", "198.51.100.7"),
    }


def flows(namespace: str, vpc_cidr: str, node_local_dns: Sequence[str] = (),
          forwarded_from: Sequence[str] = ()) -> list[Flow]:
    """``node_local_dns``: the addresses node-local-dns listens on, if it runs. Its NOTRACK rules keep
    kube-proxy from rewriting DNS packets to them, so the policies see exactly these destinations.
    ``forwarded_from``: the CIDRs forwarded web traffic comes from besides the VPC (with an overlay the pod CIDR,
    or the nodes' blocks; empty unencapsulated)."""
    e = endpoints(namespace, vpc_cidr)
    tunnel = Endpoint("node tunnel address", "10.1.3.0")
    if forwarded_from:
        # A node's tunnel address and its pods' addresses lie in its block, inside the forwarded sources:
        # the policy that admits one admits the other (with an overlay, pods may reach the web port).
        block = ipaddress.ip_network(forwarded_from[-1])
        tunnel = Endpoint("node tunnel address", str(block[0]))
        e["foreign"] = Endpoint(e["foreign"].name, str(block[10]), e["foreign"].namespace, e["foreign"].labels)

    local = []
    for ip in node_local_dns:
        cache = Endpoint(f"node-local-dns {ip}", ip)
        local += [
            Flow(e["webapp"], cache, 53, "UDP", True, "DNS answered on the node, never DNATed"),
            Flow(e["webapp"], cache, 53, "TCP", True, "DNS over TCP, answered on the node"),
            Flow(e["mysql"], cache, 53, "UDP", True, "DNS answered on the node"),
            Flow(e["webapp"], cache, 8080, "TCP", False, "only DNS on the node-local addresses"),
        ]
    return local + [
        Flow(e["node"], e["webapp"], 80, "TCP", True, "NodePort, NLB or ALB after SNAT to a VPC address"),
        Flow(e["webapp"], e["mysql"], 3306, "TCP", True, "the app's database connection"),
        Flow(e["webapp"], e["dns"], 53, "UDP", True, "DNS lookup of the mysql Service"),
        Flow(e["webapp"], e["dns"], 53, "TCP", True, "DNS over TCP (large answers)"),
        Flow(e["mysql"], e["dns"], 53, "UDP", True, "DNS"),
        Flow(e["internet"], e["webapp"], 80, "TCP", False, "only through a load balancer or a node"),
        Flow(e["node"], e["webapp"], 8080, "TCP", False, "the app container is nginx's backend only"),
        Flow(tunnel, e["webapp"], 80, "TCP", bool(forwarded_from),
             "forwarded by another node through the overlay" if forwarded_from else "no overlay, no tunnel"),
        Flow(e["foreign"], e["webapp"], 80, "TCP", bool(forwarded_from),
             "tunnel addresses share the pod CIDR" if forwarded_from else "pods use no load balancer path"),
        Flow(e["other"], e["mysql"], 3306, "TCP", False, "MySQL accepts only the webapp"),
        Flow(e["foreign"], e["mysql"], 3306, "TCP", False, "MySQL accepts only the webapp"),
        Flow(e["node"], e["mysql"], 3306, "TCP", False, "MySQL accepts only the webapp"),
        Flow(e["webapp"], e["mysql"], 33060, "TCP", False, "X protocol not needed"),
        Flow(e["mysql"], e["webapp"], 80, "TCP", False, "MySQL opens no connections"),
        Flow(e["webapp"], e["remote"], 443, "TCP", False, "no egress beyond DNS and MySQL"),
        Flow(e["mysql"], e["remote"], 443, "TCP", False, "no egress beyond DNS"),
        Flow(e["other"], e["dns"], 53, "UDP", True, "DNS is open to every pod of the namespace"),
    ]
