"""Pure route planning: which tables carry pod routes, and how many routes a table holds.

Why the private route tables (one per zone) and only those:
the VPC router forwards a packet using the route table of the *subnet it leaves from*.
Pod-to-pod traffic between nodes, and control-plane-to-pod traffic (the EKS control
plane ENIs sit in the private subnets), leaves from a private subnet, so every private
table needs a route per node block. The public table does not: NAT gateways and load
balancers there only ever talk to node IPs (pods leave through the node with
natOutgoing/SNAT, and instance-target load balancers send to NodePorts on node IPs).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from ipaddress import IPv4Network

# AWS: "Routes per route table", quota code L-93826ACB: default 50, adjustable up to 1000.
ROUTE_QUOTA_CODE = "L-93826ACB"
DEFAULT_ROUTE_QUOTA = 50
MAX_ROUTE_QUOTA = 1000

# Every private table always holds the VPC's local route and the default route to its NAT gateway.
FIXED_ROUTES_PER_PRIVATE_TABLE = 2


def pod_routes_needed(encapsulation: str) -> bool:
    """With an overlay (vxlan/ipip) pod traffic travels node-to-node, so the VPC needs no pod routes."""
    return encapsulation == "none"


def routes_per_private_table(node_count: int, encapsulation: str) -> int:
    """Every route a private table will hold: local + default (NAT) + one per node when unencapsulated."""
    return FIXED_ROUTES_PER_PRIVATE_TABLE + (node_count if pod_routes_needed(encapsulation) else 0)


def route_key(table: str, block: IPv4Network) -> str:
    """Stable identity of one pod route: what AWS keys a route by, its table and destination
    (``us-east-1a-10.1.2.0/24``). Which node it points at is an input, so giving a block to another node
    (a node removed and another added with its index, a rename, two indices swapped, a replaced instance)
    updates the route in place (ReplaceRoute) instead of creating a second route for the same destination
    while the old one still holds it (RouteAlreadyExists: Pulumi deletes removed resources last)."""
    return f"{table}-{block}"


def legacy_route_key(node: str, table: str) -> str:
    """The key routes had before they were keyed by destination (``node2-us-east-1a``): their alias."""
    return f"{node}-{table}"


def pod_route_plan(blocks: Mapping[str, IPv4Network], tables: Iterable[str]) -> dict[str, tuple[str, str, IPv4Network]]:
    """route key -> (node, table, destination) for every node in every pod-route table."""
    tables = sorted(tables)
    return {route_key(t, blocks[node]): (node, t, blocks[node]) for node in sorted(blocks) for t in tables}
