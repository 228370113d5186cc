"""What every CNI choice implies for the network around it: interface MTU and the ports the
nodes' security group must open. Pure; the CNI components and the worker nodes both use it."""

from __future__ import annotations

from dataclasses import dataclass

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
        rules.append(PortRule("calico-typha", "tcp", 5473, 5473, "Calico Typha (calico-node -> typha)"))
        if encapsulation == "vxlan":
            rules.append(PortRule("calico-vxlan", "udp", 4789, 4789, "Calico VXLAN"))
        elif encapsulation == "ipip":
            rules.append(PortRule("calico-ipip", "4", None, None, "Calico IP-in-IP (IP protocol 4)"))
    elif cni == "flannel" and encapsulation == "vxlan":
        rules.append(PortRule("flannel-vxlan", "udp", 8472, 8472, "flannel VXLAN (Linux kernel default port)"))
    return tuple(rules)


def control_plane_ports(cni: str) -> tuple[PortRule, ...]:
    """Ports the control plane must reach on nodes for the CNI's own webhooks or aggregated API
    servers, which run with hostNetwork because the control plane may not reach pod IPs."""
    return ()
