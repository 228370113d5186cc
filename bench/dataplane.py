#!/usr/bin/env python
"""Benchmark the emulated data plane (offline/dataplane): building and tearing down a stack's topology in the
kernel, and walking the documents' paths through it. Root only.

    sudo venv/bin/python bench/dataplane.py                      # the dev stack, 5 repeats
    sudo venv/bin/python bench/dataplane.py --config encapsulation=vxlan --repeat 10

One engine run reads the state; then, per repeat: build (namespaces, links, routes, rulesets), walk every path
(probe.run over walks.walks + walks.mtu_walks), tear down. Target: build + teardown <= 5 s for the dev stack
(issue 15). Prints min/median/max per phase; exits 0 whether the target holds or not, 1 if a run fails.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from offline import OfflineEngine  # noqa: E402
from offline.dataplane import kernel, probe, walks  # noqa: E402
from offline.dataplane.plan import build  # noqa: E402
from offline.dataplane.pods import place  # noqa: E402
from offline.dataplane.state import read  # noqa: E402

TARGET_S = 5.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", "-c", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    reason = kernel.unavailable_reason()
    if reason:
        print(f"error: {reason}", file=sys.stderr)
        return 1
    config = {k: yaml.safe_load(v) for k, _, v in (c.partition("=") for c in args.config)}
    with OfflineEngine(ROOT, "dev", config) as engine:
        result = engine.run()
        if not result.ok:
            print(f"error: {result.error}", file=sys.stderr)
            return 1
        state = read(result, engine.client("ec2"), engine.kube.objects.values())
    pods = place(state.nodes, state.objects, result.exports.get("appNamespace"))
    samples: dict[str, list[float]] = {"build": [], "walk": [], "teardown": [], "build + teardown": []}
    for _ in range(args.repeat):
        plan = build(state, pods, kernel.new_prefix())
        t0 = time.perf_counter()
        emu = kernel.Emulation(plan).__enter__()
        t1 = time.perf_counter()
        servers = probe.Servers()
        try:
            walks.listen(plan, servers)
            todo = walks.walks(state, plan) + walks.mtu_walks(state, plan)
            probe.run([w.probe for w in todo], servers)
        finally:
            servers.close()
        t2 = time.perf_counter()
        emu.__exit__(None, None, None)
        t3 = time.perf_counter()
        samples["build"].append(t1 - t0)
        samples["walk"].append(t2 - t1)
        samples["teardown"].append(t3 - t2)
        samples["build + teardown"].append(t1 - t0 + t3 - t2)
    print(f"{state.cni.kind}/{state.cni.encapsulation}: {len(plan.namespaces)} namespaces, {len(plan.links)} links, "
          f"{len(todo)} walks, {args.repeat} repeats")
    for phase, values in samples.items():
        print(f"  {phase:<17} min {min(values):.3f} s  median {statistics.median(values):.3f} s  max {max(values):.3f} s")
    worst = max(samples["build + teardown"])
    print(f"target build + teardown <= {TARGET_S:.0f} s: {'met' if worst <= TARGET_S else 'MISSED'} (worst {worst:.3f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
