"""One change to the state at a time, generated from the state itself (so a new rule or route is covered
without anyone listing it): delete a security group rule, a pod route (a route to an ENI), or one allow
rule of a NetworkPolicy, or turn an interface's source/dest check on.

Each mutation names the piece of state it takes away with the key the walk records in ``Hop.uses``, so a
test can predict from one walk of the intact state which flows must fail and where: exactly those that
passed some hop on that piece alone (``expected_failures``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, replace

from .model import Model, RouteTable
from .verify import Verification, first_hop_using


@dataclass(frozen=True)
class Mutation:
    kind: str
    key: str  # the Hop.uses key of what it removes
    what: str
    apply: Callable[[Model], Model]


def mutations(model: Model) -> list[Mutation]:
    out = []
    for rule in model.rules:
        out.append(Mutation("security group rule", rule.key,
                            f"delete {rule.name or rule.id} ({model.groups[rule.group].name} "
                            f"{'egress' if rule.egress else 'ingress'})",
                            lambda m, rule=rule: replace(m, rules=tuple(r for r in m.rules if r.id != rule.id))))
    for table in model.tables.values():
        for route in table.routes:
            if route.kind != "eni":
                continue
            out.append(Mutation("pod route", table.key(route), f"delete {route.destination} -> {route.target} "
                                f"from {table.name}", lambda m, t=table, r=route: _without_route(m, t.id, r)))
    for policy in model.policies():
        ns, name = policy["metadata"].get("namespace", "default"), policy["metadata"]["name"]
        for direction in ("ingress", "egress"):
            for index, _ in enumerate(policy["spec"].get(direction) or []):
                out.append(Mutation("NetworkPolicy rule", f"netpol:{ns}/{name}:{direction}:{index}",
                                    f"delete {direction} rule {index} of NetworkPolicy {ns}/{name}",
                                    lambda m, p=policy, d=direction, i=index: _without_policy_rule(m, p, d, i)))
    for iface in model.interfaces.values():
        if not iface.source_dest_check:
            out.append(Mutation("source/dest check", f"sdc:{iface.id}", f"turn the source/dest check on for "
                                f"{iface.id} ({iface.owner})", lambda m, i=iface: replace(m, interfaces={
                                    **m.interfaces, i.id: replace(i, source_dest_check=True)})))
    return out


def _without_route(model: Model, table_id: str, route) -> Model:
    table = model.tables[table_id]
    kept = RouteTable(table.id, table.name, tuple(r for r in table.routes if r != route))
    return replace(model, tables={**model.tables, table_id: kept})


def _without_policy_rule(model: Model, policy: dict, direction: str, index: int) -> Model:
    changed = copy.deepcopy(policy)
    spec = changed["spec"]
    # Keep what the policy isolates: policyTypes defaults from whether egress rules exist.
    spec.setdefault("policyTypes", ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"])
    del spec[direction][index]
    return replace(model, objects=tuple(changed if o is policy else o for o in model.objects))


def expected_failures(intact: Verification, key: str) -> dict[tuple[str, str], str]:
    """(flow, case) -> the hop each allowed path must then be dropped at: the first it passed on ``key`` alone."""
    out = {}
    for result in intact.results:
        for case in result.cases:
            if case.trace.allowed:
                hop = first_hop_using(case.trace, key)
                if hop is not None:
                    out[(result.flow.name, case.label)] = hop.at
    return out


def changed(intact: Verification, mutated: Verification) -> dict[tuple[str, str], str]:
    """(flow, case) -> where the mutated state drops a path the intact state allowed ("opened" if a
    denied path became allowed)."""
    before = {(r.flow.name, c.label): c.trace.allowed for r in intact.results for c in r.cases}
    out = {}
    for result in mutated.results:
        for case in result.cases:
            was = before.get((result.flow.name, case.label))
            if was is True and not case.trace.allowed:
                out[(result.flow.name, case.label)] = case.trace.decisive.at
            elif was is False and case.trace.allowed:
                out[(result.flow.name, case.label)] = "opened"
    return out
