"""What every CNI choice implies for the network around it: interface MTU and the ports the
nodes' security group must open. Pure; the CNI components and the worker nodes both use it."""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Network, ip_network

from ..shared.node_labels import NODE_NAME_LABEL

VPC_MTU = 9001  # jumbo frames inside a VPC (AWS EC2 network MTU docs)
# Encapsulation overheads (outer IPv4 + UDP + VXLAN = 50 bytes; IPv4-in-IPv4 = 20 bytes).
OVERHEAD = {"none": 0, "vxlan": 50, "ipip": 20}
ENCAPSULATIONS = {"calico": ("none", "vxlan", "ipip"), "flannel": ("none", "vxlan")}


@dataclass(frozen=True)
class PortRule:
    """One security-group ingress permission. ``protocol`` is what EC2 takes as IpProtocol:
    "tcp", "udp", or an IP protocol number ("4" is IP-in-IP), which has no ports."""

    key: str  # stable rule name (resource names are built from it)
    protocol: str
    from_port: int | None
    to_port: int | None
    description: str


def mtu(encapsulation: str) -> int:
    """Pod interface MTU: 9001 unencapsulated, 8951 with VXLAN, 8981 with IPIP."""
    return VPC_MTU - OVERHEAD[encapsulation]


def dataplane_ports(cni: str, encapsulation: str) -> tuple[PortRule, ...]:
    """Node-to-node ports the CNI itself needs (pod traffic without encapsulation arrives from
    the pod CIDR and is allowed separately)."""
    if encapsulation not in ENCAPSULATIONS[cni]:
        raise ValueError(f"{cni} does not support encapsulation {encapsulation!r}")
    rules: list[PortRule] = []
    if cni == "calico":
        # calico-node talks to Typha, which the operator always deploys (Calico docs, "Network requirements").
        rules.append(PortRule("calico-typha", "tcp", 5473, 5473, "Calico Typha (calico-node to typha)"))
        if encapsulation == "vxlan":
            rules.append(PortRule("calico-vxlan", "udp", 4789, 4789, "Calico VXLAN"))
        elif encapsulation == "ipip":
            rules.append(PortRule("calico-ipip", "4", None, None, "Calico IP-in-IP (IP protocol 4)"))
    elif cni == "flannel" and encapsulation == "vxlan":
        rules.append(PortRule("flannel-vxlan", "udp", 8472, 8472, "flannel VXLAN (Linux kernel default port)"))
    return tuple(rules)


# The Calico API server (aggregated API projectcalico.org/v3) listens on 5443. On EKS with the
# Calico CNI the operator runs it with hostNetwork "because the control plane nodes don't run
# Calico" (tigera/operator v1.40.15, pkg/render/apiserver.go: APIServerPort = 5443, hostNetwork()),
# so kube-apiserver reaches it on the node's own address.
CALICO_APISERVER_PORT = 5443


def control_plane_ports(cni: str) -> tuple[PortRule, ...]:
    """Ports the control plane must reach on nodes for the CNI's own webhooks or aggregated API
    servers, which run with hostNetwork because the control plane may not reach pod IPs."""
    if cni == "calico":
        return (PortRule("calico-apiserver", "tcp", CALICO_APISERVER_PORT, CALICO_APISERVER_PORT,
                         "Calico API server (aggregated API, hostNetwork on EKS)"),)
    return ()  # flannel (and kube-network-policies) serve nothing the control plane calls


def forwarded_source_cidrs(encapsulation: str, pod_cidr: str) -> tuple[str, ...]:
    """Where traffic a node forwards to a pod on another node (kube-proxy, externalTrafficPolicy Cluster)
    comes from, besides VPC addresses. Unencapsulated it leaves with the node's own VPC address. Through an
    overlay it leaves the tunnel device, whose address lies in the node's pod block: Felix programs VXLAN and
    IPIP routes without a source address (calico#5533), and flannel's VTEP is its subnet's network address.
    So with an overlay, policies must admit the pod CIDR on the forwarded ports (docs/data-path.md)."""
    return () if encapsulation == "none" else (str(ip_network(pod_cidr)),)


def node_blocks(blocks: dict[str, str | IPv4Network]) -> dict[str, IPv4Network]:
    """Node name -> pod block, validated: IPv4 CIDRs with no host bits, pairwise disjoint."""
    parsed = {name: ip_network(str(cidr)) for name, cidr in sorted(blocks.items())}
    if not parsed:
        raise ValueError("at least one node block is required")
    # Two CIDR blocks overlap only if one contains the other, so in address order an overlap shows up
    # between neighbours: one pass over n blocks instead of n²/2 comparisons (125k at 500 nodes).
    by_address = sorted(parsed.values(), key=lambda n: (n.version, n.network_address, n.prefixlen))
    if all(n.version == 4 for n in by_address) and not any(
            a.overlaps(b) for a, b in zip(by_address, by_address[1:])):
        return parsed
    items = list(parsed.items())  # something is wrong: find the first offender in name order, as always
    for i, (a, net_a) in enumerate(items):
        if net_a.version != 4:
            raise ValueError(f"{a}: {net_a} is not IPv4")
        for b, net_b in items[i + 1:]:
            if net_a.overlaps(net_b):
                raise ValueError(f"pod blocks of {a} ({net_a}) and {b} ({net_b}) overlap")
    return parsed


def node_label_selector(node: str) -> dict[str, str]:
    """Kubernetes matchLabels/nodeSelector that selects exactly the node with this config name."""
    return {NODE_NAME_LABEL: node}
