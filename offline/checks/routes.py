"""Cross-object checks over what a run left in moto: things AWS accepts but that would not work.

AWS happily creates a route to an interface whose instance still checks source/destination
(the packets are dropped), or a route for the wrong node's block. These checks read the
real moto state back, so they judge the result, not the program's intent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

NODE_TAG = "k8snet/node"
POD_CIDR_TAG = "k8snet/pod-cidr"


@dataclass(frozen=True)
class NodeView:
    name: str
    instance_id: str
    zone: str
    private_ip: str
    pod_cidr: str
    eni_id: str
    source_dest_check: bool


def _tags(items) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or []}


def _reservations(ec2, **request) -> list[dict]:
    """Every page of DescribeInstances (AWS pages it; moto 100 reservations at a time)."""
    page = ec2.describe_instances(**request)
    found = list(page["Reservations"])
    while page.get("NextToken"):
        page = ec2.describe_instances(**request, NextToken=page["NextToken"])
        found += page["Reservations"]
    return found


def nodes(ec2) -> dict[str, NodeView]:
    """Worker nodes as AWS reports them (live instances carrying the k8snet/node tag; a terminated one,
    e.g. one an update replaced, is no node)."""
    found = {}
    filters = [{"Name": "tag-key", "Values": [NODE_TAG]},
               {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}]
    for reservation in _reservations(ec2, Filters=filters):
        for inst in reservation["Instances"]:
            tags = _tags(inst.get("Tags"))
            eni = next(n for n in inst["NetworkInterfaces"] if n["Attachment"]["DeviceIndex"] == 0)
            check = ec2.describe_instance_attribute(InstanceId=inst["InstanceId"], Attribute="sourceDestCheck")
            found[tags[NODE_TAG]] = NodeView(
                name=tags[NODE_TAG],
                instance_id=inst["InstanceId"],
                zone=inst["Placement"]["AvailabilityZone"],
                private_ip=inst["PrivateIpAddress"],
                pod_cidr=tags.get(POD_CIDR_TAG, ""),
                eni_id=eni["NetworkInterfaceId"],
                # Either copy still checking drops routed traffic (moto keeps the two apart).
                source_dest_check=check["SourceDestCheck"]["Value"] or eni["SourceDestCheck"],
            )
    return dict(sorted(found.items()))


def pod_route_tables(ec2) -> dict[str, dict]:
    """Route tables holding at least one route to a network interface, by table id."""
    tables = ec2.describe_route_tables()["RouteTables"]
    return {t["RouteTableId"]: t for t in tables if any(r.get("NetworkInterfaceId") for r in t["Routes"])}


def table_name(table: dict) -> str:
    return _tags(table.get("Tags")).get("Name", table["RouteTableId"])


def routed_by(node: NodeView, tables: dict[str, dict]) -> list[str]:
    """Ids of the tables that send the node's pod block to the node's own interface."""
    return routed_by_each([node], tables)[node.name]


def routed_by_each(nodes: Iterable[NodeView], tables: dict[str, dict]) -> dict[str, list[str]]:
    """``routed_by`` for many nodes, reading every route once (not once per node)."""
    holding: dict[tuple, set[str]] = {}  # (destination, interface) -> tables with that route
    for tid, t in tables.items():
        for r in t["Routes"]:
            holding.setdefault((r.get("DestinationCidrBlock"), r.get("NetworkInterfaceId")), set()).add(tid)
    return {n.name: sorted(holding.get((n.pod_cidr, n.eni_id), ())) for n in nodes}


def check_pod_routes(ec2) -> list[str]:
    """Every pod route goes to the node owning that block, whose src/dst check is off,
    and every node's block is routed in every table that carries pod routes."""
    problems = []
    by_eni = {n.eni_id: n for n in nodes(ec2).values()}
    tables = pod_route_tables(ec2)
    for tid, table in sorted(tables.items()):
        for r in table["Routes"]:
            eni = r.get("NetworkInterfaceId")
            if not eni:
                continue
            dest = r.get("DestinationCidrBlock")
            node = by_eni.get(eni)
            if node is None:
                problems.append(f"{table_name(table)}: route {dest} -> {eni}, which is no worker node's interface")
                continue
            if node.pod_cidr and dest != node.pod_cidr:
                problems.append(f"{table_name(table)}: route {dest} -> {node.name}, but {node.name} owns {node.pod_cidr}")
            if node.source_dest_check:
                problems.append(f"{node.name}: source/dest check is on, so AWS drops the routed pod traffic for {dest}")
    if tables:
        routed = routed_by_each(by_eni.values(), tables)
        for node in by_eni.values():
            missing = sorted(set(tables) - set(routed[node.name]))
            if missing:
                names = ", ".join(table_name(tables[t]) for t in missing)
                problems.append(f"{node.name}: pod block {node.pod_cidr} is not routed to it in {names}")
    return problems
