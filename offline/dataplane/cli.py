"""``python -m offline dataplane``: run the stack offline, build its data plane in the kernel, walk every flow of
the flow model through it and print, per flow case, the model's verdict next to the kernel's (root only).

Exit status: 0 kernel and model agree on every case and the path MTU is the pods' MTU; 1 they differ somewhere,
or the path MTU is not the pods' MTU; 2 the emulation cannot run here.
"""

from __future__ import annotations

import sys
import time

from ..report import table
from . import differential, kernel


def report(model, out=None) -> differential.Comparison:
    """Emulate ``model``, compare every case, print the table and the path MTU; the emulation is gone after."""
    out = out or sys.stdout
    started = time.monotonic()
    result = differential.compare(model)
    emulation = result.emulation
    walked = time.monotonic() - started
    emulation.__exit__(None, None, None)
    plan = emulation.plan
    mode = f"{model.cni.kind}, encapsulation {model.cni.encapsulation}, pod MTU {plan.mtu}"
    tunnel = f"; IPIP: {emulation.ipip}" if plan.tunnels else ""
    print(f"Emulated data plane ({mode}{tunnel}): {len(plan.namespaces)} network namespaces, built and walked in "
          f"{walked:.2f} s, removed in {time.monotonic() - started - walked:.2f} s\n", file=out)
    print(table(["flow", "case", "model", "kernel", "agree"], differential.rows(result.runs)), file=out)
    covered = [r for r in result.runs if r.outcome is not None]
    differ = [r for r in covered if r.agrees is False]
    print(f"\n{len(result.runs)} cases: {len(covered)} run in the kernel, {len(differ)} differ from the model",
          file=out)
    print("\nPath MTU (UDP, DF set, pod to pod across nodes):", file=out)
    for o in result.path_mtu:
        print(f"  {o.probe.key}: {'passes' if o.ok else 'fails (' + o.detail + ')'}", file=out)
    return result


def mtu_holds(result: differential.Comparison) -> bool:
    """The pods' MTU crosses every path, one byte more crosses none."""
    fits, too_big = result.path_mtu[0::2], result.path_mtu[1::2]
    return all(o.ok for o in fits) and not any(o.ok for o in too_big)


def run(model, out=None) -> int:
    """``python -m offline dataplane`` on a finished run's flow model."""
    reason = kernel.unavailable_reason()
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return 2
    comparison = report(model, out)
    differ = [r for r in comparison.runs if r.agrees is False]
    return 1 if differ or not mtu_holds(comparison) else 0
