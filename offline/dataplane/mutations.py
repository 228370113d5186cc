"""The changes to the state the flow model's own mutations (offline/flows/mutations.py: each security group rule,
pod route and NetworkPolicy rule deleted, each source/dest check turned on) leave out, generated from the state
the same way: every other route a subnet's traffic can take deleted (NAT gateway, internet gateway; the local
route cannot be deleted on AWS), every source/dest check that is on turned off. Keys in the model's style."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable


@dataclass(frozen=True)
class Mutation:
    key: str
    what: str
    apply: Callable


def extra_mutations(model) -> list[Mutation]:
    out = []
    for table in sorted(model.tables.values(), key=lambda t: t.id):
        for route in table.routes:
            if route.kind in ("local", "eni"):
                continue

            def drop(m, tid=table.id, route=route):
                t = m.tables[tid]
                return replace(m, tables={**m.tables, tid: replace(t, routes=tuple(r for r in t.routes if r != route))})
            out.append(Mutation(table.key(route), f"delete {route.destination} -> {route.target} from {table.name}", drop))
    for iface in sorted(model.interfaces.values(), key=lambda i: i.id):
        if iface.source_dest_check and not iface.synthetic:
            out.append(Mutation(f"sdc-off:{iface.id}", f"turn the source/dest check off for {iface.id} ({iface.owner})",
                                lambda m, i=iface.id: replace(m, interfaces={
                                    **m.interfaces, i: replace(m.interfaces[i], source_dest_check=False)})))
    return out
