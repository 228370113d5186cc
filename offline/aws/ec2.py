"""EC2 resources created for real in moto's in-process EC2 backend.

Each handler takes the resource's Pulumi inputs (camelCase) and returns (id, state) with
the attributes the pulumi-aws provider would report. Handlers call moto's backend models
directly instead of going through boto3: the same validation in moto's models, a
thousandth of the cost (no HTTP/XML round trip). Tests read the result back with boto3.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from moto.ec2.models.instance_types import INSTANCE_TYPES

from .rules import AwsRejection, check_route, parse_destination

if TYPE_CHECKING:
    from .context import AwsContext


def _tag(ctx: AwsContext, resource_id: str, inputs: dict) -> dict:
    tags = dict(inputs.get("tags") or {})
    if tags:
        ctx.ec2.create_tags([resource_id], tags)
    return {"tags": tags, "tagsAll": tags}


def _arn(ctx: AwsContext, kind: str, resource_id: str) -> str:
    return ctx.arn("ec2", f"{kind}/{resource_id}")


def vpc(ctx: AwsContext, name: str, inputs: dict) -> tuple[str, dict]:
    v = ctx.ec2.create_vpc(inputs["cidrBlock"], instance_tenancy=inputs.get("instanceTenancy", "default"))
    dns_support = inputs.get("enableDnsSupport", True)
    dns_hostnames = inputs.get("enableDnsHostnames", False)
    ctx.ec2.modify_vpc_attribute(v.id, "enable_dns_support", str(dns_support).lower())
    ctx.ec2.modify_vpc_attribute(v.id, "enable_dns_hostnames", str(dns_hostnames).lower())
    main_rt = next(rt for rt in ctx.ec2.route_tables.values() if rt.vpc_id == v.id)
    default_sg = next(sg for sg in ctx.ec2.groups[v.id].values() if sg.name == "default")
    return v.id, {
        **inputs,
        "arn": _arn(ctx, "vpc", v.id),
        "cidrBlock": v.cidr_block,
        "enableDnsSupport": dns_support,
        "enableDnsHostnames": dns_hostnames,
        "instanceTenancy": v.instance_tenancy,
        "mainRouteTableId": main_rt.id,
        "defaultRouteTableId": main_rt.id,
        "defaultSecurityGroupId": default_sg.id,
        "ownerId": ctx.account_id,
        **_tag(ctx, v.id, inputs),
    }


def subnet(ctx: AwsContext, name: str, inputs: dict) -> tuple[str, dict]:
    s = ctx.ec2.create_subnet(inputs["vpcId"], inputs["cidrBlock"], availability_zone=inputs.get("availabilityZone"))
    if inputs.get("mapPublicIpOnLaunch"):
        ctx.ec2.modify_subnet_attribute(s.id, "map_public_ip_on_launch", "true")
    return s.id, {
        **inputs,
        "arn": _arn(ctx, "subnet", s.id),
        "availabilityZone": s.availability_zone,
        "availabilityZoneId": s.availability_zone_id,
        "mapPublicIpOnLaunch": bool(inputs.get("mapPublicIpOnLaunch", False)),
        "ownerId": ctx.account_id,
        **_tag(ctx, s.id, inputs),
    }


def internet_gateway(ctx: AwsContext, name: str, inputs: dict) -> tuple[str, dict]:
    igw = ctx.ec2.create_internet_gateway()
    if inputs.get("vpcId"):
        ctx.ec2.attach_internet_gateway(igw.id, inputs["vpcId"])
    return igw.id, {**inputs, "arn": _arn(ctx, "internet-gateway", igw.id), "ownerId": ctx.account_id, **_tag(ctx, igw.id, inputs)}


def eip(ctx: AwsContext, name: str, inputs: dict) -> tuple[str, dict]:
    address = ctx.ec2.allocate_address(inputs.get("domain", "vpc"))
    return address.allocation_id, {
        **inputs,
        "allocationId": address.allocation_id,
        "publicIp": address.public_ip,
        "domain": address.domain,
        "arn": _arn(ctx, "elastic-ip", address.allocation_id),
        **_tag(ctx, address.allocation_id, inputs),
    }


def nat_gateway(ctx: AwsContext, name: str, inputs: dict) -> tuple[str, dict]:
    connectivity = inputs.get("connectivityType", "public")
    sn = ctx.ec2.get_subnet(inputs["subnetId"])
    if connectivity == "public":
        # AWS refuses a public NAT gateway in a VPC with no internet gateway (moto does not check).
        attached = any(igw.vpc and igw.vpc.id == sn.vpc_id for igw in ctx.ec2.internet_gateways.values())
        if not attached:
            raise AwsRejection("Gateway.NotAttached", f"Network {sn.vpc_id} has no Internet gateway attached")
        if not inputs.get("allocationId"):
            raise AwsRejection("MissingParameter", "A public NAT gateway needs an Elastic IP allocationId")
        ctx.ec2.describe_addresses(allocation_ids=[inputs["allocationId"]])  # raises if unknown
    nat = ctx.ec2.create_nat_gateway(inputs["subnetId"], inputs.get("allocationId"), connectivity_type=connectivity)
    allocation = inputs.get("allocationId")
    public_ip = ctx.ec2.describe_addresses(allocation_ids=[allocation])[0].public_ip if allocation else ""
    return nat.id, {
        **inputs,
        "connectivityType": connectivity,
        "privateIp": nat.private_ip,
        "publicIp": public_ip,
        "networkInterfaceId": nat._eni.id,
        **_tag(ctx, nat.id, inputs),
    }


def route_table(ctx: AwsContext, name: str, inputs: dict) -> tuple[str, dict]:
    if inputs.get("routes"):
        # Inline routes and standalone aws.ec2.Route resources fight over the same table.
        raise AwsRejection("Unsupported", "inline routes on a RouteTable are not modelled; use aws.ec2.Route")
    rt = ctx.ec2.create_route_table(inputs["vpcId"])
    return rt.id, {
        **inputs,
        "arn": _arn(ctx, "route-table", rt.id),
        "ownerId": ctx.account_id,
        "routes": [],
        **_tag(ctx, rt.id, inputs),
    }


_ROUTE_TARGETS = {
    "gatewayId": ("gateway_id", "gateway"),
    "natGatewayId": ("nat_gateway_id", "natGateway"),
    "networkInterfaceId": ("interface_id", "networkInterface"),
    "vpcEndpointId": ("vpc_endpoint_id", "vpcEndpoint"),
    "transitGatewayId": ("transit_gateway_id", "transitGateway"),
    "vpcPeeringConnectionId": ("vpc_peering_connection_id", "vpcPeering"),
}


def route(ctx: AwsContext, name: str, inputs: dict) -> tuple[str, dict]:
    targets = {k: inputs[k] for k in _ROUTE_TARGETS if inputs.get(k)}
    if len(targets) != 1:
        raise AwsRejection("InvalidParameterCombination", f"a route needs exactly one target, got {sorted(targets) or 'none'}")
    (target_key, target_id), = targets.items()
    kwarg, kind = _ROUTE_TARGETS[target_key]
    destination = parse_destination(inputs.get("destinationCidrBlock", ""))
    table = ctx.ec2.get_route_table(inputs["routeTableId"])
    vpc_obj = ctx.ec2.get_vpc(table.vpc_id)
    vpc_cidrs = [a["cidr_block"] for a in vpc_obj.cidr_block_association_set
                 if a["cidr_block_state"]["state"] == "associated"]
    subnet_cidrs = [s.cidr_block for s in ctx.ec2.describe_subnets(filters={"vpc-id": [table.vpc_id]})]
    check_route(
        destination,
        {str(r.destination_cidr_block) for r in table.routes if r.destination_cidr_block},
        vpc_cidrs,
        subnet_cidrs,
        kind,
        route_count=len(table.routes),
        quota=ctx.route_table_quota,
    )
    r = ctx.ec2.create_route(table.id, str(destination), **{kwarg: target_id})
    return r.id, {**inputs, "destinationCidrBlock": str(destination), "origin": "CreateRoute", "state": "active"}


def route_table_association(ctx: AwsContext, name: str, inputs: dict) -> tuple[str, dict]:
    subnet_id = inputs.get("subnetId")
    if subnet_id:
        # AWS: a subnet has one route table (moto silently keeps the first association).
        for rt in ctx.ec2.describe_route_tables(filters={"association.subnet-id": [subnet_id]}):
            raise AwsRejection("Resource.AlreadyAssociated", f"the subnet {subnet_id} is already associated with {rt.id}")
    assoc = ctx.ec2.associate_route_table(inputs["routeTableId"], gateway_id=inputs.get("gatewayId"), subnet_id=subnet_id)
    return assoc, dict(inputs)


def security_group(ctx: AwsContext, name: str, inputs: dict) -> tuple[str, dict]:
    # Named by the provider when only namePrefix (or nothing) is given, and the name and description
    # checked against EC2's rules, before any handler runs (constraints.py).
    group_name = inputs["name"]
    description = inputs.get("description", "Managed by Pulumi")
    sg = ctx.ec2.create_security_group(group_name, description, vpc_id=inputs.get("vpcId"))
    # AWS adds an allow-all egress rule to a new group; the provider revokes it (rules are explicit).
    default_egress = [rule.id for rule in sg.egress_rules]
    if default_egress:
        ctx.ec2.revoke_security_group_egress(sg.id, "-1", None, None, [], security_rule_ids=default_egress,
                                             vpc_id=sg.vpc_id)
    return sg.id, {
        **inputs,
        "name": group_name,
        "description": description,
        "arn": _arn(ctx, "security-group", sg.id),
        "ownerId": ctx.account_id,
        "ingress": [],
        "egress": [],
        **_tag(ctx, sg.id, inputs),
    }


def _sg_rule(direction: str):
    def create(ctx: AwsContext, name: str, inputs: dict) -> tuple[str, dict]:
        protocol = str(inputs["ipProtocol"])
        # Ports exist for TCP/UDP (and ICMP type/code); any other protocol allows all its traffic.
        ported = protocol.lower() in ("tcp", "udp", "icmp", "icmpv6", "6", "17", "1", "58")
        if ported and ("fromPort" not in inputs or "toPort" not in inputs):
            raise AwsRejection("InvalidParameterValue", f"protocol {protocol} needs fromPort and toPort")
        ports = (str(int(inputs["fromPort"])), str(int(inputs["toPort"]))) if ported else ("-1", "-1")
        ip_ranges = [{"CidrIp": inputs["cidrIpv4"]}] if inputs.get("cidrIpv4") else []
        groups = [{"GroupId": inputs["referencedSecurityGroupId"]}] if inputs.get("referencedSecurityGroupId") else []
        if len(ip_ranges) + len(groups) + bool(inputs.get("prefixListId")) + bool(inputs.get("cidrIpv6")) != 1:
            raise AwsRejection("InvalidParameterCombination", "a rule needs exactly one of cidrIpv4, cidrIpv6, "
                               "prefixListId, referencedSecurityGroupId")
        authorize = getattr(ctx.ec2, f"authorize_security_group_{direction}")
        rules, _ = authorize(inputs["securityGroupId"], protocol, *ports, ip_ranges, source_groups=groups)
        rule_id = rules[0].id
        return rule_id, {
            **inputs,
            "securityGroupRuleId": rule_id,
            "arn": _arn(ctx, "security-group-rule", rule_id),
        }

    return create


def _volume_size(inputs: dict) -> str | None:
    size = (inputs.get("rootBlockDevice") or {}).get("volumeSize")
    return None if size is None else str(int(size))


def instance(ctx: AwsContext, name: str, inputs: dict) -> tuple[str, dict]:
    image_id = inputs.get("ami")
    itype = inputs.get("instanceType")
    images = ctx.ec2.describe_images(ami_ids=[image_id])  # InvalidAMIID.NotFound when unknown
    arch = images[0].architecture or "x86_64"
    # moto can validate types too, but scans every offering per launch; one dict lookup does here.
    if itype not in INSTANCE_TYPES:
        raise AwsRejection("InvalidParameterValue", f"Invalid value '{itype}' for InstanceType.")
    supported = INSTANCE_TYPES[itype].get("ProcessorInfo", {}).get("SupportedArchitectures", [])
    if supported and arch not in supported:
        raise AwsRejection("InvalidParameterValue", f"The architecture '{'/'.join(supported)}' of the specified "
                           f"instance type does not match the architecture '{arch}' of the specified AMI.")
    subnet_obj = ctx.ec2.get_subnet(inputs["subnetId"])
    sg_ids = list(inputs.get("vpcSecurityGroupIds") or [])
    for sg_id in sg_ids:
        sg = ctx.ec2.get_security_group_from_id(sg_id)
        if sg is not None and sg.vpc_id != subnet_obj.vpc_id:
            raise AwsRejection("InvalidParameter", f"Security group {sg_id} and subnet {subnet_obj.id} belong to different networks.")
    profile = inputs.get("iamInstanceProfile")
    if profile:
        ctx.require_instance_profile(profile)
    meta = inputs.get("metadataOptions") or {}
    root = inputs.get("rootBlockDevice") or {}
    mappings = [{
        "DeviceName": "/dev/xvda",
        "Ebs": {
            "VolumeSize": _volume_size(inputs) or "20",
            "VolumeType": root.get("volumeType", "gp3"),
            "Encrypted": str(bool(root.get("encrypted", False))).lower(),
            "DeleteOnTermination": str(bool(root.get("deleteOnTermination", True))).lower(),
        },
    }]
    reservation = ctx.ec2.run_instances(
        # The provider sends user data base64-encoded, and EC2 returns it so.
        image_id, 1, base64.b64encode(inputs["userData"].encode()).decode() if inputs.get("userData") else None, [],
        instance_type=itype,
        # Only gates moto's scan of ~1300 offerings per launch (type checked above already).
        is_instance_type_default=True,
        region_name=ctx.region,
        subnet_id=subnet_obj.id,
        security_group_ids=sg_ids,
        nics=[],
        associate_public_ip=inputs.get("associatePublicIpAddress"),
        tags={"instance": dict(inputs.get("tags") or {})},
        metadata_options={
            "HttpTokens": meta.get("httpTokens", "optional"),
            "HttpEndpoint": meta.get("httpEndpoint", "enabled"),
            "HttpPutResponseHopLimit": str(int(meta.get("httpPutResponseHopLimit", 1))),
        },
        block_device_mappings=mappings,
        client_token=name,
    )
    inst = reservation.instances[0]
    eni = inst.nics[0]
    source_dest_check = inputs.get("sourceDestCheck", True)
    if not source_dest_check:
        # On AWS the instance attribute *is* the primary ENI's attribute; moto keeps two copies.
        inst.source_dest_check = "false"  # what moto's modify_instance_attribute sets, without its lookup
        ctx.ec2.modify_network_interface_attribute(eni.id, [], source_dest_check=False)
    volume_id = next((m.volume_id for m in inst.block_device_mapping.values()), "")
    return inst.id, {
        **inputs,
        "arn": _arn(ctx, "instance", inst.id),
        "availabilityZone": subnet_obj.availability_zone,
        "privateIp": inst.private_ip,
        "privateDns": f"ip-{inst.private_ip.replace('.', '-')}.{ctx.private_dns_suffix}",
        "primaryNetworkInterfaceId": eni.id,
        "publicIp": "",
        "sourceDestCheck": bool(source_dest_check),
        "instanceState": "running",
        "rootBlockDevice": {**root, "volumeId": volume_id, "deviceName": "/dev/xvda"},
    }


HANDLERS = {
    "aws:ec2/vpc:Vpc": vpc,
    "aws:ec2/subnet:Subnet": subnet,
    "aws:ec2/internetGateway:InternetGateway": internet_gateway,
    "aws:ec2/eip:Eip": eip,
    "aws:ec2/natGateway:NatGateway": nat_gateway,
    "aws:ec2/routeTable:RouteTable": route_table,
    "aws:ec2/route:Route": route,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": route_table_association,
    "aws:ec2/securityGroup:SecurityGroup": security_group,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _sg_rule("ingress"),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _sg_rule("egress"),
    "aws:ec2/instance:Instance": instance,
}

