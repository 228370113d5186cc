"""Walk every promised flow and denial for every placement, grouped so the cost does not grow with nodes².

Nodes whose every walk-relevant attribute is equal form a class: same subnet (so zone, route table and
network ACL), same security groups, same source/dest check, same kubelet clusterDNS, and the same answer
from every route table for an address of the node's pod block (the route to *its* interface, or not).
One node (or pair of distinct nodes) of each class (pair) stands for all of them: a flow over two roles
costs classes², and a stack of 250 nodes in three zones has three classes. ``exhaustive=True`` walks
every node (pair) instead; the tests check both agree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .catalogue import Flow, flows
from .model import Model, Node
from .placement import Placement
from .walk import Hop, Trace, Walker


@dataclass(frozen=True)
class Case:
    """One walk of a flow: its nodes, its variant, and how many node tuples it stands for."""

    label: str
    nodes: tuple[str, ...]
    trace: Trace
    weight: int = 1


@dataclass
class Result:
    flow: Flow
    cases: list[Case] = field(default_factory=list)

    @property
    def failing(self) -> list[Case]:
        return [c for c in self.cases if c.trace.allowed != self.flow.promise]

    @property
    def holds(self) -> bool:
        return not self.failing

    @property
    def verdict(self) -> str:
        """What the paths do: allow (all allowed), deny (all denied), or mixed."""
        allowed = {c.trace.allowed for c in self.cases}
        return "allow" if allowed == {True} else "deny" if allowed == {False} else "mixed"

    @property
    def deciding(self) -> Case | None:
        """The case to show: the first failing one, else the first."""
        return (self.failing or self.cases or [None])[0]

    @property
    def total(self) -> int:
        return sum(c.weight for c in self.cases)


@dataclass
class Verification:
    model: Model
    placement: Placement
    results: list[Result]
    classes: list[list[str]]

    @property
    def holds(self) -> bool:
        return all(r.holds for r in self.results)

    @property
    def mode(self) -> str:
        m = self.model
        local_dns = any(s.addresses for s in m.host_services)
        encapsulation = "no encapsulation" if m.cni.encapsulation == "none" else m.cni.encapsulation
        return (f"{m.cni.kind}, {encapsulation}, kube-proxy {m.kube_proxy_mode}, node-local-dns "
                f"{'on' if local_dns else 'off'}; {len(m.nodes)} nodes in {len(self.classes)} classes")

    @property
    def problems(self) -> list[str]:
        out = []
        for r in self.results:
            if r.holds:
                continue
            bad = r.failing
            case = bad[0]
            weight = sum(c.weight for c in bad)
            promised = "allowed" if r.flow.promise else "denied"
            out.append(f"flow {r.flow.name} ({r.flow.what}) must be {promised}, but is not for {weight} of "
                       f"{r.total} placements; {case.label}: {case.trace.decisive}")
        return out


def signature(model: Model, node: Node) -> tuple:
    probe = node.pod_cidr.network_address + 1
    routes = []
    for tid, table in sorted(model.tables.items()):
        r = table.lookup(probe)
        routes.append((tid, None if r is None else (r.kind, r.target == node.interface, r.destination == node.pod_cidr)))
    iface = model.interfaces[node.interface]
    return (iface.subnet, iface.groups, iface.source_dest_check, node.cluster_dns, tuple(routes))


def node_classes(model: Model, exhaustive: bool = False) -> list[list[Node]]:
    groups: dict[tuple, list[Node]] = {}
    for node in model.nodes.values():
        key = (node.name,) if exhaustive else signature(model, node)
        groups.setdefault(key, []).append(node)
    return list(groups.values())


def _assignments(flow: Flow, classes: list[list[Node]]) -> Iterable[tuple[tuple[Node, ...], int]]:
    """Representative node tuples for the flow's roles, each with the number of tuples it stands for."""
    if flow.roles == 0:
        yield (), 1
    elif flow.roles == 1:
        for c in classes:
            yield (c[0],), len(c)
    else:
        for a in classes:
            for b in classes:
                if a is b:
                    if flow.relation in ("same", "any"):
                        yield (a[0], a[0]), len(a)
                    if flow.relation in ("other", "any") and len(a) > 1:
                        yield (a[0], a[1]), len(a) * (len(a) - 1)
                elif flow.relation != "same":
                    yield (a[0], b[0]), len(a) * len(b)


def verify(model: Model, exhaustive: bool = False, only: Iterable[str] | None = None) -> Verification:
    placement = Placement(model)
    walker = Walker(model, placement)
    classes = node_classes(model, exhaustive)
    wanted = set(only) if only is not None else None
    results = []
    for flow in flows(model, placement):
        if wanted is not None and flow.name not in wanted:
            continue
        result = Result(flow)
        for nodes, weight in _assignments(flow, classes):
            for variant in flow.variants:
                if not flow.applies(nodes, variant):
                    continue
                trace = flow.walk(walker, nodes, variant)
                result.cases.append(Case(flow.label(nodes, variant), tuple(n.name for n in nodes), trace, weight))
        if result.cases:
            results.append(result)
    return Verification(model, placement, results, [[n.name for n in c] for c in classes])


def first_hop_using(trace: Trace, key: str) -> Hop | None:
    """The first hop that passed only because of ``key`` (no other piece of state admitted it there)."""
    return next((h for h in trace.hops if h.ok and h.uses == frozenset({key})), None)
