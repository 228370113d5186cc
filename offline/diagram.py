"""A network diagram of the plan: the VPC, its subnets per zone, the nodes with their pod blocks, the route tables
with their routes (pod routes to the nodes that own the blocks), the gateways and the load balancers.

Read from the run's records (what the program registers: inputs, and property dependencies for what points at
what), so it draws the plan, not the simulated AWS. ``dot_source`` is plain text (Graphviz DOT); ``render``
needs Graphviz's ``dot`` executable (Debian package ``graphviz``) through the pinned PyPI ``graphviz`` package.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from k8snet.app.manifests import NLB_CLASS
from k8snet.shared import tags

from .checks.routes import NODE_TAG, POD_CIDR_TAG
from .harness.engine import RunResult

VPC, SUBNET, TABLE = "aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/routeTable:RouteTable"
ROUTE, ASSOC, INSTANCE = "aws:ec2/route:Route", "aws:ec2/routeTableAssociation:RouteTableAssociation", \
    "aws:ec2/instance:Instance"
NAT, IGW, CLUSTER = "aws:ec2/natGateway:NatGateway", "aws:ec2/internetGateway:InternetGateway", \
    "aws:eks/cluster:Cluster"


def _id(urn: str) -> str:
    """A node id: the URN's type path and name (a route table and a subnet may share a name)."""
    return '"' + urn.split("::", 2)[-1] + '"'


def _quote(text: str) -> str:
    """A DOT string; newlines become line breaks."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _dep(record, key: str, type_token: str, by_urn: dict) -> str | None:
    return next((u for u in record.property_dependencies.get(key, []) if by_urn.get(u) and by_urn[u].type == type_token),
                None)


def dot_source(result: RunResult) -> str:
    """The plan's network as Graphviz DOT."""
    by_urn = {r.urn: r for r in result.resources}
    of = defaultdict(list)
    for r in result.resources:
        of[r.type].append(r)
    lines = ["digraph network {", '  graph [rankdir=LR, fontname="Helvetica", fontsize=11, compound=true];',
             '  node [fontname="Helvetica", fontsize=10, shape=box, style="rounded,filled", fillcolor=white];',
             '  edge [fontname="Helvetica", fontsize=9];', '  internet [label="internet", shape=ellipse];']
    name_tag = (lambda r: r.inputs.get("tags", {}).get("Name", r.name))
    for vpc in of[VPC]:
        lines.append(f"  subgraph cluster_vpc {{ label={_quote('VPC ' + str(vpc.inputs.get('cidrBlock')))}; "
                     'style="rounded"; color=gray40;')
        zones = defaultdict(list)
        for subnet in of[SUBNET]:
            zones[subnet.inputs.get("availabilityZone", "?")].append(subnet)
        for zi, (zone, subnets) in enumerate(sorted(zones.items())):
            lines.append(f"    subgraph cluster_zone{zi} {{ label={_quote('zone ' + zone)}; style=dashed; color=gray60;")
            for subnet in sorted(subnets, key=lambda s: s.inputs.get("cidrBlock", "")):
                public = subnet.inputs.get("tags", {}).get(tags.ELB_ROLE) == "1"
                lines.append(f"      subgraph cluster_{subnet.name.replace('-', '_')} {{ "
                             f"label={_quote(('public ' if public else 'private ') + str(subnet.inputs.get('cidrBlock')))}; "
                             f"style=filled; fillcolor={'lightyellow' if public else 'aliceblue'}; color=gray70;")
                lines.append(f"        {_id(subnet.urn)} [label={_quote(name_tag(subnet))}, shape=plaintext, style=\"\", "
                             "fontcolor=gray40];")
                for nat in of[NAT]:
                    if _dep(nat, "subnetId", SUBNET, by_urn) == subnet.urn:
                        lines.append(f"        {_id(nat.urn)} [label={_quote('NAT gateway')}, fillcolor=wheat];")
                for inst in of[INSTANCE]:
                    if _dep(inst, "subnetId", SUBNET, by_urn) == subnet.urn:
                        t = inst.inputs.get("tags", {})
                        label = f"{t.get(NODE_TAG, inst.name)}\npods {t.get(POD_CIDR_TAG, '?')}\n" \
                                f"src/dst check {'off' if inst.inputs.get('sourceDestCheck') is False else 'ON'}"
                        lines.append(f"        {_id(inst.urn)} [label={_quote(label)}, fillcolor=palegreen];")
                lines.append("      }")
            lines.append("    }")
        for table in of[TABLE]:
            served = sorted(name_tag(by_urn[_dep(a, "subnetId", SUBNET, by_urn)]) for a in of[ASSOC]
                            if _dep(a, "routeTableId", TABLE, by_urn) == table.urn and _dep(a, "subnetId", SUBNET, by_urn))
            label = f"route table {name_tag(table)}\nfor {', '.join(served) or '-'}\n{vpc.inputs.get('cidrBlock')} -> local"
            lines.append(f"    {_id(table.urn)} [shape=note, fillcolor=lavender, label={_quote(label)}];")
        lines.append("  }")
    for igw in of[IGW]:
        lines.append(f"  {_id(igw.urn)} [label=\"internet gateway\", fillcolor=wheat];")
        lines.append(f"  internet -> {_id(igw.urn)} [dir=both];")
    for route in of[ROUTE]:
        table = _dep(route, "routeTableId", TABLE, by_urn)
        target = next((u for k in ("networkInterfaceId", "natGatewayId", "gatewayId")
                       for u in route.property_dependencies.get(k, []) if u in by_urn), None)
        if table and target:
            pod = bool(route.inputs.get("networkInterfaceId"))
            lines.append(f"  {_id(table)} -> {_id(target)} [label={_quote(str(route.inputs.get('destinationCidrBlock')))}"
                         f"{', color=darkgreen, fontcolor=darkgreen' if pod else ''}];")
    for lb, label in _load_balancers(result):
        lines.append(f"  {_quote(lb)} [label={_quote(label)}, shape=component, fillcolor=lightpink];")
        lines.append(f"  internet -> {_quote(lb)};")
        for inst in of[INSTANCE]:
            lines.append(f"  {_quote(lb)} -> {_id(inst.urn)} [style=dashed, color=gray50];")
    for cluster in of[CLUSTER]:
        lines.append(f"  {_id(cluster.urn)} [label={_quote('EKS ' + str(cluster.inputs.get('name')) + ' ' + str(cluster.inputs.get('version')))}, "
                     "shape=hexagon, fillcolor=lightblue];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _load_balancers(result: RunResult) -> list[tuple[str, str]]:
    """(id, label) of the load balancers the program asks for: ALB Ingresses and NLB Services."""
    out = []
    for r in result.resources:
        obj = r.inputs
        meta = obj.get("metadata") or {}
        who = f"{meta.get('namespace', 'default')}/{meta.get('name')}"
        ann = meta.get("annotations") or {}
        if r.type == "kubernetes:networking.k8s.io/v1:Ingress":
            scheme = ann.get("alb.ingress.kubernetes.io/scheme", "internal")
            out.append((f"alb {who}", f"ALB ({scheme})\nIngress {who}\n-> NodePort on every node"))
        elif r.type == "kubernetes:core/v1:Service" and (obj.get("spec") or {}).get("loadBalancerClass") == NLB_CLASS:
            scheme = ann.get("service.beta.kubernetes.io/aws-load-balancer-scheme", "internal")
            out.append((f"nlb {who}", f"NLB ({scheme})\nService {who}\n-> NodePort on every node"))
    return out


def render(result: RunResult, path: str | Path) -> Path:
    """Write the diagram as SVG or PNG, or its DOT source (by the file's extension)."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in ("svg", "png", "dot"):
        raise ValueError(f"{path}: the diagram is written as .svg, .png or .dot")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "dot":
        path.write_text(dot_source(result))
        return path
    import graphviz  # the pinned PyPI package; it runs Graphviz's `dot`

    path.write_bytes(graphviz.Source(dot_source(result)).pipe(format=fmt))
    return path
