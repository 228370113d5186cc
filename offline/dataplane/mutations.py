"""One change at a time to the state an emulation is built from, generated from the state itself so new routes,
rules and interfaces are covered without a list to keep: delete a route, delete a security group rule, flip an
interface's source/dest check. Works on anything with the state's ``tables``, ``rules`` and ``interfaces``
(frozen dataclasses: state.State, or the flow model)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Mutation:
    key: str  # stable: what it removes or flips
    what: str  # for people
    apply: Callable


def mutations(state) -> list[Mutation]:
    out = []
    for tid, table in sorted(state.tables.items()):
        for route in table.routes:
            def drop_route(s, tid=tid, route=route):
                t = s.tables[tid]
                return replace(s, tables={**s.tables, tid: replace(t, routes=tuple(r for r in t.routes if r != route))})
            out.append(Mutation(f"route:{tid}:{route.destination}", f"delete route {route.destination} -> "
                                f"{route.target} from {table.name}", drop_route))
    for rule in state.rules:
        out.append(Mutation(f"sg-rule:{rule.id}", f"delete security group rule {rule.id}",
                            lambda s, rule=rule: replace(s, rules=tuple(r for r in s.rules if r != rule))))
    for eni in sorted(state.interfaces.values(), key=lambda e: e.id):
        if eni.synthetic:
            continue
        out.append(Mutation(f"source-dest-check:{eni.id}", f"turn source/dest check {'off' if eni.source_dest_check else 'on'} "
                            f"on {eni.id} ({eni.owner})",
                            lambda s, eid=eni.id: replace(s, interfaces={**s.interfaces, eid: replace(
                                s.interfaces[eid], source_dest_check=not s.interfaces[eid].source_dest_check)})))
    return out
