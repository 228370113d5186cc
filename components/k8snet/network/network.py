"""Network: the VPC, per-zone public and private subnets, internet and NAT egress, route tables."""

from collections.abc import Mapping
from ipaddress import ip_network
from typing import NotRequired, Optional, TypedDict

import pulumi
import pulumi_aws as aws

from ..shared.args import checked
from ..shared import tags
from . import addressing


class NetworkArgs(TypedDict):
    cluster_name: str
    """Cluster the subnets are tagged for (kubernetes.io/cluster/<name>) and the Name tags' prefix."""
    vpc_cidr: str
    """VPC CIDR, /16 to /28; zone i gets private /24 number i+1 and the same slot in the upper half as public."""
    zones: list[str]
    """Availability-zone names, at least two; a zone's subnets depend only on its position in this list."""
    nat_gateways: NotRequired[str]
    """'perAz' (default: no cross-zone egress dependency) or 'single' (cheaper, in the first zone)."""
    tags: NotRequired[dict[str, str]]
    """Tags added to every resource."""


class Network(pulumi.ComponentResource):
    """A VPC laid out for a Kubernetes cluster whose pod routes live in the VPC route tables.

    Outputs (dicts are keyed by zone name, so identity never depends on list order):
      vpc_id, vpc_cidr, public_subnet_ids, private_subnet_ids, nat_gateway_ids,
      public_route_table_id, pod_route_table_ids (the private tables: every table pod
      traffic crosses, see k8snet/network/routing.py for why).
    """

    vpc_id: pulumi.Output[str]
    """The VPC's id."""
    vpc_cidr: str
    """The VPC's CIDR."""
    public_subnet_ids: dict[str, pulumi.Output[str]]
    """Zone -> public subnet id (NAT gateways, internet-facing load balancers)."""
    private_subnet_ids: dict[str, pulumi.Output[str]]
    """Zone -> private subnet id (nodes, control-plane ENIs, internal load balancers)."""
    nat_gateway_ids: dict[str, pulumi.Output[str]]
    """Zone -> NAT gateway id (one zone with natGateways 'single')."""
    public_route_table_id: pulumi.Output[str]
    """The public subnets' route table (default route to the internet gateway)."""
    pod_route_table_ids: dict[str, pulumi.Output[str]]
    """Zone -> private route table id: the tables that carry one route per node's pod block."""

    def __init__(self, name: str, args: NetworkArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = checked(args, NetworkArgs)
        nat_mode, zones = args.get("nat_gateways", "perAz"), list(args["zones"])
        if nat_mode not in ("single", "perAz"):
            raise ValueError(f"nat_gateways must be 'single' or 'perAz', got {nat_mode!r}")
        if len(zones) < 2:
            raise ValueError("Network needs at least two zones")
        vpc_cidr = ip_network(str(args["vpc_cidr"]))
        plan = addressing.subnet_plan(vpc_cidr, zones)
        super().__init__("k8snet:index:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cluster_name, extra_tags = args["cluster_name"], args.get("tags") or {}
        cluster_tag = tags.cluster_tag(cluster_name, "shared")

        def named(suffix: str, extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
            return tags.merge(extra_tags, {"Name": f"{cluster_name}-{suffix}"}, extra or {})

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=str(vpc_cidr),
            enable_dns_support=True,  # EKS requires both for private endpoint access and node registration
            enable_dns_hostnames=True,
            tags=named("vpc"),
            opts=child,
        )
        igw = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, tags=named("igw"), opts=child)

        public_rt = aws.ec2.RouteTable(f"{name}-public", vpc_id=vpc.id, tags=named("public"), opts=child)
        aws.ec2.Route(
            f"{name}-public-default",
            route_table_id=public_rt.id,
            destination_cidr_block="0.0.0.0/0",
            gateway_id=igw.id,
            opts=child,
        )

        public_subnets: dict[str, aws.ec2.Subnet] = {}
        private_subnets: dict[str, aws.ec2.Subnet] = {}
        for zs in plan:
            public_subnets[zs.zone] = aws.ec2.Subnet(
                f"{name}-public-{zs.zone}",
                vpc_id=vpc.id,
                cidr_block=str(zs.public),
                availability_zone=zs.zone,
                map_public_ip_on_launch=False,  # only NAT gateways and load balancers live here
                tags=named(f"public-{zs.zone}", {**cluster_tag, tags.ELB_ROLE: "1"}),
                opts=child,
            )
            private_subnets[zs.zone] = aws.ec2.Subnet(
                f"{name}-private-{zs.zone}",
                vpc_id=vpc.id,
                cidr_block=str(zs.private),
                availability_zone=zs.zone,
                tags=named(f"private-{zs.zone}", {**cluster_tag, tags.INTERNAL_ELB_ROLE: "1"}),
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{zs.zone}",
                subnet_id=public_subnets[zs.zone].id,
                route_table_id=public_rt.id,
                opts=child,
            )

        # A single NAT gateway lives in the first zone; switching to perAz keeps it (same name).
        nat_zones = zones if nat_mode == "perAz" else [zones[0]]
        nats: dict[str, aws.ec2.NatGateway] = {}
        for zone in nat_zones:
            eip = aws.ec2.Eip(f"{name}-nat-{zone}", domain="vpc", tags=named(f"nat-{zone}"), opts=child)
            nats[zone] = aws.ec2.NatGateway(
                f"{name}-nat-{zone}",
                allocation_id=eip.id,
                subnet_id=public_subnets[zone].id,
                connectivity_type="public",
                tags=named(f"nat-{zone}"),
                # A public NAT gateway needs the internet gateway attached to route anywhere.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
            )

        private_rts: dict[str, aws.ec2.RouteTable] = {}
        for zone in zones:
            rt = aws.ec2.RouteTable(f"{name}-private-{zone}", vpc_id=vpc.id, tags=named(f"private-{zone}"), opts=child)
            private_rts[zone] = rt
            aws.ec2.Route(
                f"{name}-private-{zone}-default",
                route_table_id=rt.id,
                destination_cidr_block="0.0.0.0/0",
                nat_gateway_id=nats.get(zone, nats[nat_zones[0]]).id,
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{zone}",
                subnet_id=private_subnets[zone].id,
                route_table_id=rt.id,
                opts=child,
            )

        self.vpc_id = vpc.id
        self.vpc_cidr = str(vpc_cidr)
        self.public_subnet_ids = {z: s.id for z, s in public_subnets.items()}
        self.private_subnet_ids = {z: s.id for z, s in private_subnets.items()}
        self.nat_gateway_ids = {z: n.id for z, n in nats.items()}
        self.public_route_table_id = public_rt.id
        self.pod_route_table_ids = {z: rt.id for z, rt in private_rts.items()}
        self.register_outputs(
            {
                "vpcId": self.vpc_id,
                "vpcCidr": self.vpc_cidr,
                "publicSubnetIds": self.public_subnet_ids,
                "privateSubnetIds": self.private_subnet_ids,
                "natGatewayIds": self.nat_gateway_ids,
                "publicRouteTableId": self.public_route_table_id,
                "podRouteTableIds": self.pod_route_table_ids,
            }
        )
