"""``python -m offline dataplane``: run the stack offline, build its data plane in the kernel, walk the
documents' paths through it and print what happened to each (root only)."""

from __future__ import annotations

import sys
import time

from ..report import table
from . import kernel, probe, walks
from .pods import place
from .plan import build
from .state import read


def outcome_rows(results) -> list[list[str]]:
    rows = []
    for walk, outcome in results:
        seen = f" (saw {outcome.seen_source})" if outcome.ok else ""
        where = f" ({outcome.hop})" if outcome.hop else ""
        rows.append([walk.name, walk.what, "allow" if outcome.ok else "deny",
                     f"{outcome.server}{seen}" if outcome.ok else f"{outcome.detail}{where}"])
    return rows


def report(state, app_namespace: str | None, out=sys.stdout) -> list:
    """Emulate ``state``, walk the documents' paths, print the table; returns the (walk, outcome) pairs."""
    pods = place(state.nodes, state.objects, app_namespace)
    plan = build(state, pods, kernel.new_prefix())
    started = time.monotonic()
    with kernel.Emulation(plan) as emu:
        built = time.monotonic() - started
        servers = probe.Servers()
        try:
            walks.listen(plan, servers)
            todo = walks.walks(state, plan) + walks.mtu_walks(state, plan)
            outcomes = probe.run([w.probe for w in todo], servers)
        finally:
            servers.close()
    total = time.monotonic() - started
    mode = f"{state.cni.kind}, encapsulation {state.cni.encapsulation}, pod MTU {plan.mtu}"
    tunnel = f"; IPIP: {emu.ipip}" if plan.tunnels else ""
    print(f"Emulated data plane ({mode}{tunnel}): {len(plan.namespaces)} network namespaces, "
          f"built in {built:.2f} s, walked and removed in {total:.2f} s\n", file=out)
    pairs = list(zip(todo, outcomes))
    print(table(["path", "flow", "kernel", "answered by / refused"], outcome_rows(pairs)), file=out)
    return pairs


def run(engine, result, out=sys.stdout) -> int:
    """``python -m offline dataplane`` on a finished run: 0 when it ran, 2 when it cannot run here."""
    reason = kernel.unavailable_reason()
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return 2
    state = read(result, engine.client("ec2"), engine.kube.objects.values())
    report(state, result.exports.get("appNamespace"), out)
    return 0
