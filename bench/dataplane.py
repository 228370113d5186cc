#!/usr/bin/env python
"""Benchmark the emulated data plane (offline/dataplane): building and tearing down a stack's topology in the
kernel, and walking every case of the flow model through it. Root only.

    sudo venv/bin/python bench/dataplane.py                      # the dev stack, 5 repeats
    sudo venv/bin/python bench/dataplane.py --config encapsulation=vxlan --repeat 10

One engine run reads the state (the flow model); then, per repeat: build (namespaces, links, routes, rulesets) for
every case's pods, walk every case (probes and the model's walk), tear down. Target: build + teardown <= 5 s for
the dev stack (issue 15). Prints min/median/max per phase; exits 0 whether the target holds or not, 1 if a run fails.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from offline import OfflineEngine  # noqa: E402
from offline.dataplane import differential, kernel, probe  # noqa: E402
from offline.dataplane.plan import public_addresses  # noqa: E402
from offline.flows import from_engine  # noqa: E402

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
        model = from_engine(result, engine)
    samples: dict[str, list[float]] = {"cases (model)": [], "build": [], "walk": [], "teardown": [],
                                       "build + teardown": []}
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        placement, recorded = differential.cases(model)
        lay = differential.layout(model, placement, recorded, public_addresses(model))
        plan = differential.emulation_plan(model, lay, kernel.new_prefix())
        t1 = time.perf_counter()
        emu = kernel.Emulation(plan).__enter__()
        t2 = time.perf_counter()
        servers = probe.Servers()
        try:
            differential.serve(model, plan, lay, servers)
            runnable = [r.probe for r in lay.runs if r.probe is not None]
            probe.run([replace(p, netns=plan.netns(p.netns)) for p in runnable], servers)
        finally:
            servers.close()
        t3 = time.perf_counter()
        emu.__exit__(None, None, None)
        t4 = time.perf_counter()
        samples["cases (model)"].append(t1 - t0)
        samples["build"].append(t2 - t1)
        samples["walk"].append(t3 - t2)
        samples["teardown"].append(t4 - t3)
        samples["build + teardown"].append(t2 - t1 + t4 - t3)
    print(f"{model.cni.kind}/{model.cni.encapsulation}: {len(plan.namespaces)} namespaces, {len(plan.links)} links, "
          f"{len(runnable)} cases run, {args.repeat} repeats")
    for phase, values in samples.items():
        print(f"  {phase:<17} min {min(values):.3f} s  median {statistics.median(values):.3f} s  max {max(values):.3f} s")
    worst = max(samples["build + teardown"])
    print(f"target build + teardown <= {TARGET_S:.0f} s: {'met' if worst <= TARGET_S else 'MISSED'} (worst {worst:.3f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
