"""The flow verifier's model (offline/flows/model.py) read from the plan instead of from moto, so the pack walks
every promised flow and denial with the engine's own verifier (offline/flows: placement, catalogue, walk).

What a plan holds and what it does not:
- Identities: AWS ids are not known before a resource exists, so every piece is named by its Pulumi resource
  name (what the engine's model shows too) and every reference is followed through its property dependency
  (a route's ``networkInterfaceId`` computed from an instance is that instance's primary interface).
- Addresses EC2 assigns (instances', NAT gateways') are unknown until the resources exist: the model is built
  only when every one is known (``Unknown`` otherwise: the policy says once that it waits for them).
- What AWS creates with the VPC and the cluster, not a resource of the stack, stated as AWS documents it and as
  the engine holds it: each route table's local route, the VPC's main route table (local route only) for
  subnets without an association, its default network ACL (rule 100 allows everything in and out), and the
  cluster security group EKS creates (EKS user guide, "View Amazon EKS security group requirements for
  clusters": all traffic in from itself, out to 0.0.0.0/0 and to itself). The control plane's and
  the load balancers' interfaces are placed as offline/flows/extract.py places them.
- The cluster's objects: the stack's, what its EKS add-ons install, and what its Helm releases render and
  their components create at run time (offline/kube: the same facts the engine's API server uses).
"""

from __future__ import annotations

from k8snet.ingress import lb_controller
from k8snet.nodes import nodeadm
from offline.checks import cni as cni_checks
from offline.checks import dns as dns_checks
from offline.checks.routes import NODE_TAG, POD_CIDR_TAG
from offline.flows.extract import (_PROTOCOLS, _cni, _host_services, _pod_blocks, _with_dns,
                                   place_control_plane, place_load_balancers)
from offline.flows.model import (ControlPlane, Gateway, Interface, Model, NaclEntry, NetworkAcl, Node, Route,
                                 RouteTable, SecurityGroup, SgRule, Subnet, ip, net)
from offline.kube import helm

from .plan import CLUSTER, Plan, Resource, Unknown, known, mapping

VPC, SUBNET = "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet"
TABLE, ROUTE, ASSOCIATION = ("aws:ec2/routeTable:RouteTable", "aws:ec2/route:Route",
                             "aws:ec2/routeTableAssociation:RouteTableAssociation")
GROUP = "aws:ec2/securityGroup:SecurityGroup"
RULES = {"aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": False,
         "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": True}
INSTANCE, NAT = "aws:ec2/instance:Instance", "aws:ec2/natGateway:NatGateway"
IGW = "aws:ec2/internetGateway:InternetGateway"
ANYWHERE = net("0.0.0.0/0")
# AWS's default network ACL: rule 100 allows all traffic in and out, rule * (32767) denies the rest (VPC user
# guide, "Default network ACL").
DEFAULT_ACL = tuple(NaclEntry(number, egress, "-1", number == 100, ANYWHERE)
                    for egress in (False, True) for number in (100, 32767))


def _eni(owner: Resource) -> str:
    return f"{owner.name}:eni"


def _cluster_group(cluster: Resource) -> str:
    return f"{cluster.name}:cluster-sg"


def _group_id(target: Resource) -> str:
    """A security group of the stack, or the one EKS creates for a cluster (its ``clusterSecurityGroupId``)."""
    return _cluster_group(target) if target.type == CLUSTER else target.name


class _Reader:
    def __init__(self, plan: Plan):
        self.plan = plan

    def dep(self, resource: Resource, key: str, *types: str) -> Resource:
        """The one resource of ``types`` that input ``key`` was computed from."""
        found = [r for r in self.plan.deps(resource, key) if r.type in types]
        if len(found) != 1:
            # Not a value preview lacks: something the stack does not create (the model holds only its own).
            raise Unknown(f"{resource.name}: {key} names no single {' or '.join(t.split(':')[-1] for t in types)} "
                          "of the stack")
        return found[0]

    def value(self, resource: Resource, key: str):
        return known(resource.props.get(key), f"{resource.name}: {key}")

    def group_ref(self, resource: Resource, key: str) -> str:
        return _group_id(self.dep(resource, key, GROUP, CLUSTER))

    def groups_of(self, resource: Resource, key: str) -> tuple[str, ...]:
        """The security groups a list input (``vpcSecurityGroupIds``, ``vpcConfig``) was computed from."""
        return tuple(sorted(_group_id(r) for r in self.plan.deps(resource, key) if r.type in (GROUP, CLUSTER)
                            and r is not resource))


def _rules(reader: _Reader, plan: Plan) -> list[SgRule]:
    out = []
    for type_token, egress in RULES.items():
        for r in plan.of_type(type_token):
            protocol = str(reader.value(r, "ipProtocol")).lower()
            protocol = _PROTOCOLS.get(protocol, protocol)
            ported = protocol in ("tcp", "udp", "icmp")
            cidr = reader.value(r, "cidrIpv4") if r.props.get("cidrIpv4") is not None else None
            peer = reader.group_ref(r, "referencedSecurityGroupId") if r.props.get("referencedSecurityGroupId") \
                else None
            out.append(SgRule(r.name, reader.group_ref(r, "securityGroupId"), egress, protocol,
                              int(reader.value(r, "fromPort")) if ported else None,
                              int(reader.value(r, "toPort")) if ported else None,
                              net(cidr) if cidr else None, peer, r.name, r.props.get("description") or ""))
    return out


def _route(reader: _Reader, r: Resource) -> Route:
    destination = net(reader.value(r, "destinationCidrBlock"))
    if r.props.get("networkInterfaceId") or r.props.get("instanceId"):
        key = "networkInterfaceId" if r.props.get("networkInterfaceId") else "instanceId"
        return Route(destination, "eni", _eni(reader.dep(r, key, INSTANCE)))
    if r.props.get("natGatewayId"):
        return Route(destination, "nat", reader.dep(r, "natGatewayId", NAT).name)
    if r.props.get("gatewayId"):
        gateway = reader.dep(r, "gatewayId", IGW)
        return Route(destination, "igw", gateway.name)
    return Route(destination, "other", r.name)


def release_objects(plan: Plan) -> list[dict]:
    """What the stack's Helm releases put into the cluster (offline/kube/helm.py's facts)."""
    out = []
    for release in plan.of_type(cni_checks.RELEASE):
        chart, version = release.props.get("chart", ""), release.props.get("version", "")
        values = known(release.props.get("values") or {}, f"helm release {release.name}: values")
        out += helm.rendered(chart, version, values) + helm.created_at_runtime(chart, version)
    return out


def model_of(plan: Plan, region: str) -> Model:
    """The verifier's model of the plan; ``Unknown`` names what it needs that is not known yet."""
    reader = _Reader(plan)
    pending = [r.name for r in plan.of_type(INSTANCE, NAT) if not isinstance(r.props.get("privateIp"), str)]
    if pending:
        raise Unknown(f"the addresses EC2 assigns to {', '.join(pending)}")
    (vpc,) = plan.of_type(VPC)
    vpc_cidr = net(reader.value(vpc, "cidrBlock"))
    tables, main = _route_tables(reader, vpc, vpc_cidr)
    table_of_subnet = {reader.dep(a, "subnetId", SUBNET).name: reader.dep(a, "routeTableId", TABLE).name
                       for a in plan.of_type(ASSOCIATION) if a.props.get("subnetId")}
    acl = f"{vpc.name}:default-acl"
    subnets = {s.name: Subnet(s.name, s.name, net(reader.value(s, "cidrBlock")), reader.value(s, "availabilityZone"),
                              table_of_subnet.get(s.name, main), acl, dict(s.tags()))
               for s in plan.of_type(SUBNET)}
    groups, rules = _security_groups(reader)

    objects = tuple(plan.kube_objects() + release_objects(plan))
    kind, values = cni_checks.cni_of(plan.records)
    controller = next((r.props.get("values") or {} for r in plan.of_type(cni_checks.RELEASE)
                       if r.props.get("chart") == lb_controller.CHART), {})
    pools = _pod_blocks(kind, objects)
    cni = _cni(kind, values, objects, pools)
    interfaces, gateways = _gateways(reader)
    nodes = _instances(reader, interfaces, subnets, pools, cni.overlay)

    service_cidr, control_plane = net("10.100.0.0/16"), None
    used = {a for i in interfaces.values() for a in i.ips}
    for cluster in plan.of_type(CLUSTER)[:1]:  # the verifier models one cluster (the stack creates one)
        network = mapping(reader.value(cluster, "kubernetesNetworkConfig"))
        service_cidr = net(network.get("serviceIpv4Cidr") or service_cidr)
        control_plane = _control_plane(reader, cluster, subnets, interfaces, used)
    default_dns = (ip(service_cidr.network_address + 10),)  # nodeadm's clusterDNS: the CIDR's 10th address
    nodes = {n: (node if node.cluster_dns else _with_dns(node, default_dns)) for n, node in sorted(nodes.items())}

    lb_subnets = place_load_balancers(subnets, interfaces, used)

    return Model(region=region, vpc_cidr=vpc_cidr, service_cidr=service_cidr, groups=groups, rules=tuple(rules),
                 tables=tables, nacls={acl: NetworkAcl(acl, acl, DEFAULT_ACL)}, subnets=subnets,
                 interfaces=interfaces, gateways=gateways, nodes=nodes, control_plane=control_plane, cni=cni,
                 kube_proxy_mode=dns_checks.kube_proxy_mode(plan), objects=objects,
                 host_services=_host_services(kind, cni, objects, controller),
                 load_balancer_subnets=lb_subnets, lb_controller=controller)


def _route_tables(reader: _Reader, vpc: Resource, vpc_cidr) -> tuple[dict[str, RouteTable], str]:
    """The stack's tables and the VPC's main one, each with the local route; and the main table's id."""
    local = Route(vpc_cidr, "local", "local")
    main = f"{vpc.name}:main"
    tables = {main: RouteTable(main, main, (local,))}
    routes = reader.plan.of_type(ROUTE)
    for table in reader.plan.of_type(TABLE):
        # A table's own ``routes`` in a deployed stack's state is the provider's read-back of every route in it,
        # the standalone Route resources' included; the program adds routes only as Route resources (the engine
        # refuses inline ones: offline/aws/ec2.py), so those are what is read.
        mine = [_route(reader, r) for r in routes if reader.dep(r, "routeTableId", TABLE) is table]
        tables[table.name] = RouteTable(table.name, table.name, (local, *mine))
    return tables, main


def _security_groups(reader: _Reader) -> tuple[dict[str, SecurityGroup], list[SgRule]]:
    groups = {g.name: SecurityGroup(g.name, g.name) for g in reader.plan.of_type(GROUP)}
    rules = _rules(reader, reader.plan)
    for cluster in reader.plan.of_type(CLUSTER):
        sg = _cluster_group(cluster)
        groups[sg] = SecurityGroup(sg, sg)
        rules += [SgRule(f"{sg}:self-in", sg, False, "-1", None, None, None, sg, f"{sg}:self-in"),
                  SgRule(f"{sg}:egress", sg, True, "-1", None, None, ANYWHERE, None, f"{sg}:egress"),
                  SgRule(f"{sg}:self-out", sg, True, "-1", None, None, None, sg, f"{sg}:self-out")]
    return groups, rules


def _gateways(reader: _Reader) -> tuple[dict[str, Interface], dict[str, Gateway]]:
    """NAT gateways (with their interfaces: a NAT gateway has no security group) and internet gateways."""
    interfaces, gateways = {}, {}
    for nat in reader.plan.of_type(NAT):
        subnet = reader.dep(nat, "subnetId", SUBNET).name
        interfaces[_eni(nat)] = Interface(_eni(nat), (ip(reader.value(nat, "privateIp")),), subnet, (), True, "nat")
        public = nat.props.get("publicIp")
        gateways[nat.name] = Gateway(nat.name, "nat", _eni(nat), ip(public) if isinstance(public, str) and public
                                     else None)
    for igw in reader.plan.of_type(IGW):
        gateways[igw.name] = Gateway(igw.name, "igw")
    return interfaces, gateways


def _instances(reader: _Reader, interfaces: dict, subnets: dict, pools: dict, overlay: bool) -> dict[str, Node]:
    """Every instance's primary interface (into ``interfaces``); the worker nodes among them."""
    nodes = {}
    for inst in reader.plan.of_type(INSTANCE):
        name = inst.tags().get(NODE_TAG)
        subnet = reader.dep(inst, "subnetId", SUBNET).name
        address = ip(reader.value(inst, "privateIp"))
        interfaces[_eni(inst)] = Interface(_eni(inst), (address,), subnet,
                                           reader.groups_of(inst, "vpcSecurityGroupIds"),
                                           inst.props.get("sourceDestCheck", True) is not False, name or inst.name)
        if name is None:
            continue
        block = pools.get(name) or net(inst.tags().get(POD_CIDR_TAG))
        user_data = reader.value(inst, "userData")
        config = (nodeadm.node_config_of(user_data) if isinstance(user_data, str) else None) or {}
        dns = ((config.get("spec") or {}).get("kubelet") or {}).get("config", {}).get("clusterDNS")
        nodes[name] = Node(name, f"ip-{str(address).replace('.', '-')}", subnets[subnet].zone, address, _eni(inst),
                           block, block.network_address if overlay else None, tuple(ip(a) for a in dns) if dns else ())
    return nodes


def _control_plane(reader: _Reader, cluster: Resource, subnets: dict, interfaces: dict, used: set) -> ControlPlane:
    """The cluster's endpoint settings and its interfaces, one per subnet of ``vpcConfig.subnetIds`` (placed as
    offline/flows/extract.py places them), with the cluster security group and the additional ones."""
    vpc_config = mapping(reader.value(cluster, "vpcConfig"))
    member_of = (_cluster_group(cluster), *reader.groups_of(cluster, "vpcConfig"))
    cluster_subnets = sorted(r.name for r in reader.plan.deps(cluster, "vpcConfig") if r.type == SUBNET)
    placed = place_control_plane(cluster_subnets, member_of, subnets, interfaces, used)
    # EKS's defaults (CreateCluster resourcesVpcConfig): public endpoint on, to 0.0.0.0/0.
    public = vpc_config.get("endpointPublicAccess", True) is not False
    return ControlPlane(str(reader.value(cluster, "name")), bool(vpc_config.get("endpointPrivateAccess")),
                        tuple(net(c) for c in (vpc_config.get("publicAccessCidrs") or [ANYWHERE]) if public),
                        placed, member_of[0])
