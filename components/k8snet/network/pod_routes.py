"""PodRoutes: one VPC route per worker node per pod-route table, pointing the node's pod block at its ENI."""

from ipaddress import ip_network
from typing import Optional, TypedDict

import pulumi
import pulumi_aws as aws

from ..shared.args import checked
from . import routing


class PodRoutesArgs(TypedDict):
    node_pod_cidrs: dict[str, str]
    """Node name -> the node's pod block (10.1.N.0/24)."""
    node_eni_ids: dict[str, pulumi.Input[str]]
    """Node name -> the node's primary network interface id (the route target)."""
    route_table_ids: dict[str, pulumi.Input[str]]
    """Table key (a zone) -> route table id; every table pod traffic leaves through."""


class PodRoutes(pulumi.ComponentResource):
    """Standalone ``aws.ec2.Route`` resources (never inline routes, which would fight them), each named
    ``<name>-<table>-<destination>`` (``pod-routes-us-east-1a-10.1.2.0/24``), the key AWS gives a route:
    adding or removing a node touches only its own routes, and a block that moves to another node keeps its
    route and changes only its target (routing.route_key). Routes created when they were named after the
    node (``<name>-<node>-<table>``) are adopted through an alias, so existing stacks keep them.

    Which tables need them, and why, is explained in k8snet/network/routing.py.
    Outputs: route_ids (route key -> route id).
    """

    route_ids: dict[str, pulumi.Output[str]]
    """Route key (<node>-<table>) -> route id."""

    def __init__(self, name: str, args: PodRoutesArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = checked(args, PodRoutesArgs)
        missing = sorted(set(args["node_pod_cidrs"]) - set(args["node_eni_ids"]))
        if missing:
            raise ValueError(f"no network interface given for nodes {missing}")
        blocks = {node: ip_network(cidr) for node, cidr in args["node_pod_cidrs"].items()}
        super().__init__("k8snet:index:PodRoutes", name, None, opts)
        routes = {}
        for key, (node, table, block) in routing.pod_route_plan(blocks, args["route_table_ids"]).items():
            routes[key] = aws.ec2.Route(
                f"{name}-{key}",
                route_table_id=args["route_table_ids"][table],
                destination_cidr_block=str(block),
                network_interface_id=args["node_eni_ids"][node],
                # The name this route had while routes were named after their node (state before 2026-12):
                # with the node that owns the block today, the route is the same one, unchanged.
                opts=pulumi.ResourceOptions(parent=self, aliases=[
                    pulumi.Alias(name=f"{name}-{routing.legacy_route_key(node, table)}")]),
            )
        self.route_ids = {key: r.id for key, r in routes.items()}
        self.register_outputs({"routeIds": self.route_ids})
