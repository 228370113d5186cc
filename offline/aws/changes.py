"""What an update does to a resource AWS already holds: which input changes force a replacement, and the
in-place updates and deletions of the modelled EC2 types, applied to moto (offline.harness.lifecycle).

Replacement-forcing inputs are the ForceNew arguments of terraform-provider-aws, which pulumi-aws 7.x
bridges (aws_route, aws_instance, aws_subnet, aws_vpc, aws_security_group, aws_vpc_security_group_*_rule,
aws_nat_gateway, aws_route_table(_association) schemas), for the inputs this program sends. A route's target
changes in place (ReplaceRoute); its table or destination replaces it. Types not listed update in place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .context import AwsContext

REPLACE_ON = {
    "aws:ec2/vpc:Vpc": ("cidrBlock",),
    "aws:ec2/subnet:Subnet": ("vpcId", "cidrBlock", "availabilityZone", "availabilityZoneId"),
    "aws:ec2/eip:Eip": ("domain",),
    "aws:ec2/natGateway:NatGateway": ("subnetId", "allocationId", "connectivityType"),
    "aws:ec2/routeTable:RouteTable": ("vpcId",),
    "aws:ec2/route:Route": ("routeTableId", "destinationCidrBlock", "destinationIpv6CidrBlock",
                            "destinationPrefixListId"),
    "aws:ec2/routeTableAssociation:RouteTableAssociation": ("subnetId", "gatewayId"),
    "aws:ec2/securityGroup:SecurityGroup": ("name", "namePrefix", "description", "vpcId"),
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": ("securityGroupId",),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": ("securityGroupId",),
    # user_data updates in place (stop/start) unless user_data_replace_on_change, which we do not set.
    "aws:ec2/instance:Instance": ("ami", "availabilityZone", "subnetId", "privateIp", "keyName",
                                  "associatePublicIpAddress"),
    "aws:iam/role:Role": ("name", "namePrefix", "path"),
    "aws:eks/cluster:Cluster": ("name",),
}

_TARGETS = {"gatewayId": "gateway_id", "natGatewayId": "nat_gateway_id", "networkInterfaceId": "interface_id",
            "transitGatewayId": "transit_gateway_id", "vpcPeeringConnectionId": "vpc_peering_connection_id"}


def route_update(ctx: AwsContext, resource_id: str, old: dict, new: dict) -> dict:
    """ReplaceRoute: the same (table, destination), a new target."""
    target = {_TARGETS[k]: new[k] for k in _TARGETS if new.get(k)}
    ctx.ec2.replace_route(old["routeTableId"], old["destinationCidrBlock"], **target)
    return {**old, **new, "destinationCidrBlock": old["destinationCidrBlock"]}


def instance_update(ctx: AwsContext, resource_id: str, old: dict, new: dict) -> dict:
    if new.get("sourceDestCheck", True) != old.get("sourceDestCheck", True):
        inst = ctx.ec2.get_instance(resource_id)
        inst.source_dest_check = str(bool(new.get("sourceDestCheck", True))).lower()
        ctx.ec2.modify_network_interface_attribute(old["primaryNetworkInterfaceId"], [],
                                                   source_dest_check=bool(new.get("sourceDestCheck", True)))
    if new.get("tags") != old.get("tags"):
        ctx.ec2.create_tags([resource_id], dict(new.get("tags") or {}))
    return {**old, **new}


def route_delete(ctx: AwsContext, resource_id: str, state: dict) -> None:
    ctx.ec2.delete_route(state["routeTableId"], state["destinationCidrBlock"])


def instance_delete(ctx: AwsContext, resource_id: str, state: dict) -> None:
    ctx.ec2.terminate_instances([resource_id])


def _rule_delete(direction: str):
    def delete(ctx: AwsContext, resource_id: str, state: dict) -> None:
        revoke = getattr(ctx.ec2, f"revoke_security_group_{direction}")
        revoke(state["securityGroupId"], "-1", None, None, [], security_rule_ids=[resource_id])

    return delete


UPDATES = {"aws:ec2/route:Route": route_update, "aws:ec2/instance:Instance": instance_update}
DELETES = {
    "aws:ec2/route:Route": route_delete,
    "aws:ec2/instance:Instance": instance_delete,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _rule_delete("ingress"),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _rule_delete("egress"),
}
