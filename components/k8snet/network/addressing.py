"""Pure address planning: node pod blocks, subnets and zones. No Pulumi here.

Every function is a pure function of its arguments, so a node's addresses depend
only on its own stable index, never on which other nodes exist.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from ipaddress import IPv4Network

# Subnets are /24s, as in the documents (nodes in 192.168.x.0/24).
SUBNET_PREFIX = 24

# RFC 1918 private ranges (EKS requires the service CIDR to be inside one of them).
RFC1918 = tuple(ipaddress.ip_network(c) for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def node_capacity(pod_cidr: IPv4Network, prefix: int) -> int:
    """Highest usable node index: index N owns the N-th block, block 0 stays unused.

    10.1.0.0/16 split into /24s gives blocks 0..255; node 1 owns 10.1.1.0/24 as in
    the documents, so indices run 1..255.
    """
    return 2 ** (prefix - pod_cidr.prefixlen) - 1


def node_pod_block(pod_cidr: IPv4Network, prefix: int, index: int) -> IPv4Network:
    """The pod block node ``index`` owns: the index-th /prefix block of ``pod_cidr``."""
    if not 1 <= index <= node_capacity(pod_cidr, prefix):
        raise ValueError(f"node index {index} outside 1..{node_capacity(pod_cidr, prefix)}")
    size = 2 ** (32 - prefix)
    return ipaddress.ip_network((int(pod_cidr.network_address) + index * size, prefix))


def allocate_pod_blocks(pod_cidr: IPv4Network, prefix: int, indices: Mapping[str, int]) -> dict[str, IPv4Network]:
    """Map node name -> pod block. Raises ValueError on duplicate or out-of-range indices."""
    seen: dict[int, str] = {}
    for name, index in sorted(indices.items()):
        if index in seen:
            raise ValueError(f"nodes {seen[index]} and {name} share index {index}")
        seen[index] = name
    return {name: node_pod_block(pod_cidr, prefix, index) for name, index in indices.items()}


def zone_slot(index: int, zone_count: int) -> int:
    """Default zone of a node: round-robin on its index (node1 -> first zone, node2 -> second...)."""
    return (index - 1) % zone_count


@dataclass(frozen=True)
class ZoneSubnets:
    zone: str
    private: IPv4Network  # worker nodes live here
    public: IPv4Network  # NAT gateways and internet-facing load balancers


def max_zones(vpc_cidr: IPv4Network) -> int:
    """How many zones the subnet plan fits: private and public halves, block 0 of each unused."""
    if vpc_cidr.prefixlen > SUBNET_PREFIX - 2:
        return 0
    return 2 ** (SUBNET_PREFIX - vpc_cidr.prefixlen) // 2 - 1


def subnet_plan(vpc_cidr: IPv4Network, zones: Sequence[str]) -> list[ZoneSubnets]:
    """Private subnet of zone i = /24 number 1+i (192.168.1.0/24, 192.168.2.0/24, ...);
    public subnet = the same slot in the upper half of the VPC (192.168.129.0/24, ...).

    Slots depend only on the zone's position in the stack's zone list, which is the
    sorted, stable list of the region's zones.
    """
    if len(zones) > max_zones(vpc_cidr):
        raise ValueError(f"{vpc_cidr} fits {max_zones(vpc_cidr)} zones of /{SUBNET_PREFIX} subnets, not {len(zones)}")
    blocks = 2 ** (SUBNET_PREFIX - vpc_cidr.prefixlen)
    size = 2 ** (32 - SUBNET_PREFIX)
    base = int(vpc_cidr.network_address)

    def block(n: int) -> IPv4Network:
        return ipaddress.ip_network((base + n * size, SUBNET_PREFIX))

    return [ZoneSubnets(zone, block(1 + i), block(blocks // 2 + 1 + i)) for i, zone in enumerate(zones)]


def is_rfc1918(net: IPv4Network) -> bool:
    return any(net.subnet_of(r) for r in RFC1918)


def kube_dns_ip(service_cidr: IPv4Network | str) -> str:
    """The kube-dns Service's clusterIP on EKS: the 10th address of the service CIDR.

    nodeadm gives kubelet this address as clusterDNS unless told otherwise (amazon-eks-ami
    nodeadm/internal/api/net.go ``GetClusterDns``: the CIDR's last octet replaced by 10, the same
    address for every service CIDR EKS accepts, /12../24), and the CoreDNS add-on's kube-dns
    Service takes it.
    """
    return str(ipaddress.ip_network(str(service_cidr)).network_address + 10)
