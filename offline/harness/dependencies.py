"""Pulumi's dependency graph over a run's records, and the deletion order it allows. Pure (no engine, no moto):
the checks read it, and so does the policy pack through them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .monitor import Registration


def dependency_edges(records: Mapping[str, Registration]) -> dict[str, set[str]]:
    """URN -> the URNs it depends on as Pulumi's dependency graph sees them: dependencies, property
    dependencies, its parent and its provider. Pulumi deletes a resource before anything in its set."""
    edges = {}
    for urn, r in records.items():
        deps = set(r.dependencies) | {d for ds in r.property_dependencies.values() for d in ds}
        if r.parent:
            deps.add(r.parent)
        provider = (r.options or {}).get("provider") or ""
        if provider:
            deps.add(provider.rsplit("::", 1)[0])
        edges[urn] = {d for d in deps if d in records and d != urn}
    return edges


def closure(urn: str, edges: Mapping[str, set[str]]) -> set[str]:
    """Everything ``urn`` depends on, transitively: what is certain to exist while it is deleted."""
    seen, todo = set(), [urn]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def delete_order(records: Mapping[str, Registration], urns: Iterable[str] | None = None) -> list[str]:
    """A deletion order Pulumi may take for ``urns`` (default: all): every resource before the ones it
    depends on; among independent ones, the later-registered first (Pulumi may also run them in parallel)."""
    chosen = list(records) if urns is None else [u for u in records if u in set(urns)]
    edges = dependency_edges(records)
    dependents = {u: {d for d in chosen if u in edges.get(d, ())} for u in chosen}
    order, done = [], set()
    while len(order) < len(chosen):
        ready = [u for u in reversed(chosen) if u not in done and dependents[u] <= done]
        if not ready:
            raise ValueError("dependency cycle among " + ", ".join(sorted(set(chosen) - done)))
        order.append(ready[0])
        done.add(ready[0])
    return order
