"""The EC2 state the checks and the preview read, answered from moto's backend without the HTTP round trip.

A boto3 client asks moto the same questions through botocore: the client loads EC2's API model (1.3 MB of
JSON), moto loads it again to serialise its answer, and every call goes through XML both ways. That was
~0.4 s of a 2 s dev preview, and each call grows with the stack (DescribeInstances at hundreds of nodes).
``Ec2Reader`` answers the describe calls the checks make (instances, an instance's sourceDestCheck, route
tables, VPCs, subnets, security-group rules) with boto3's shapes, through moto's own backend methods and
filters; any other method, or one of these asked with more than filters (ids, paging), is a real boto3
client's, created on first use.
The answers hold only the fields the checks read: tests/test_ec2_reader.py holds every field they give equal to
the boto3 client's on the same state, and every check that takes ``ec2`` to the same answer through either.

Unlike moto's DescribeInstances (100 reservations a page by default), the answer is never paginated:
callers read ``NextToken`` anyway, as they must with a real client.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any


def _filters(filters: Iterable[dict]) -> dict[str, list[str]]:
    # The dict moto's EC2 responses build from the request's Filter.N parameters.
    return {f["Name"]: list(f.get("Values", [])) for f in filters}


def _bool(value: Any) -> bool | None:
    # moto keeps some flags as the strings it was given ("false" after ModifyInstanceAttribute); its
    # serialiser sends them as booleans.
    return value.lower() == "true" if isinstance(value, str) else value


def _drop_none(values: dict) -> dict:
    return {k: v for k, v in values.items() if v is not None}


def _filters_only(method: Callable) -> Callable:
    """A describe call the reader answers when it is asked with filters alone; asked with anything more (ids,
    paging), it is boto3's."""
    @functools.wraps(method)
    def call(self, Filters: Iterable[dict] = (), **other) -> dict:
        if other:
            return self.__getattr__(method.__name__)(**({"Filters": list(Filters)} if Filters else {}), **other)
        return method(self, Filters)
    return call


class Ec2Reader:
    def __init__(self, backend: Any, client: Callable[[], Any]):
        self._ec2 = backend  # moto's EC2Backend for one account and region
        self._make_client = client
        self._client = None
        self.meta = SimpleNamespace(region_name=backend.region_name)

    def __getattr__(self, name: str):
        if self._client is None:
            self._client = self._make_client()
        return getattr(self._client, name)

    def _tags(self, resource_id: str) -> list[dict[str, str]]:
        return [{"Key": k, "Value": v} for k, v in self._ec2.tags.get(resource_id, {}).items()]

    @_filters_only
    def describe_instances(self, Filters: Iterable[dict] = ()) -> dict:
        return {"Reservations": [{"ReservationId": r.id, "OwnerId": r.owner_id,
                                  "Instances": [self._instance(i) for i in r.instances]}
                                 for r in self._ec2.describe_instances(filters=_filters(Filters))]}

    def _instance(self, inst) -> dict:
        return _drop_none({
            "InstanceId": inst.id,
            "InstanceType": inst.instance_type,
            "ImageId": inst.image_id,
            "State": {"Code": inst.state_code, "Name": inst.state},
            "Placement": {"AvailabilityZone": inst.placement.zone},
            "VpcId": inst.vpc_id,
            "SubnetId": inst.subnet_id,
            "PrivateIpAddress": inst.private_ip_address,
            "SourceDestCheck": _bool(inst.source_dest_check),
            "SecurityGroups": [{"GroupId": g.id, "GroupName": g.name} for g in inst.security_groups],
            "NetworkInterfaces": [self._interface(n) for n in inst.network_interfaces],
            "Tags": self._tags(inst.id) or None,
        })

    def _interface(self, eni) -> dict:
        return _drop_none({
            "NetworkInterfaceId": eni.id,
            "SubnetId": eni.subnet.id,
            "VpcId": eni.subnet.vpc_id,
            "PrivateIpAddress": eni.private_ip_address,
            "SourceDestCheck": _bool(eni.source_dest_check),
            "Attachment": {"DeviceIndex": eni.device_index} if eni.device_index is not None else None,
            "Groups": [{"GroupId": g.id, "GroupName": g.name} for g in eni.group_set],
        })

    def describe_instance_attribute(self, InstanceId: str, Attribute: str, **other) -> dict:
        if Attribute != "sourceDestCheck" or other:  # the one attribute the checks read
            return self.__getattr__("describe_instance_attribute")(InstanceId=InstanceId, Attribute=Attribute, **other)
        instance, value = self._ec2.describe_instance_attribute(InstanceId, Attribute)
        return {"InstanceId": instance.id, "SourceDestCheck": {"Value": _bool(value)}}

    @_filters_only
    def describe_route_tables(self, Filters: Iterable[dict] = ()) -> dict:
        return {"RouteTables": [{
            "RouteTableId": t.id,
            "VpcId": t.vpc_id,
            "OwnerId": t.owner_id,
            "Routes": [_route(r) for r in t.routes],
            "Associations": t.associations,
            "Tags": self._tags(t.id),
        } for t in self._ec2.describe_route_tables(filters=_filters(Filters))]}

    @_filters_only
    def describe_security_group_rules(self, Filters: Iterable[dict] = ()) -> dict:
        return {"SecurityGroupRules": [_drop_none({
            "SecurityGroupRuleId": r.id, "GroupId": r.group_id, "IsEgress": r.is_egress, "IpProtocol": r.ip_protocol, "FromPort": r.from_port, "ToPort": r.to_port,
            "CidrIpv4": r.cidr_ipv4, "CidrIpv6": r.cidr_ipv6, "PrefixListId": r.prefix_list_id,
            "ReferencedGroupInfo": _referenced(r.referenced_group_info), "Description": r.description,
            "Tags": self._tags(r.id),
        }) for r in self._ec2.describe_security_group_rules([], _filters(Filters))]}

    @_filters_only
    def describe_vpcs(self, Filters: Iterable[dict] = ()) -> dict:
        return {"Vpcs": [_drop_none({"VpcId": v.id, "CidrBlock": v.cidr_block, "IsDefault": _bool(v.is_default),
                                     "Tags": self._tags(v.id) or None})
                         for v in self._ec2.describe_vpcs(filters=_filters(Filters))]}

    @_filters_only
    def describe_subnets(self, Filters: Iterable[dict] = ()) -> dict:
        return {"Subnets": [_drop_none({"SubnetId": s.id, "VpcId": s.vpc_id, "CidrBlock": s.cidr_block,
                                        "AvailabilityZone": s.availability_zone,
                                        "MapPublicIpOnLaunch": _bool(s.map_public_ip_on_launch),
                                        "Tags": self._tags(s.id) or None})
                            for s in self._ec2.describe_subnets(filters=_filters(Filters))]}


def _referenced(group: dict | None) -> dict | None:
    # The members of EC2's ReferencedGroupInfo shape (moto keeps an OwnerId beside them that it never sends).
    keys = ("GroupId", "PeeringStatus", "UserId", "VpcId", "VpcPeeringConnectionId")
    return {k: group[k] for k in keys if k in group} if group else None


def _route(route) -> dict:
    # Every target a route can have: the checks and the flows read whichever is set.
    return _drop_none({
        "DestinationCidrBlock": route.destination_cidr_block,
        "DestinationIpv6CidrBlock": route.destination_ipv6_cidr_block,
        "DestinationPrefixListId": route.destination_prefix_list_id,
        "GatewayId": route.gateway_id,
        "InstanceId": route.instance_id,
        "NatGatewayId": route.nat_gateway_id,
        "EgressOnlyInternetGatewayId": route.egress_only_internet_gateway_id,
        "TransitGatewayId": route.transit_gateway_id,
        "NetworkInterfaceId": route.network_interface_id,
        "VpcPeeringConnectionId": route.vpc_peering_connection_id,
        "CarrierGatewayId": route.carrier_gateway_id,
        "Origin": route.origin,
        "State": route.state,
    })
