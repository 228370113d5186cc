"""The VPC's pod routes over the plan (offline: offline/checks/routes.py reads the same from the simulated EC2).

Identity comes from property dependencies, known during preview: a route's ``networkInterfaceId`` was computed
from the node instance it targets (its primary interface), its ``routeTableId`` from its table. Worker nodes
are the instances tagged ``k8snet/node``, their pod block is the ``k8snet/pod-cidr`` tag.
"""

from __future__ import annotations

from dataclasses import dataclass

from offline.checks.routes import NODE_TAG, POD_CIDR_TAG

from ..plan import Plan, Resource, known
from ..registry import MANDATORY, Violation, stack_rule

INSTANCE = "aws:ec2/instance:Instance"
ROUTE = "aws:ec2/route:Route"
TABLE = "aws:ec2/routeTable:RouteTable"
# AWS's default "Routes per route table" quota (Service Quotas L-93826ACB, adjustable to 1000).
DEFAULT_ROUTE_QUOTA = 50


@dataclass(frozen=True)
class PodRoute:
    route: Resource
    table: str  # the table's URN, or its id when the route names a table outside the stack
    table_name: str
    node: Resource | None  # the worker node the interface belongs to (None: not one of this stack's nodes)
    destination: str


def nodes(plan: Plan) -> dict[str, Resource]:
    """Worker node name -> its instance."""
    return {r.tags()[NODE_TAG]: r for r in plan.of_type(INSTANCE) if isinstance(r.tags().get(NODE_TAG), str)}


def node_name(instance: Resource) -> str:
    return instance.tags().get(NODE_TAG, instance.name)


# Where a route's destination is: an inline route (RouteTable.routes) and a Route resource name it differently.
_INLINE_KEYS = ("cidrBlock", "ipv6CidrBlock", "destinationPrefixListId")
_ROUTE_KEYS = ("destinationCidrBlock", "destinationIpv6CidrBlock", "destinationPrefixListId")


def _destination(route, keys: tuple[str, ...]) -> str | None:
    """The route's known destination, or None (unknown in a preview: then it counts as a route of its own)."""
    if not isinstance(route, dict):
        return None
    values = [v for k in keys if isinstance(v := route.get(k), str) and v]
    return values[0] if values else None


def _table(plan: Plan, route: Resource) -> tuple[str, str]:
    tables = plan.deps(route, "routeTableId", TABLE)
    if tables:
        return tables[0].urn, tables[0].tags().get("Name", tables[0].name)
    table_id = known(route.props.get("routeTableId"), f"route {route.name}: routeTableId")
    return str(table_id), str(table_id)


def pod_routes(plan: Plan) -> list[PodRoute]:
    """Routes to a network interface (the pod routes), with their table and target node."""
    out = []
    for route in plan.of_type(ROUTE):
        eni = route.props.get("networkInterfaceId")
        if eni is None:
            continue
        with plan.checking(f"route {route.name}"):
            instances = plan.deps(route, "networkInterfaceId", INSTANCE)
            node = instances[0] if len(instances) == 1 and NODE_TAG in instances[0].tags() else None
            table, table_name = _table(plan, route)
            destination = known(route.props.get("destinationCidrBlock"), "destinationCidrBlock")
            out.append(PodRoute(route, table, table_name, node, destination))
    return out


def routed_blocks(plan: Plan) -> dict[str, object]:
    """Node name -> the block the VPC routes to it (its pod-cidr tag when nothing is routed), as
    offline/checks/cni.routed_blocks gives it from EC2."""
    routes = pod_routes(plan)
    found: dict[str, object] = {}
    for name, instance in nodes(plan).items():
        dests = sorted({r.destination for r in routes if r.node is instance})
        found[name] = dests[0] if len(dests) == 1 else (instance.tags().get(POD_CIDR_TAG, "") if not dests else dests)
    return found


@stack_rule("pod-routes", "Every worker node's pod block is routed to that node's interface in every pod-route table",
            level=MANDATORY,
            why="Without encapsulation the VPC delivers pod traffic: a block routed to the wrong node, or not at "
                "all in one zone's table, drops those pods' packets. Mandatory: the stack would deploy but not work.")
def check_pod_routes(plan: Plan, config: dict):
    routes = pod_routes(plan)
    for r in routes:
        where = f"{r.table_name}: route {r.destination}"
        if r.node is None:
            yield Violation(f"{where} -> {r.route.props.get('networkInterfaceId')!r}, which is no worker node's "
                            "interface (its networkInterfaceId is not computed from a k8snet/node instance)", r.route.urn)
            continue
        name, block = node_name(r.node), r.node.tags().get(POD_CIDR_TAG)
        if block and r.destination != block:
            yield Violation(f"{where} -> {name}, but {name} owns {block}", r.route.urn)
        eni, primary = r.route.props.get("networkInterfaceId"), r.node.props.get("primaryNetworkInterfaceId")
        if isinstance(eni, str) and isinstance(primary, str) and eni != primary:
            yield Violation(f"{where} -> {eni}, not {name}'s primary interface {primary}", r.route.urn)
    tables = {r.table: r.table_name for r in routes}
    for name, instance in nodes(plan).items():
        routed = {r.table for r in routes if r.node is instance and r.destination == instance.tags().get(POD_CIDR_TAG)}
        missing = sorted(tables[t] for t in set(tables) - routed)
        if missing:
            yield Violation(f"{name}: pod block {instance.tags().get(POD_CIDR_TAG)} is not routed to it in "
                            f"{', '.join(missing)}", instance.urn)


@stack_rule("source-dest-check", "Every node a pod route targets has its source/destination check off",
            level=MANDATORY,
            why="EC2 drops packets to or from an address the interface does not own unless the check is off: "
                "every routed pod packet. Mandatory.")
def check_source_dest(plan: Plan, config: dict):
    for node in {id(r.node): r.node for r in pod_routes(plan) if r.node is not None}.values():
        with plan.checking(f"instance {node.name}: sourceDestCheck"):
            if known(node.props.get("sourceDestCheck", True), "sourceDestCheck") is not False:
                yield Violation(f"{node_name(node)}: source/dest check is on, so AWS drops the routed pod traffic for "
                                f"{node.tags().get(POD_CIDR_TAG)}", node.urn)


@stack_rule("route-table-quota", "No route table holds more routes than the account's quota",
            level=MANDATORY,
            config={"routesPerRouteTable": {"type": "integer", "minimum": 1, "default": DEFAULT_ROUTE_QUOTA,
                                            "description": "The account's 'Routes per route table' quota "
                                                           "(Service Quotas L-93826ACB)"}},
            why="AWS refuses the route past the quota (RouteLimitExceeded) halfway through an update: set "
                "routesPerRouteTable to your quota (policy config) and raise the quota or remove nodes. Mandatory.")
def check_route_quota(plan: Plan, config: dict):
    quota = int(config["routesPerRouteTable"])
    # Routes are counted by destination: a refreshed table's `routes` lists every non-local route AWS holds,
    # those of the separate Route resources too (terraform-provider-aws flattenRoutes skips only local,
    # propagated, VPC-endpoint and Lattice routes), so table and Route resources name the same routes.
    names: dict[str, str] = {}
    destinations: dict[str, set] = {}
    for table in plan.of_type(TABLE):
        names[table.urn] = table.tags().get("Name", table.name)
        inline = table.props.get("routes")
        destinations[table.urn] = {_destination(r, _INLINE_KEYS) or ("inline", i)
                                   for i, r in enumerate(inline if isinstance(inline, list) else [])}
    for route in plan.of_type(ROUTE):
        with plan.checking(f"route {route.name}: its table"):
            urn, name = _table(plan, route)
            names.setdefault(urn, name)
            destinations.setdefault(urn, set()).add(_destination(route.props, _ROUTE_KEYS) or ("route", route.urn))
    for urn, found in sorted(destinations.items()):
        name, count = names[urn], 1 + len(found)  # the local route is not listed, and counts
        if count > quota:
            yield Violation(f"{name}: {count} routes (the local route included) exceed the quota of {quota} routes "
                            "per route table", urn if urn in plan.by_urn else None)
