"""The emulated data plane as text: which namespaces, which links between them, and per namespace the
``ip -batch`` lines, sysctls and nftables ruleset that make it the documents' network. Pure: nothing here
touches the kernel (kernel.py applies a plan), so every routing decision can be read and tested as text.

Namespaces:
- ``vpc``: the VPC's implicit router. One interface per ENI (``eniN``) holding the subnet's router address
  (base + 1, AWS's "VPC router"); policy routing by ingress interface sends each packet through the route
  table of the subnet it came from, exactly as read back from the state: ``local`` throws to the table of
  ENI addresses, an ENI target becomes that ENI's address as next hop, a NAT gateway's likewise, an internet
  gateway's the ``igw`` interface. No route: the packet goes to ``noroute``, where nft.no_route drops it.
  Security groups and source/dest check: nft.security_groups.
- ``internet``: beyond the internet gateway (TEST-NET addresses only, RFC 5737).
- one per ENI owner: each node, the NAT gateway, the control plane's and the load balancers' ENIs.
- one per pod, on its node as the CNI plumbs it.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from k8snet.cni.dataplane import mtu as configured_mtu

from . import nft
from .services import services as services_of

VPC_MTU = 9001  # AWS: jumbo frames inside a VPC
INTERNET_MTU = 1500  # AWS: through an internet gateway
PUBLIC_FALLBACK = ipaddress.ip_network("203.0.113.128/25")
INTERNET_HOSTS = ("198.51.100.7", "203.0.113.7")  # TEST-NET-2 (a server), TEST-NET-3 (a client): RFC 5737
NO_ROUTE = "noroute"  # the router's sink: what no route takes goes there to be dropped (nft.no_route)
IGW_ADDRESS = "169.254.0.1"  # the internet's next hop to the VPC (link-local: no address of anyone's)
# Calico's workload gateway (libcalico-go / cni-plugin: every pod's default route goes via 169.254.1.1,
# answered by proxy ARP on the host's cali* interface).
CALICO_GATEWAY = "169.254.1.1"
VXLAN = {  # device, VNI, UDP port: flanneld (flannel.<VNI>, VNI 1, the kernel's default port 8472) and
    # Felix (vxlan.calico, VNI 4096, 4789: FelixConfiguration vxlanVNI / vxlanPort defaults)
    "flannel": ("flannel.1", 1, 8472),
    "calico": ("vxlan.calico", 4096, 4789),
}
IPIP_DEVICE = "tunl0"  # the kernel's fallback IPIP device, which Calico configures


@dataclass
class Netns:
    role: str  # "vpc", "internet", "node/<name>", "pod/<node>/<ns>/<name>", "eni/<id>"
    name: str  # the network namespace's name
    lines: list[str] = field(default_factory=list)  # ip -batch
    fdb: list[str] = field(default_factory=list)  # bridge -batch (VXLAN forwarding entries)
    sysctls: dict[str, str] = field(default_factory=dict)
    nft: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Tunnel:
    """An IPIP device on a node: the kernel's own if it has one, else kernel.py's TUN stand-in."""

    netns: str
    device: str
    local: str
    mtu: int
    peers: Mapping[str, str]  # remote block -> remote node address (the routes' next hops)


@dataclass
class Plan:
    prefix: str
    namespaces: dict[str, Netns]
    links: list[str]  # ip -batch lines run from the root namespace; each creates both ends inside namespaces
    addresses: dict[str, str]  # role -> the address probes use
    tunnels: list[Tunnel]
    pods: list  # the pods placed (offline.flows.placement.Pod)
    mtu: int  # the pods' interface MTU
    public: dict[str, str]  # ENI id -> its public address here (moto's may be none a kernel can route)

    def netns(self, role: str) -> str:
        return self.namespaces[role].name


def pod_role(pod) -> str:
    return f"pod/{pod.node}/{pod.namespace}/{pod.name}"


def public_addresses(state) -> dict[str, str]:
    """ENI id -> the public address the emulation gives it: its own when it is a global one; for moto's 127.x, and
    for an internet-facing load balancer's node (not in the state), one of PUBLIC_FALLBACK (TEST-NET-3)."""
    out: dict[str, str] = {}
    spare = iter(PUBLIC_FALLBACK.hosts())
    for eni in sorted(state.interfaces.values(), key=lambda e: e.id):
        if eni.public_ip is not None and eni.public_ip.is_global:
            out[eni.id] = str(eni.public_ip)
        elif eni.public_ip is not None or (eni.owner.startswith("load balancer") and "internal" not in eni.owner
                                           and state.subnets[eni.subnet].tags.get("kubernetes.io/role/elb") == "1"):
            out[eni.id] = str(next(spare))
    return out


def _short(text: str, n: int = 11) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:n]


def _mac(address) -> str:
    """A stable locally administered MAC for a VTEP (flanneld and Felix publish theirs; any unique one works)."""
    a = ipaddress.IPv4Address(str(address)).packed
    return "0a:58:" + ":".join(f"{b:02x}" for b in a)


def _endpoint_sysctls(ns: Netns) -> None:
    # IPv4 only; no reverse-path filter (AWS has none, and distributions' defaults differ); ICMP errors never
    # rate-limited (they carry the probes' verdicts, nft.REJECT).
    ns.sysctls.update({"net/ipv6/conf/all/disable_ipv6": "1", "net/ipv6/conf/default/disable_ipv6": "1",
                       "net/ipv4/conf/all/rp_filter": "0", "net/ipv4/conf/default/rp_filter": "0",
                       "net/ipv4/icmp_ratelimit": "0", "net/ipv4/icmp_msgs_per_sec": "100000"})


def _sysctl_forwarding(ns: Netns) -> None:
    _endpoint_sysctls(ns)
    ns.sysctls["net/ipv4/ip_forward"] = "1"


def build(state, pods: Sequence, prefix: str, mtu: int | None = None, services: Sequence | None = None) -> Plan:
    """The plan for ``state`` (the flow model, offline/flows/model.py) with ``pods`` placed on its nodes
    (hostNetwork ones run in the node's namespace). ``mtu``: the pods' MTU (default: what the CNI components set for
    the encapsulation, k8snet.cni.dataplane.mtu); ``services``: what kube-proxy programs (default: every Service with
    a selector, over ``pods``)."""
    spaces: dict[str, Netns] = {}
    links: list[str] = []
    addresses: dict[str, str] = {}
    tunnels: list[Tunnel] = []

    def space(role: str) -> Netns:
        if role not in spaces:
            spaces[role] = Netns(role, prefix + role.replace("/", "."))
        return spaces[role]

    vpc = space("vpc")
    _sysctl_forwarding(vpc)
    vpc.lines += ["link set lo up", f"link set {NO_ROUTE} up", f"link set {NO_ROUTE}-peer up"]
    links.append(f"link add name {NO_ROUTE} netns {vpc.name} type veth peer name {NO_ROUTE}-peer netns {vpc.name}")

    # --- ENIs: one router port each, the owner's eth0 on the other side ---------------------------------
    node_of_eni = {n.interface: n for n in state.nodes.values()}
    ports: dict[str, str] = {}
    eni_role: dict[str, str] = {}
    for i, eni in enumerate(sorted(state.interfaces.values(), key=lambda e: e.id)):
        subnet = state.subnets[eni.subnet]
        node = node_of_eni.get(eni.id)
        role = f"node/{node.name}" if node else f"eni/{eni.id}"
        if node is None and eni.owner not in ("nat", "control-plane") and not eni.owner.startswith("load balancer"):
            continue  # an ENI nothing in the emulation speaks through
        port = f"eni{i}"
        ports[eni.id], eni_role[eni.id] = port, role
        owner = space(role)
        links.append(f"link add name {port} netns {vpc.name} mtu {VPC_MTU} type veth "
                     f"peer name eth0 netns {owner.name} mtu {VPC_MTU}")
        gateway = subnet.cidr.network_address + 1
        vpc.lines += [f"addr add {gateway}/32 dev {port}", f"link set {port} up"]
        vpc.sysctls[f"net/ipv4/conf/{port}/proxy_arp"] = "1"
        vpc.sysctls[f"net/ipv4/neigh/{port}/proxy_delay"] = "0"
        owner.lines += ["link set lo up", f"addr add {eni.ip}/{subnet.cidr.prefixlen} dev eth0", "link set eth0 up",
                        f"route add default via {gateway} dev eth0 onlink"]  # onlink: moto may place an ENI outside its subnet
        addresses[role] = str(eni.ip)
        if node is not None or eni.owner == "nat":
            _sysctl_forwarding(owner)
        else:
            _endpoint_sysctls(owner)
        if eni.owner == "nat":  # one-armed: in and out by eth0, masquerading to its own address
            owner.sysctls["net/ipv4/conf/all/send_redirects"] = "0"
            owner.sysctls["net/ipv4/conf/eth0/send_redirects"] = "0"
            owner.nft.append(nft._table("ip nat-gateway", [(
                "postrouting", "type nat hook postrouting priority 100; policy accept;",
                [f'oifname "eth0" ip saddr != {eni.ip} masquerade'])]))

    # --- the internet, behind the internet gateway ------------------------------------------------------
    internet = space("internet")
    _sysctl_forwarding(internet)  # to refuse, not forward: see nft.internet
    internet.nft.append(nft.internet())
    links.append(f"link add name igw netns {vpc.name} mtu {INTERNET_MTU} type veth "
                 f"peer name eth0 netns {internet.name} mtu {INTERNET_MTU}")
    internet.lines += ["link set lo up", *(f"addr add {a}/32 dev eth0" for a in INTERNET_HOSTS),
                       "link set eth0 up", f"route add default via {IGW_ADDRESS} dev eth0 onlink"]
    addresses["internet"] = INTERNET_HOSTS[0]
    vpc.lines += [f"addr add {IGW_ADDRESS}/32 dev igw", "link set igw up"]
    public_of = {e: a for e, a in public_addresses(state).items() if e in ports}
    public = {str(state.interfaces[e].ip): a for e, a in public_of.items()}

    # --- the VPC router's tables ------------------------------------------------------------------------
    local_table, igw_table, own_table = 250, 251, 252
    table_ids = {tid: 1000 + n for n, tid in enumerate(sorted(state.tables))}
    for tid, number in table_ids.items():
        for line in _route_lines(state.tables[tid], state, ports):
            vpc.lines.append(f"{line} table {number}")
    for eni_id, port in ports.items():
        vpc.lines.append(f"route add {state.interfaces[eni_id].ip}/32 dev {port} table {local_table}")
    vpc.lines.append(f"route add {state.vpc_cidr} dev {NO_ROUTE} table {local_table}")
    for priv in public:  # what enters by the internet gateway, once it mapped the public address to this one
        eni_id = next(e for e in ports if str(state.interfaces[e].ip) == priv)
        vpc.lines.append(f"route add {priv}/32 dev {ports[eni_id]} table {igw_table}")
    vpc.lines.append(f"route add default dev {NO_ROUTE} table {igw_table}")
    # The router's own packets (the ICMP errors that carry verdicts back): to the internet hosts by the internet
    # gateway, otherwise along the first table holding a route for the destination.
    vpc.lines += [f"route add {a}/32 dev igw table {own_table}" for a in INTERNET_HOSTS]
    seen = set()
    for tid in sorted(state.tables):
        for line in _route_lines(state.tables[tid], state, ports):
            words = line.split()
            dest = words[3] if words[2] == "throw" else words[2]
            if dest not in seen and not line.endswith(f"dev {NO_ROUTE}"):
                seen.add(dest)
                vpc.lines.append(f"{line} table {own_table}")
    for eni_id, port in sorted(ports.items(), key=lambda kv: kv[1]):
        table = state.subnets[state.interfaces[eni_id].subnet].route_table
        vpc.lines.append(f"rule add pref 100 iif {port} lookup {table_ids[table]}")
    vpc.lines += [f"rule add pref 100 iif igw lookup {igw_table}",
                  f"rule add pref 200 iif lo lookup {own_table}",
                  f"rule add pref 500 lookup {local_table}",  # reached through a table's `throw` (local route)
                  "rule add pref 600 blackhole"]
    vpc.nft.append(nft.no_route(NO_ROUTE))
    vpc.nft.append(nft.security_groups(ports, state))
    vpc.nft.append(nft.internet_gateway("igw", public))

    # --- nodes and pods ---------------------------------------------------------------------------------
    cni = state.cni
    nodes = state.nodes
    pods = [p for p in pods if not getattr(p, "host_network", False)]
    svcs = services_of(state.objects, pods) if services is None else list(services)
    policies = [o for o in state.objects if o["kind"] == "NetworkPolicy"] if cni.enforces_policy else []
    ns_labels = {o["metadata"]["name"]: dict(o["metadata"].get("labels") or {})
                 for o in state.objects if o["kind"] == "Namespace"}
    mtu = mtu or configured_mtu(cni.encapsulation)
    for node in nodes.values():
        host = space(f"node/{node.name}")
        local = [p for p in pods if p.node == node.name]
        tunnel_device = _node_overlay(host, node, nodes, cni, mtu, tunnels)
        if cni.kind == "flannel":
            host.lines += ["link add cni0 type bridge", f"link set cni0 mtu {mtu}",
                           f"addr add {node.pod_cidr.network_address + 1}/{node.pod_cidr.prefixlen} dev cni0",
                           "link set cni0 up"]
            # kube-proxy needs bridged pod traffic to pass netfilter (its hairpin and same-node Service DNAT).
            host.sysctls["net/bridge/bridge-nf-call-iptables"] = "1"
        for pod in local:
            pod_ns = space(pod_role(pod))
            _endpoint_sysctls(pod_ns)
            addresses[pod_ns.role] = str(pod.ip)
            if cni.kind == "flannel":
                veth = f"veth{_short(pod_role(pod), 8)}"
                links.append(f"link add name {veth} netns {host.name} mtu {mtu} type veth "
                             f"peer name eth0 netns {pod_ns.name} mtu {mtu}")
                host.lines += [f"link set {veth} master cni0", f"link set {veth} up"]
                pod_ns.lines += ["link set lo up", f"addr add {pod.ip}/{node.pod_cidr.prefixlen} dev eth0",
                                 "link set eth0 up", f"route add default via {node.pod_cidr.network_address + 1} dev eth0"]
            else:  # Calico: a routed veth, no bridge; /32 route to the pod, proxy ARP for its gateway
                veth = f"cali{_short(pod_role(pod))}"
                links.append(f"link add name {veth} netns {host.name} mtu {mtu} type veth "
                             f"peer name eth0 netns {pod_ns.name} mtu {mtu}")
                host.lines += [f"link set {veth} up", f"route add {pod.ip}/32 dev {veth} scope link"]
                host.sysctls[f"net/ipv4/conf/{veth}/proxy_arp"] = "1"
                host.sysctls[f"net/ipv4/neigh/{veth}/proxy_delay"] = "0"
                pod_ns.lines += ["link set lo up", f"addr add {pod.ip}/32 dev eth0", "link set eth0 up",
                                 f"route add {CALICO_GATEWAY} dev eth0 scope link",
                                 f"route add default via {CALICO_GATEWAY} dev eth0"]
        cached = _node_local_dns(host, node, getattr(state, "host_services", ()))
        host.nft += [t for t in (
            nft.node_local_dns(cached),
            nft.kube_proxy(svcs, node.name),
            nft.cni_masquerade(cni, node.pod_cidr, tunnel_device, node.tunnel_ip),
            nft.network_policy(policies, local, pods, ns_labels)) if t]
    return Plan(prefix, spaces, links, addresses, tunnels, pods, mtu, public_of)


def _node_local_dns(host: Netns, node, host_services) -> list[str]:
    """node-local-dns on a node: its listen addresses on the node (the DaemonSet puts them on a dummy interface, after
    eth0; on the loopback here, host scope, so the kernel never picks them as a source either). Returns them."""
    addresses = sorted({str(a) for s in host_services if s.addresses and (s.nodes is None or node.name in s.nodes)
                        for a in s.addresses})
    host.lines += [f"addr add {a}/32 dev lo scope host" for a in addresses]
    return addresses


def _route_lines(table, state, ports: Mapping[str, str]) -> list[str]:
    """A VPC route table as Linux routes (without the table number)."""
    out = []
    nat_eni = {g.id: g.interface for g in state.gateways.values() if g.kind == "nat"}
    has_default = False
    for r in table.routes:
        dest = r.destination
        has_default |= dest.prefixlen == 0
        if r.kind == "local":
            out.append(f"route add throw {dest}")
            continue
        eni = r.target if r.kind == "eni" else nat_eni.get(r.target) if r.kind == "nat" else None
        if r.kind == "igw":
            out.append(f"route add {dest} dev igw")
        elif eni in ports:
            out.append(f"route add {dest} via {state.interfaces[eni].ip} dev {ports[eni]} onlink")
        else:  # a target the emulation does not hold (AWS: the route is a blackhole)
            out.append(f"route add {dest} dev {NO_ROUTE}")
    if not has_default:  # no route: AWS drops the packet
        out.append(f"route add default dev {NO_ROUTE}")
    return out


def _node_overlay(host: Netns, node, nodes: Mapping, cni, mtu: int, tunnels: list[Tunnel]) -> str | None:
    """The overlay device on a node and its entries for every other node, as flanneld / Felix program them
    (static ARP + FDB + an onlink route per remote block for VXLAN; an onlink route via the remote node for
    IPIP). Returns the device name (None without encapsulation)."""
    others = [n for n in nodes.values() if n.name != node.name]
    if cni.encapsulation == "vxlan":
        device, vni, port = VXLAN[cni.kind]
        # flannel: the device MTU is the interface's minus 50 (vxlan_network.go); Felix sets the configured MTU, which
        # the kernel refuses above the lower device's minus 50 (vxlan_change_mtu), leaving the creation default.
        device_mtu = VPC_MTU - 50 if cni.kind == "flannel" else min(mtu, VPC_MTU - 50)
        host.lines += [f"link add {device} type vxlan id {vni} local {node.ip} dev eth0 dstport {port} nolearning",
                       f"link set {device} address {_mac(node.tunnel_ip)} mtu {device_mtu}",
                       f"addr add {node.tunnel_ip}/32 dev {device}", f"link set {device} up"]
        for other in others:
            host.lines += [f"neigh add {other.tunnel_ip} lladdr {_mac(other.tunnel_ip)} dev {device} nud permanent",
                           f"route add {other.pod_cidr} via {other.tunnel_ip} dev {device} onlink"]
            host.fdb.append(f"fdb append {_mac(other.tunnel_ip)} dev {device} dst {other.ip} self permanent")
        return device
    if cni.encapsulation == "ipip":
        tunnels.append(Tunnel(host.name, IPIP_DEVICE, str(node.ip), mtu,
                              {str(o.pod_cidr): str(o.ip) for o in others}))
        host.lines += [f"link set {IPIP_DEVICE} mtu {mtu}", f"addr add {node.tunnel_ip}/32 dev {IPIP_DEVICE}",
                       f"link set {IPIP_DEVICE} up"]
        host.lines += [f"route add {o.pod_cidr} via {o.ip} dev {IPIP_DEVICE} onlink" for o in others]
        return IPIP_DEVICE
    return None
