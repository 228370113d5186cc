"""Rules AWS enforces that moto 5.2.5 does not (see shared REFERENCE "moto differences").

Pure functions over plain values; each raises AwsRejection with AWS's error code.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from ipaddress import IPv4Network


class AwsRejection(Exception):
    """What AWS would answer with an error; the offline run stops on it like `pulumi up` would."""

    def __init__(self, code: str, message: str):
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


def parse_destination(cidr: str) -> IPv4Network:
    """AWS rejects malformed destinations (moto accepts them with an ENI target)."""
    try:
        net = ipaddress.ip_network(cidr, strict=True)
    except (TypeError, ValueError):
        raise AwsRejection("InvalidParameterValue", f"Value ({cidr}) for parameter destinationCidrBlock is invalid. "
                           "This is not a valid CIDR block.") from None
    if net.version != 4:
        raise AwsRejection("InvalidParameterValue", f"{cidr} is not an IPv4 CIDR block")
    return net


def check_route(
    destination: IPv4Network,
    existing: set[str],  # destinations already in the table, normalised (str of ip_network)
    vpc_cidrs: Iterable[str],
    subnet_cidrs: Iterable[str],
    target_kind: str,
    route_count: int,
    quota: int,
) -> None:
    """Check one CreateRoute against what the table already holds.

    - a destination already in the table: RouteAlreadyExists (moto overwrites ENI routes);
    - a destination equal to a VPC CIDR would replace the local route: AWS refuses (moto replaces
      the local route). A more specific destination inside the VPC is allowed only as AWS's
      "more specific routing": exactly a subnet's CIDR, targeting an interface/NAT/endpoint.
      Less specific destinations (0.0.0.0/0) are fine: the local route wins by longest prefix;
    - the table is full: RouteLimitExceeded (moto has no limit). ``route_count`` counts every
      route already in the table, the local route included.
    """
    for cidr in vpc_cidrs:
        vpc = ipaddress.ip_network(cidr)
        if destination == vpc:
            raise AwsRejection(
                "InvalidParameterValue",
                f"The destination CIDR block {destination} is the VPC CIDR; it would replace the local route.",
            )
        if destination.subnet_of(vpc):
            subnet_match = str(destination) in set(subnet_cidrs)
            if not (subnet_match and target_kind in ("networkInterface", "natGateway", "vpcEndpoint")):
                raise AwsRejection(
                    "InvalidParameterValue",
                    f"Route destination {destination} lies inside VPC CIDR {vpc}; only a whole subnet's CIDR "
                    "may be routed to an appliance.",
                )
    if str(destination) in existing:
        raise AwsRejection("RouteAlreadyExists", f"The route identified by {destination} already exists.")
    if route_count >= quota:
        raise AwsRejection(
            "RouteLimitExceeded",
            f"The maximum number of routes ({quota}) has been reached for this route table "
            "(quota L-93826ACB 'Routes per route table').",
        )
