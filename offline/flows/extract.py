"""Read the flow model out of a finished run: EC2 from moto's backend (the same objects boto3's describe
calls render, without their XML round trip: ~0.1 s on the dev stack, seconds at 250 nodes), EKS and the
Helm releases from what the simulated providers returned, Kubernetes objects from the API server.

Two things a real account has that moto does not, placed here and marked ``synthetic``:
- the EKS control plane's ENIs: EKS puts them in the cluster's subnets (``vpcConfig.subnetIds``) with the
  cluster security group and the additional ``securityGroupIds`` (EKS user guide, "Amazon EKS security
  group requirements"); one per subnet, on the subnet's highest free address;
- the load balancers' nodes: the controller puts one per zone in the subnets it discovers by role tag
  (``kubernetes.io/role/elb`` internet-facing, ``.../internal-elb`` internal). Their security groups are
  the controller's own and not in the state, so nothing is assumed of them but that they send.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import replace

from k8snet.cni import flannel
from k8snet.dns import node_local_dns_manifests as nld
from k8snet.ingress import lb_controller
from k8snet.nodes import nodeadm
from k8snet.shared import tags as tag_names

from ..checks import cni as cni_checks
from ..checks import dns as dns_checks
from ..checks.routes import NODE_TAG, POD_CIDR_TAG
from . import facts
from .model import (Cni, ControlPlane, Gateway, HostService, Interface, Model, NaclEntry, NetworkAcl, Node, Route,
                    RouteTable, SecurityGroup, SgRule, Subnet, ip, net)

_PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp"}


def from_engine(result, engine) -> Model:
    """The model of ``engine``'s last (successful) run."""
    engine.activate()  # extract reads moto's backends: this engine's AWS must be the one in them
    return extract(result, engine.kube.objects.values(), engine.region)


def extract(result, objects: Iterable[Mapping], region: str, account: str | None = None) -> Model:
    # moto is imported here, where only an engine's run comes: the policy pack reads Kubernetes objects with this
    # module's other functions and never loads moto (~1 s of its boot).
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[account or DEFAULT_ACCOUNT_ID][region]
    vpc_id = next(r.id for r in result.of_type("aws:ec2/vpc:Vpc"))
    vpc = ec2.get_vpc(vpc_id)
    objects = tuple(objects)
    tags = ec2.tags
    # Pulumi's resource names (what the preview's resource tree shows), else the Name tag, else the id.
    pulumi_names = {r.id: r.name for r in result.resources if r.id}
    pulumi_names.update({r.outputs["securityGroupRuleId"]: r.name for r in result.resources
                         if r.outputs.get("securityGroupRuleId")})
    descriptions = {r.outputs["securityGroupRuleId"]: r.inputs.get("description", "") for r in result.resources
                    if r.outputs.get("securityGroupRuleId")}

    def name_of(resource_id: str, fallback: str = "") -> str:
        return pulumi_names.get(resource_id) or tags.get(resource_id, {}).get("Name") or fallback or resource_id

    tables, main_table, table_of_subnet = {}, None, {}
    for rt in ec2.route_tables.values():
        if rt.vpc_id != vpc_id:
            continue
        tables[rt.id] = RouteTable(rt.id, name_of(rt.id), tuple(r for r in (_route(x) for x in rt.routes) if r))
        if rt.main_association_id:
            main_table = rt.id
        for target in rt._associations.values():  # moto keeps association id -> subnet/gateway id
            if target.startswith("subnet-"):
                table_of_subnet[target] = rt.id

    nacls, nacl_of_subnet = {}, {}
    for acl in ec2.network_acls.values():
        if acl.vpc_id != vpc_id:
            continue
        nacls[acl.id] = NetworkAcl(acl.id, name_of(acl.id), tuple(sorted(
            (_nacl_entry(e) for e in acl.network_acl_entries if e.cidr_block), key=lambda e: (e.egress, e.number))))
        for assoc in acl.associations:
            nacl_of_subnet[assoc.subnet_id] = acl.id

    subnets = {}
    for zone_subnets in ec2.subnets.values():
        for s in zone_subnets.values():
            if s.vpc_id == vpc_id:
                subnets[s.id] = Subnet(s.id, name_of(s.id), net(s.cidr_block), s.availability_zone,
                                       table_of_subnet.get(s.id, main_table), nacl_of_subnet.get(s.id, ""),
                                       dict(tags.get(s.id, {})))

    groups, rules = {}, []
    for sg in ec2.groups.get(vpc_id, {}).values():
        groups[sg.id] = SecurityGroup(sg.id, name_of(sg.id, sg.name))
        for egress, items in ((False, sg.ingress_rules), (True, sg.egress_rules)):
            rules += [sg_rule(sg.id, egress, r, name_of(r.id), descriptions.get(r.id, "")) for r in items]

    instances = {i.id: i for res in ec2.reservations.values() for i in res.instances}
    interfaces = {}
    for eni in ec2.enis.values():
        if eni.subnet is None or eni.subnet.id not in subnets:
            continue
        inst = instances.get(getattr(eni.instance, "id", None))
        inst_check = _truthy(inst.source_dest_check) if inst is not None else False
        owner = tags.get(inst.id, {}).get(NODE_TAG, inst.id) if inst is not None else "nat" if eni.id in {
            n._eni.id for n in ec2.nat_gateways.values()} else eni.id
        public = getattr(eni, "public_ip", None)
        interfaces[eni.id] = Interface(
            eni.id, tuple(ip(a["PrivateIpAddress"]) for a in eni.private_ip_addresses), eni.subnet.id,
            tuple(g.id for g in eni._group_set),
            # On AWS the instance attribute is the primary ENI's; moto keeps two copies: either still on drops.
            _truthy(eni.source_dest_check) or inst_check, owner, ip(public) if public else None)

    gateways = {}
    for nat in ec2.nat_gateways.values():
        if nat.subnet_id in subnets:
            public = next((a.get("publicIp") or a.get("PublicIp") for a in nat.address_set), None)
            gateways[nat.id] = Gateway(nat.id, "nat", nat._eni.id, ip(public) if public else None)
    for igw in ec2.internet_gateways.values():
        if igw.vpc is not None and igw.vpc.id == vpc_id:
            gateways[igw.id] = Gateway(igw.id, "igw")

    kind, values = cni_checks.cni_of(result.records.values())
    controller = next((r.get("values") or {} for r in cni_checks.releases(result.records.values()).values()
                       if r.get("chart") == lb_controller.CHART), {})
    pools = _pod_blocks(kind, objects)
    cni = _cni(kind, values, objects, pools)
    nodes = {}
    for inst in instances.values():
        name = tags.get(inst.id, {}).get(NODE_TAG)
        if name is None or inst.subnet_id not in subnets:
            continue
        eni = inst.nics[0]
        block = pools.get(name) or net(tags[inst.id].get(POD_CIDR_TAG))
        config = nodeadm.node_config_of(_user_data(inst)) or {}
        dns = ((config.get("spec") or {}).get("kubelet") or {}).get("config", {}).get("clusterDNS")
        nodes[name] = Node(name, f"ip-{inst.private_ip.replace('.', '-')}", subnets[inst.subnet_id].zone,
                           ip(inst.private_ip), eni.id, block, block.network_address if cni.overlay else None,
                           tuple(ip(a) for a in dns) if dns else ())

    eks = next(iter(result.of_type("aws:eks/cluster:Cluster")), None)
    service_cidr = net((eks.outputs.get("kubernetesNetworkConfig") or {}).get("serviceIpv4Cidr", "10.100.0.0/16")
                       if eks else "10.100.0.0/16")
    default_dns = (ip(service_cidr.network_address + 10),)  # nodeadm's clusterDNS: the CIDR's 10th address
    nodes = {n: (node if node.cluster_dns else _with_dns(node, default_dns)) for n, node in sorted(nodes.items())}

    used = {a for i in interfaces.values() for a in i.ips}
    control_plane = None
    if eks is not None:
        vpc_cfg = eks.outputs.get("vpcConfig") or {}
        cluster_sg = vpc_cfg.get("clusterSecurityGroupId", "")
        cp_groups = tuple([cluster_sg, *(vpc_cfg.get("securityGroupIds") or [])])
        cp_ifaces = place_control_plane(vpc_cfg.get("subnetIds") or [], cp_groups, subnets, interfaces, used)
        control_plane = ControlPlane(
            eks.outputs.get("name", ""), bool(vpc_cfg.get("endpointPrivateAccess")),
            tuple(net(c) for c in (vpc_cfg.get("publicAccessCidrs") or []) if vpc_cfg.get("endpointPublicAccess")),
            cp_ifaces, cluster_sg)
    lb_subnets = place_load_balancers(subnets, interfaces, used)

    return Model(
        region=region, vpc_cidr=net(vpc.cidr_block), service_cidr=service_cidr, groups=groups, rules=tuple(rules),
        tables=tables, nacls=nacls, subnets=subnets, interfaces=interfaces, gateways=gateways, nodes=nodes,
        control_plane=control_plane, cni=cni, kube_proxy_mode=dns_checks.kube_proxy_mode(result), objects=objects,
        host_services=_host_services(kind, cni, objects, controller), load_balancer_subnets=lb_subnets,
        lb_controller=controller)


# --- what AWS places at run time (also used by the policy pack's model of a plan) ---------------------

def place_control_plane(subnet_ids, groups: tuple[str, ...], subnets: Mapping[str, Subnet], interfaces: dict,
                        used: set) -> tuple[str, ...]:
    """One control-plane interface per cluster subnet (into ``interfaces``); their ids."""
    placed = []
    for sid in subnet_ids:
        iface = _synthetic(f"eks-{sid}", subnets[sid], used, groups, "control-plane")
        interfaces[iface.id] = iface
        placed.append(iface.id)
    return tuple(placed)


def place_load_balancers(subnets: Mapping[str, Subnet], interfaces: dict, used: set) -> dict[str, tuple[str, ...]]:
    """Scheme -> the subnets tagged for it, in zone order, each with a load balancer node's interface (into
    ``interfaces``)."""
    lb_subnets = {scheme: tuple(sorted((s.id for s in subnets.values() if s.tags.get(role) == "1"),
                                       key=lambda sid: subnets[sid].zone))
                  for scheme, role in (("internet-facing", tag_names.ELB_ROLE),
                                       ("internal", tag_names.INTERNAL_ELB_ROLE))}
    for scheme, sids in lb_subnets.items():
        for sid in sids:
            iface = _synthetic(f"elb-{sid}", subnets[sid], used, (), f"load balancer ({scheme})")
            interfaces[iface.id] = iface
    return lb_subnets


# --- EC2 pieces --------------------------------------------------------------------------------------

def _route(r) -> Route | None:
    if not r.destination_cidr_block:
        return None  # IPv6 / prefix-list routes: the model is IPv4
    dest = net(r.destination_cidr_block)
    if r.local:
        return Route(dest, "local", "local")
    if r.interface is not None:
        return Route(dest, "eni", r.interface.id)
    if r.nat_gateway is not None:
        return Route(dest, "nat", r.nat_gateway.id)
    if r.gateway is not None and r.gateway.id.startswith("igw-"):
        return Route(dest, "igw", r.gateway.id)
    if r.instance is not None:
        return Route(dest, "eni", r.instance.nics[0].id)
    return Route(dest, "other", str(getattr(r.gateway, "id", "") or r.vpc_pcx or r.transit_gateway or ""))


def _nacl_entry(e) -> NaclEntry:
    ports = (int(e.port_range_from), int(e.port_range_to)) if e.port_range_from not in (None, "") else None
    return NaclEntry(int(e.rule_number), _truthy(e.egress), str(e.protocol), e.rule_action == "allow",
                     net(e.cidr_block), ports)


def sg_rule(group: str, egress: bool, r, name: str = "", description: str = "") -> SgRule:
    """One of moto's rules in the model's form: protocol numbers of TCP, UDP and ICMP by name (EC2 accepts
    either), ports only for the protocols that have them."""
    protocol = str(r.ip_protocol)
    protocol = _PROTOCOLS.get(protocol, protocol).lower()
    ported = protocol in ("tcp", "udp", "icmp")
    cidr = (r.ip_range or {}).get("CidrIp")
    peer = (r.source_group or {}).get("GroupId")
    return SgRule(r.id, group, egress, protocol, r.from_port if ported else None, r.to_port if ported else None,
                  net(cidr) if cidr else None, peer, name, description)


def _truthy(value) -> bool:
    return value if isinstance(value, bool) else str(value).lower() == "true"


def _user_data(inst) -> str:
    data = inst.user_data
    if isinstance(data, list):
        data = data[0] if data else ""
    if not data:
        return ""
    data = data if isinstance(data, str) else data.decode()
    try:
        return base64.b64decode(data).decode()
    except ValueError:
        return data


def _synthetic(iface_id: str, subnet: Subnet, used: set, groups: tuple, owner: str) -> Interface:
    """An ENI AWS would place: the subnet's highest address no other interface holds (AWS reserves the
    last one, the broadcast address)."""
    candidate = subnet.cidr.broadcast_address - 1
    while candidate in used:
        candidate -= 1
    used.add(candidate)
    return Interface(iface_id, (candidate,), subnet.id, groups, True, owner, synthetic=True)


def _with_dns(node: Node, dns: tuple) -> Node:
    return replace(node, cluster_dns=dns)


# --- the cluster's own pieces -------------------------------------------------------------------------

def _pod_blocks(kind: str | None, objects: tuple) -> dict[str, ipaddress.IPv4Network]:
    """Node -> the block the CNI gives it: the IPPool selecting it (Calico) or the podCIDR its assigner
    patches in (flannel)."""
    blocks = {}
    if kind == "calico":
        for pool in (o for o in objects if o["kind"] == "IPPool"):
            selector = pool["spec"].get("nodeSelector", "")
            node = cni_checks.selector_node(selector)
            if node:
                blocks[node] = net(pool["spec"]["cidr"])
    elif kind == "flannel":
        blocks = {n: net(c[0]) for n, c in cni_checks.assigned_pod_cidrs(objects).items() if len(c) == 1}
    return blocks


def _cni(kind: str | None, values: Mapping, objects: tuple, blocks: Mapping) -> Cni:
    if kind == "calico":
        pools = [o["spec"] for o in objects if o["kind"] == "IPPool"]
        encapsulation = ("vxlan" if any(p.get("vxlanMode") not in (None, "Never") for p in pools)
                         else "ipip" if any(p.get("ipipMode") not in (None, "Never") for p in pools) else "none")
        return Cni("calico", encapsulation, all(p.get("natOutgoing") for p in pools), True,
                   tuple(net(p["cidr"]) for p in pools), goldmane_runs(objects))
    if kind == "flannel":
        backend = (values.get("flannel") or {}).get("backend")
        args = (values.get("flannel") or {}).get("args") or FLANNEL_DEFAULT_ARGS
        encapsulation = next((e for e, b in flannel.BACKENDS.items() if b == backend), "none")
        return Cni("flannel", encapsulation, "--ip-masq" in args, bool((values.get("netpol") or {}).get("enabled")),
                   (net(values.get("podCidr")),) if values.get("podCidr") else tuple(blocks.values()))
    return Cni("none", "none", False, False, tuple(blocks.values()))


def goldmane_runs(objects: Iterable[Mapping]) -> bool:
    """The operator deploys Goldmane when its custom resource exists: the tigera-operator chart renders it
    unless ``goldmane.enabled`` is false (default true, charts/tigera-operator/values.yaml v3.31.7; the Helm
    model in offline/kube renders it the same way)."""
    return any(o["kind"] == "Goldmane" and o.get("apiVersion") == "operator.tigera.io/v1" for o in objects)


# chart/kube-flannel/values.yaml v0.28.9: flannel.args defaults to ["--ip-masq", "--kube-subnet-mgr"].
FLANNEL_DEFAULT_ARGS = ("--ip-masq", "--kube-subnet-mgr")


def _host_services(kind: str | None, cni: Cni, objects: tuple, controller: Mapping) -> tuple[HostService, ...]:
    """Servers on the nodes' own addresses: kubelet, the hostNetwork workloads, the overlay's tunnel."""
    services = [HostService("kubelet", "tcp", facts.KUBELET_PORT)]
    if controller.get("hostNetwork"):
        services.append(HostService(f"{lb_controller.CHART} webhook", "tcp",
                                    int(controller.get("webhookBindPort", lb_controller.WEBHOOK_PORT))))
    if kind == "calico":
        services += [HostService("calico-typha", "tcp", facts.TYPHA_PORT),
                     HostService("calico-apiserver", "tcp", facts.CALICO_API_SERVER_PORT)]
    tunnel = facts.TUNNELS.get((cni.kind, cni.encapsulation))
    if tunnel:
        services.append(HostService(f"{tunnel[2]} (overlay)", tunnel[0], tunnel[1] or 0))
    for ds in objects:
        if ds["kind"] == "DaemonSet" and ds["metadata"]["name"] == nld.NAME:
            listen = tuple(ip(a) for a in nld.local_ips_of(ds))
            services += [HostService(nld.NAME, proto, 53, addresses=listen) for proto in ("udp", "tcp")]
    return tuple(services)
