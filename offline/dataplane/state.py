"""What the emulation is built from: a finished run's state, read back through the AWS API (boto3 on moto)
and the simulated API server, as plain frozen data.

The attribute names follow the flow model's (offline/flows/model.py: ``tables``, ``subnets``, ``interfaces``,
``gateways``, ``nodes``, ``rules``, ``cni``), so the builder reads either. Two things a real account has and
moto does not are placed here and marked ``synthetic``: the EKS control plane's ENIs (one per cluster subnet,
with the cluster's security groups) and one load balancer node per public subnet (its groups are the
controller's own, not in the state: it only sends). moto also hands NAT gateways a private address outside
their subnet (replaced by a free one in it) and a 127.x "public" one (plan.public_addresses replaces it).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from ipaddress import IPv4Address, IPv4Network

from k8snet.cni import dataplane as cni_dataplane

from ..checks import cni as cni_checks
from ..checks import dns as dns_checks
from ..checks.routes import NODE_TAG, POD_CIDR_TAG

_PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp"}


def ip(text) -> IPv4Address:
    return ipaddress.IPv4Address(str(text))


def net(text) -> IPv4Network:
    return ipaddress.IPv4Network(str(text))


@dataclass(frozen=True)
class Route:
    destination: IPv4Network
    kind: str  # "local" | "eni" | "nat" | "igw" | "other"
    target: str


@dataclass(frozen=True)
class RouteTable:
    id: str
    name: str
    routes: tuple[Route, ...]


@dataclass(frozen=True)
class Subnet:
    id: str
    name: str
    cidr: IPv4Network
    zone: str
    route_table: str
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Interface:
    id: str
    ips: tuple[IPv4Address, ...]
    subnet: str
    groups: tuple[str, ...]
    source_dest_check: bool
    owner: str  # a node name, "nat", "control-plane" or "load balancer (...)"
    public_ip: IPv4Address | None = None
    synthetic: bool = False

    @property
    def ip(self) -> IPv4Address:
        return self.ips[0]


@dataclass(frozen=True)
class Gateway:
    id: str
    kind: str  # "nat" | "igw"
    interface: str | None = None
    public_ip: IPv4Address | None = None


@dataclass(frozen=True)
class SgRule:
    id: str
    group: str
    egress: bool
    protocol: str  # "-1", "tcp", "udp", "icmp" or an IP protocol number
    from_port: int | None
    to_port: int | None
    cidr: IPv4Network | None = None
    peer_group: str | None = None


@dataclass(frozen=True)
class Node:
    name: str
    zone: str
    ip: IPv4Address
    interface: str
    pod_cidr: IPv4Network
    tunnel_ip: IPv4Address | None


@dataclass(frozen=True)
class Cni:
    kind: str  # "calico" | "flannel"
    encapsulation: str  # "none" | "vxlan" | "ipip"
    nat_outgoing: bool
    enforces_policy: bool
    pools: tuple[IPv4Network, ...]
    mtu: int  # the pods' interface MTU as the CNI config sets it


@dataclass(frozen=True)
class State:
    vpc_cidr: IPv4Network
    service_cidr: IPv4Network
    rules: tuple[SgRule, ...]
    tables: Mapping[str, RouteTable]
    subnets: Mapping[str, Subnet]
    interfaces: Mapping[str, Interface]
    gateways: Mapping[str, Gateway]
    nodes: Mapping[str, Node]
    cni: Cni
    kube_proxy_mode: str
    objects: tuple[dict, ...]

    @cached_property
    def group_members(self) -> dict[str, frozenset[IPv4Address]]:
        """Group id -> the private addresses of the ENIs carrying it (what a group reference admits)."""
        members: dict[str, set[IPv4Address]] = {}
        for i in self.interfaces.values():
            for g in i.groups:
                members.setdefault(g, set()).update(i.ips)
        return {g: frozenset(a) for g, a in members.items()}


def _tags(items) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or []}


def _route(r: Mapping) -> Route | None:
    dest = r.get("DestinationCidrBlock")
    if not dest:
        return None  # IPv6 and prefix-list routes: the emulation is IPv4
    if r.get("GatewayId") == "local":
        return Route(net(dest), "local", "local")
    if r.get("NetworkInterfaceId"):
        return Route(net(dest), "eni", r["NetworkInterfaceId"])
    if r.get("NatGatewayId"):
        return Route(net(dest), "nat", r["NatGatewayId"])
    if str(r.get("GatewayId", "")).startswith("igw-"):
        return Route(net(dest), "igw", r["GatewayId"])
    return Route(net(dest), "other", str(r.get("GatewayId") or r.get("InstanceId") or ""))


def _rules(group: Mapping) -> list[SgRule]:
    """One rule per source of each permission (EC2 keeps them as separate rule ids; these ids are stable
    within a run: group, direction, protocol, ports, source)."""
    out = []
    for egress, perms in ((False, group["IpPermissions"]), (True, group["IpPermissionsEgress"])):
        for p in perms:
            protocol = _PROTOCOLS.get(str(p["IpProtocol"]), str(p["IpProtocol"])).lower()
            ported = protocol in ("tcp", "udp", "icmp")
            lo, hi = (p.get("FromPort"), p.get("ToPort")) if ported else (None, None)
            sources = [(net(r["CidrIp"]), None) for r in p.get("IpRanges", [])]
            sources += [(None, g["GroupId"]) for g in p.get("UserIdGroupPairs", [])]
            for cidr, peer in sources:
                rid = f"{group['GroupId']}/{'out' if egress else 'in'}/{protocol}/{lo}-{hi}/{cidr or peer}"
                out.append(SgRule(rid, group["GroupId"], egress, protocol, lo, hi, cidr, peer))
    return out


def _free_address(subnet: Subnet, used: set) -> IPv4Address:
    """The subnet's highest address nobody holds (AWS reserves the broadcast address)."""
    candidate = subnet.cidr.broadcast_address - 1
    while candidate in used:
        candidate -= 1
    used.add(candidate)
    return candidate


def read(result, ec2, objects: Iterable[Mapping]) -> State:
    """The state of a finished run: ``ec2`` a boto3 client on the run's moto, ``objects`` the API server's."""
    objects = tuple(objects)
    vpc_id = next(r.id for r in result.of_type("aws:ec2/vpc:Vpc"))
    vpc_filter = [{"Name": "vpc-id", "Values": [vpc_id]}]
    vpc = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]

    tables, main, table_of = {}, None, {}
    for t in ec2.describe_route_tables(Filters=vpc_filter)["RouteTables"]:
        tables[t["RouteTableId"]] = RouteTable(t["RouteTableId"], _tags(t.get("Tags")).get("Name", t["RouteTableId"]),
                                               tuple(r for r in map(_route, t["Routes"]) if r))
        for a in t.get("Associations", []):
            if a.get("Main"):
                main = t["RouteTableId"]
            elif a.get("SubnetId"):
                table_of[a["SubnetId"]] = t["RouteTableId"]
    subnets = {s["SubnetId"]: Subnet(s["SubnetId"], _tags(s.get("Tags")).get("Name", s["SubnetId"]),
                                     net(s["CidrBlock"]), s["AvailabilityZone"], table_of.get(s["SubnetId"], main),
                                     _tags(s.get("Tags")))
               for s in ec2.describe_subnets(Filters=vpc_filter)["Subnets"]}
    rules = tuple(r for g in ec2.describe_security_groups(Filters=vpc_filter)["SecurityGroups"] for r in _rules(g))

    node_names, checks = {}, {}
    for res in ec2.describe_instances(Filters=vpc_filter)["Reservations"]:
        for inst in res["Instances"]:
            tags = _tags(inst.get("Tags"))
            if NODE_TAG in tags:
                node_names[inst["InstanceId"]] = (tags[NODE_TAG], tags.get(POD_CIDR_TAG))
            attr = ec2.describe_instance_attribute(InstanceId=inst["InstanceId"], Attribute="sourceDestCheck")
            checks[inst["InstanceId"]] = attr["SourceDestCheck"]["Value"]
    nats = ec2.describe_nat_gateways(Filter=vpc_filter)["NatGateways"]
    nat_enis = {a["NetworkInterfaceId"]: n for n in nats for a in n["NatGatewayAddresses"]}

    interfaces, used = {}, set()
    enis = ec2.describe_network_interfaces(Filters=vpc_filter)["NetworkInterfaces"]
    used |= {ip(e["PrivateIpAddress"]) for e in enis}
    nodes_by_eni = {}
    for e in enis:
        if e["SubnetId"] not in subnets:
            continue
        instance = (e.get("Attachment") or {}).get("InstanceId")
        owner = node_names.get(instance, (None,))[0] or ("nat" if e["NetworkInterfaceId"] in nat_enis else e["NetworkInterfaceId"])
        address, public = ip(e["PrivateIpAddress"]), (e.get("Association") or {}).get("PublicIp")
        if e["NetworkInterfaceId"] in nat_enis:
            nat_addr = nat_enis[e["NetworkInterfaceId"]]["NatGatewayAddresses"][0]
            public = nat_addr.get("PublicIp")
            if address not in subnets[e["SubnetId"]].cidr:  # moto: an address outside the subnet
                address = _free_address(subnets[e["SubnetId"]], used)
        # Either copy of the check still on drops routed traffic (moto keeps the instance's and the ENI's
        # apart). A NAT gateway forwards by design: AWS applies no check to it.
        check = (bool(e.get("SourceDestCheck", True)) or bool(checks.get(instance, False))) if instance else \
            e["NetworkInterfaceId"] not in nat_enis
        interfaces[e["NetworkInterfaceId"]] = Interface(
            e["NetworkInterfaceId"], (address,), e["SubnetId"], tuple(g["GroupId"] for g in e["Groups"]), check,
            owner, ip(public) if public else None)
        if instance in node_names:
            nodes_by_eni[e["NetworkInterfaceId"]] = node_names[instance]

    gateways = {n["NatGatewayId"]: Gateway(n["NatGatewayId"], "nat", n["NatGatewayAddresses"][0]["NetworkInterfaceId"],
                                           interfaces[n["NatGatewayAddresses"][0]["NetworkInterfaceId"]].public_ip)
                for n in nats if n["NatGatewayAddresses"][0]["NetworkInterfaceId"] in interfaces}
    for g in ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc_id]}])["InternetGateways"]:
        gateways[g["InternetGatewayId"]] = Gateway(g["InternetGatewayId"], "igw")

    # The EKS control plane's ENIs (one per cluster subnet, the cluster's groups) and the load balancers' nodes.
    eks = next(iter(result.of_type("aws:eks/cluster:Cluster")), None)
    service_cidr = net("10.100.0.0/16")
    if eks is not None:
        service_cidr = net((eks.outputs.get("kubernetesNetworkConfig") or {}).get("serviceIpv4Cidr", service_cidr))
        cfg = eks.outputs.get("vpcConfig") or {}
        groups = tuple(g for g in [cfg.get("clusterSecurityGroupId"), *(cfg.get("securityGroupIds") or [])] if g)
        for sid in cfg.get("subnetIds") or []:
            if sid in subnets:
                iface = Interface(f"eks-{sid}", (_free_address(subnets[sid], used),), sid, groups, True,
                                  "control-plane", synthetic=True)
                interfaces[iface.id] = iface
    for s in sorted(subnets.values(), key=lambda s: s.zone):
        if s.tags.get("kubernetes.io/role/elb") == "1":
            iface = Interface(f"elb-{s.id}", (_free_address(s, used),), s.id, (), True,
                              "load balancer (internet-facing)", synthetic=True)
            interfaces[iface.id] = iface

    cni = _cni(result, objects)
    nodes = {}
    for eni_id, (name, tag_block) in nodes_by_eni.items():
        iface = interfaces[eni_id]
        block = _block_of(name, cni.kind, objects) or net(tag_block)
        nodes[name] = Node(name, subnets[iface.subnet].zone, iface.ip, eni_id, block,
                           block.network_address if cni.encapsulation != "none" else None)
    return State(net(vpc["CidrBlock"]), service_cidr, rules, tables, subnets, interfaces, gateways,
                 dict(sorted(nodes.items())), cni, dns_checks.kube_proxy_mode(result), objects)


def _block_of(node: str, kind: str, objects: tuple) -> IPv4Network | None:
    """The block the CNI gives the node: the IPPool selecting it (Calico) or the podCIDR its assigner sets."""
    for o in objects:
        if kind == "calico" and o["kind"] == "IPPool" and cni_checks.selector_matches(
                o["spec"].get("nodeSelector", ""), {"k8snet.io/node": node}):
            return net(o["spec"]["cidr"])
        if kind == "flannel" and o["kind"] == "DaemonSet" and \
                o["spec"]["template"]["spec"].get("nodeSelector", {}).get("k8snet.io/node") == node:
            for c in o["spec"]["template"]["spec"].get("initContainers", []):
                for a in c.get("args", []):
                    if a.startswith("--patch="):
                        return net(json.loads(a[len("--patch="):])["spec"]["podCIDR"])
    return None


def _cni(result, objects: tuple) -> Cni:
    kind, values = cni_checks.cni_of(result.records.values())
    if kind == "calico":
        pools = [o["spec"] for o in objects if o["kind"] == "IPPool"]
        encapsulation = ("vxlan" if any(p.get("vxlanMode") not in (None, "Never") for p in pools)
                         else "ipip" if any(p.get("ipipMode") not in (None, "Never") for p in pools) else "none")
        mtu = ((values.get("installation") or {}).get("calicoNetwork") or {}).get("mtu")
        # The operator's default when the Installation sets none: auto-detected from the host interface minus the
        # encapsulation overhead (tigera/operator: calicoNetwork.mtu "If not specified, Calico will perform MTU
        # auto-detection").
        return Cni("calico", encapsulation, all(p.get("natOutgoing") for p in pools), True,
                   tuple(net(p["cidr"]) for p in pools), int(mtu) if mtu else cni_dataplane.mtu(encapsulation))
    if kind == "flannel":
        backend = (values.get("flannel") or {}).get("backend")
        encapsulation = "vxlan" if backend == "vxlan" else "none"
        args = (values.get("flannel") or {}).get("args") or FLANNEL_DEFAULT_ARGS
        # flanneld derives the MTU: the external interface's (9001 in a VPC) minus the backend's overhead
        # (pkg/backend/vxlan/vxlan_network.go: encapOverhead = 50; alloc: none).
        return Cni("flannel", encapsulation, "--ip-masq" in args, bool((values.get("netpol") or {}).get("enabled")),
                   (net(values["podCidr"]),), cni_dataplane.VPC_MTU - (50 if encapsulation == "vxlan" else 0))
    return Cni("none", "none", False, False, (), cni_dataplane.VPC_MTU)


# chart/kube-flannel/values.yaml v0.28.9: flannel.args defaults to ["--ip-masq", "--kube-subnet-mgr"].
FLANNEL_DEFAULT_ARGS = ("--ip-masq", "--kube-subnet-mgr")
