"""The state a flow walk reads: plain, frozen data extracted once from a finished run (``extract.py``).

Everything a packet's fate depends on is here and nowhere else, so a test can change one element
(``mutations.py``) and walk again without rerunning the engine. Identities are the real ones: security
group rule ids, route table ids and destinations, ENI ids, NetworkPolicy names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from ipaddress import IPv4Address, IPv4Network


class _Kept:
    """Text and hash computed once, at creation: a verification formats and looks up the same few dozen addresses
    and networks hundreds of thousands of times (hop notes, Hop.uses keys, dicts by address, route keys), and
    ipaddress computes both anew on every call. Printed (repr included), hashed and equal like the ipaddress
    object it stands for (``_kind``)."""

    __slots__ = ()
    _kind: type

    def _keep(self) -> None:
        self._text = self._kind.__str__(self)
        self._hash = self._kind.__hash__(self)

    def __str__(self) -> str:
        return self._text

    def __format__(self, spec: str) -> str:
        return self._text if not spec else super().__format__(spec)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"{self._kind.__name__}({self._text!r})"


class Address(_Kept, IPv4Address):
    __slots__ = ("_text", "_hash")
    _kind = IPv4Address

    def __init__(self, address):
        super().__init__(address)
        self._keep()


class Network(_Kept, IPv4Network):
    """Its addresses (network and broadcast address, hosts, items) are ``Address``es."""

    _kind = IPv4Network
    _address_class = Address  # what ipaddress makes its broadcast address, hosts and items of

    def __init__(self, address, strict: bool = True):
        super().__init__(address, strict)
        self.network_address = Address(self.network_address)
        self._keep()


def ip(text) -> Address:
    return text if isinstance(text, Address) else _parse(str(text))


@lru_cache(maxsize=4096)
def _parse(text: str) -> Address:
    """Parsed once per text: walks name the same few destinations again and again."""
    return Address(text)


def net(text) -> Network:
    return text if isinstance(text, Network) else Network(str(text))


# --- AWS -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SgRule:
    """One security group rule (EC2 keeps each source of a permission as its own rule id)."""

    id: str
    group: str
    egress: bool
    protocol: str  # "-1" (all), "tcp", "udp", "icmp" or an IP protocol number as text
    from_port: int | None  # None: every port (protocol -1 or a protocol without ports)
    to_port: int | None
    cidr: IPv4Network | None = None
    peer_group: str | None = None  # a referenced security group
    name: str = ""  # the Pulumi resource's name, else the rule id
    description: str = ""

    @property
    def key(self) -> str:
        return f"sg-rule:{self.id}"


@dataclass(frozen=True)
class SecurityGroup:
    id: str
    name: str  # its Name tag, else its group name


@dataclass(frozen=True)
class Route:
    destination: IPv4Network
    kind: str  # "local" | "eni" | "nat" | "igw" | "other"
    target: str  # ENI, NAT gateway or internet gateway id ("local" for the VPC route)


@dataclass(frozen=True)
class RouteTable:
    id: str
    name: str
    routes: tuple[Route, ...]

    @cached_property
    def _by_prefix(self) -> dict[int, dict[int, Route]]:
        index: dict[int, dict[int, Route]] = {}
        for r in self.routes:
            index.setdefault(r.destination.prefixlen, {})[int(r.destination.network_address)] = r
        return dict(sorted(index.items(), reverse=True))

    def lookup(self, address: IPv4Address) -> Route | None:
        """Longest-prefix match, as the VPC router does (the most specific route wins)."""
        value = int(address)
        for prefix, routes in self._by_prefix.items():
            mask = (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF if prefix else 0
            found = routes.get(value & mask)
            if found is not None:
                return found
        return None

    def key(self, route: Route) -> str:
        return f"route:{self.id}:{route.destination}"


@dataclass(frozen=True)
class NaclEntry:
    number: int
    egress: bool
    protocol: str  # "-1", or an IP protocol number as text ("6" tcp, "17" udp, "4" IP-in-IP)
    allow: bool
    cidr: IPv4Network
    ports: tuple[int, int] | None = None


@dataclass(frozen=True)
class NetworkAcl:
    id: str
    name: str
    entries: tuple[NaclEntry, ...]


@dataclass(frozen=True)
class Subnet:
    id: str
    name: str
    cidr: IPv4Network
    zone: str
    route_table: str
    nacl: str
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Interface:
    """An ENI. ``owner`` says who sends and receives through it: a node name, "nat", "control-plane",
    "nlb" or "alb". The control plane's and the load balancers' ENIs are not in moto (EKS and the load
    balancer controller create them at runtime): extract.py places them, ``synthetic`` marks them."""

    id: str
    ips: tuple[IPv4Address, ...]
    subnet: str
    groups: tuple[str, ...]
    source_dest_check: bool
    owner: str
    public_ip: IPv4Address | None = None
    synthetic: bool = False

    @property
    def ip(self) -> IPv4Address:
        return self.ips[0]


@dataclass(frozen=True)
class Gateway:
    id: str
    kind: str  # "nat" | "igw"
    interface: str | None = None  # a NAT gateway's ENI
    public_ip: IPv4Address | None = None


# --- the cluster -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Node:
    name: str  # the config name (node1), the k8snet.io/node label
    host_name: str  # the Kubernetes node name (its private DNS name)
    zone: str
    ip: IPv4Address
    interface: str
    pod_cidr: IPv4Network  # the block the CNI gives it (IPPool cidr / spec.podCIDR)
    tunnel_ip: IPv4Address | None  # the overlay device's address (vxlan.calico, tunl0, flannel.1)
    cluster_dns: tuple[IPv4Address, ...]  # kubelet's clusterDNS, from the node's user data


@dataclass(frozen=True)
class Cni:
    kind: str  # "calico" | "flannel"
    encapsulation: str  # "none" | "vxlan" | "ipip"
    nat_outgoing: bool  # natOutgoing (Calico IPPools) / --ip-masq (flannel)
    enforces_policy: bool  # Calico always; flannel with its netpol (kube-network-policies) enabled
    pools: tuple[IPv4Network, ...]  # every pod block: natOutgoing leaves traffic to them alone
    goldmane: bool = False  # Calico's operator runs Goldmane, which every calico-node reports flows to

    @property
    def overlay(self) -> bool:
        return self.encapsulation != "none"


@dataclass(frozen=True)
class ControlPlane:
    cluster_name: str
    private_endpoint: bool
    public_cidrs: tuple[IPv4Network, ...]
    interfaces: tuple[str, ...]  # its ENIs in the cluster's subnets
    security_group: str  # the EKS-created cluster security group


@dataclass(frozen=True)
class HostService:
    """A hostNetwork server some node runs: who (``name``), on which port, on which nodes (None: any
    node the scheduler picks, so every node is checked)."""

    name: str
    protocol: str
    port: int
    nodes: tuple[str, ...] | None = None
    addresses: tuple[IPv4Address, ...] = ()  # extra addresses it binds besides the node's (node-local-dns)


@dataclass(frozen=True)
class Model:
    region: str
    vpc_cidr: IPv4Network
    service_cidr: IPv4Network
    groups: Mapping[str, SecurityGroup]
    rules: tuple[SgRule, ...]
    tables: Mapping[str, RouteTable]
    nacls: Mapping[str, NetworkAcl]
    subnets: Mapping[str, Subnet]
    interfaces: Mapping[str, Interface]
    gateways: Mapping[str, Gateway]
    nodes: Mapping[str, Node]
    control_plane: ControlPlane | None
    cni: Cni
    kube_proxy_mode: str
    objects: tuple[dict, ...]  # the API server's objects (Services, workloads, NetworkPolicies, ...)
    host_services: tuple[HostService, ...]
    load_balancer_subnets: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # scheme -> subnet ids
    lb_controller: Mapping = field(default_factory=dict)  # the load balancer controller's Helm values

    # --- indexes (built on first use; a mutated model builds its own) --------------------------------
    @cached_property
    def interface_by_ip(self) -> dict[IPv4Address, Interface]:
        return {a: i for i in self.interfaces.values() for a in i.ips}

    @cached_property
    def group_members(self) -> dict[str, frozenset[IPv4Address]]:
        """Group id -> the private addresses of the ENIs carrying it: what a rule referencing the group
        admits (AWS: "based on the private IP addresses of the network interfaces that are associated
        with the source security group")."""
        members: dict[str, set[IPv4Address]] = {}
        for i in self.interfaces.values():
            for g in i.groups:
                members.setdefault(g, set()).update(i.ips)
        return {g: frozenset(a) for g, a in members.items()}

    @cached_property
    def rules_of(self) -> dict[tuple[str, bool], tuple[SgRule, ...]]:
        out: dict[tuple[str, bool], list[SgRule]] = {}
        for r in self.rules:
            out.setdefault((r.group, r.egress), []).append(r)
        return {k: tuple(v) for k, v in out.items()}

    @cached_property
    def node_by_interface(self) -> dict[str, Node]:
        return {n.interface: n for n in self.nodes.values()}

    @cached_property
    def node_by_block(self) -> list[tuple[IPv4Network, Node]]:
        return [(n.pod_cidr, n) for n in self.nodes.values()]

    def node_owning(self, address: IPv4Address) -> Node | None:
        """The node whose pod block (or tunnel address) holds ``address``."""
        for block, node in self.node_by_block:
            if address in block:
                return node
        return None

    def in_pod_network(self, address: IPv4Address) -> bool:
        return any(address in p for p in self.cni.pools)

    def of_kind(self, kind: str) -> list[dict]:
        return [o for o in self.objects if o["kind"] == kind]

    def policies(self) -> list[dict]:
        return self.of_kind("NetworkPolicy")
