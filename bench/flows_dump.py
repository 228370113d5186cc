#!/usr/bin/env python
"""Dump everything the flow verifier says, so a change meant to leave its results alone can be checked
byte for byte: ``python bench/flows_dump.py out.json`` before and after, then ``cmp``.

For every mode of tests/flows_models.py (one engine run each, plus the dev stack with the pre-fix rules and a
7-node stack in three zones): verify() per class and exhaustive, verify() of every mutation
(offline/flows/mutations.py), the preview's and the CLI's flow tables, the problems, and explain() of a fixed
set of --from/--to pairs. JSON with sorted keys; a line per model on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SOURCES = ("internet", "nlb", "alb", "alb@us-east-1b", "control-plane", "node1", "node2", "webapp", "webapp@node2",
           "mysql-0", "mysql-0@node1", "default/probe", "default/probe@node3", "coredns", "nosuchpod", "webapp@node9")
DESTS = ("webapp", "webapp@node3", "mysql-0", "mysql-0@node2", "node1", "node2:30080", "node3:10250", "api",
         "internet", "10.0.0.1:80", "8.8.8.8:53", "webapp-1", "coredns", "default/probe@node2")


def trace(t) -> dict:
    return {"allowed": t.allowed, "decisive": str(t.decisive) if t.hops else None,
            "hops": [[h.at, h.ok, h.note, sorted(h.uses)] for h in t.hops]}


def verification(v, tables: bool = True) -> dict:
    from offline import report

    out = {"mode": v.mode, "classes": v.classes, "holds": v.holds, "problems": v.problems,
           "results": [{"flow": r.flow.name, "what": r.flow.what, "promise": r.flow.promise, "verdict": r.verdict,
                        "holds": r.holds, "total": r.total,
                        "cases": [{"label": c.label, "nodes": list(c.nodes), "weight": c.weight, "trace": trace(c.trace)}
                                  for c in r.cases]} for r in v.results]}
    if tables:
        out["table"] = report.flow_table(v)
        out["table_paths"] = report.flow_table(v, paths=True)
    return out


def explained(m) -> dict:
    from offline.flows.explain import BadPath, explain, render

    out = {}
    for src in SOURCES:
        for dst in DESTS:
            try:
                title, t = explain(m, src, dst)
                out[f"{src} -> {dst}"] = render(title, t)
            except BadPath as exc:
                out[f"{src} -> {dst}"] = f"BadPath: {exc}"
    out["nlb -> node3, endpoint webapp@node1"] = render(*explain(m, "nlb", "node3", endpoint="webapp@node1"))
    out["webapp -> mysql-0 udp/53"] = render(*explain(m, "webapp", "mysql-0", 53, "udp"))
    return out


def dump(name: str, m) -> dict:
    from offline.flows import verify
    from offline.flows.mutations import changed, expected_failures, mutations

    t = time.perf_counter()
    intact = verify(m)
    exhaustive = verify(m, exhaustive=True)
    muts = {}
    for mut in mutations(m):
        mutated = verify(mut.apply(m), exhaustive=True)
        muts[f"{mut.kind} {mut.key} {mut.what}"] = {
            "expected": sorted([*k, v] for k, v in expected_failures(exhaustive, mut.key).items()),
            "changed": sorted([*k, v] for k, v in changed(exhaustive, mutated).items()),
            "verification": verification(mutated, tables=False)}
    out = {"verify": verification(intact), "exhaustive": verification(exhaustive), "mutations": muts,
           "explain": explained(m)}
    print(f"{name}: {len(muts)} mutations, {time.perf_counter() - t:.1f} s", file=sys.stderr)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out")
    args = parser.parse_args()
    from tests.flows_models import MODES, run_model, with_pre_fix_rules

    models = {mode: run_model(config) for mode, config in MODES.items()}
    models["calico-none pre-fix"] = with_pre_fix_rules(models["calico-none"])
    zones = {f"node{i}": {"index": i, "zone": f"us-east-1{'abc'[i % 3]}"} for i in range(1, 8)}
    models["7 nodes, 3 zones, flannel-vxlan"] = run_model({"availabilityZones": 3, "nodes": zones, "cni": "flannel",
                                                          "encapsulation": "vxlan", "nodeLocalDns": True})
    results = {name: dump(name, m) for name, m in models.items()}
    Path(args.out).write_text(json.dumps(results, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
