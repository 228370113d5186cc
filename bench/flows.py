#!/usr/bin/env python
"""Benchmark the flow verifier (offline/flows): what the flow table adds to a preview, how it grows with nodes,
and the verdict in every supported mode.

    python bench/flows.py                   # 3, 50 and 250 nodes: extract, verify, render (~2 min)
    python bench/flows.py --sizes 3,100     # other sizes
    python bench/flows.py --matrix          # also every mode: 5 CNI modes x iptables/ipvs x node-local-dns on/off

For each size the dev stack runs once with N nodes (routeTableQuota 1000 above 48 nodes, as
bench/offline_preview.py); then, in that process, the three steps the preview adds are timed, best of
``--repeat``: reading the model out of moto and the run (``extract``), walking every flow for every node
class (``verify``), and the table (``render``). ``exhaustive`` walks every node (pair) instead of one per
class: the quadratic cost the classes avoid. ``import`` is the cost of importing offline.flows in a fresh
interpreter that already imported everything else the preview imports (best of three, bytecode cached). Figures go to stdout and to
bench/results/flows.json (git-ignored); bench/flows.md keeps the last figures and the targets.

Targets (issue 12): the flow table adds <= 0.3 s to the dev preview, <= 2 s at 250 nodes, and does not
grow with nodes^2. The script exits 0 whether targets pass or not, 1 if a run fails or a mode's flows fail.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RAISED_QUOTA = 1000
TARGET_DEV_S, TARGET_250_S = 0.3, 2.0


def config(n: int, extra: dict | None = None) -> dict:
    out: dict = {"nodes": {f"node{i}": {"index": i} for i in range(1, n + 1)}, **(extra or {})}
    if n > 48:
        out["routeTableQuota"] = RAISED_QUOTA
    return out


def best(fn, repeat: int) -> tuple[float, object]:
    times, value = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t)
    return min(times), value


def measure(n: int, repeat: int) -> dict:
    from offline import OfflineEngine, flows, report

    with OfflineEngine(ROOT, "dev", config(n)) as engine:
        t = time.perf_counter()
        result = engine.run()
        run_s = time.perf_counter() - t
        if not result.ok:
            raise SystemExit(f"{n} nodes: the run failed: {result.error}")
        extract_s, model = best(lambda: flows.from_engine(result, engine), repeat)
    verify_s, v = best(lambda: flows.verify(model), repeat)
    render_s, _ = best(lambda: report.flow_table(v), repeat)
    exhaustive_s = best(lambda: flows.verify(model, exhaustive=True), 1)[0] if n <= 100 else None
    walks = sum(len(r.cases) for r in v.results)
    return {"nodes": n, "run_s": run_s, "extract_s": extract_s, "verify_s": verify_s, "render_s": render_s,
            "total_s": extract_s + verify_s + render_s, "exhaustive_verify_s": exhaustive_s,
            "classes": len(v.classes), "walks": walks, "flows": len(v.results), "holds": v.holds}


def import_cost(repeat: int = 3) -> float:
    code = ("import time, sys; sys.path.insert(0, %r); import offline.__main__ as m; "
            "import importlib; [sys.modules.pop(k) for k in list(sys.modules) if k.startswith('offline.flows')]; "
            "t = time.perf_counter(); importlib.import_module('offline.flows'); "
            "importlib.import_module('offline.flows.explain'); print(time.perf_counter() - t)") % str(ROOT)
    # With bytecode cached, as a user's interpreter has it after the first run (this machine's environment
    # sets PYTHONDONTWRITEBYTECODE, which would time compiling the sources instead); one warm-up writes it.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
            for _ in range(repeat + 1)]
    return min(float(out.stdout.strip().splitlines()[-1]) for out in runs[1:])


def matrix() -> list[dict]:
    from k8snet.cni.dataplane import ENCAPSULATIONS
    from offline import OfflineEngine, flows

    rows = []
    for cni, encs in ENCAPSULATIONS.items():
        for enc in encs:
            for proxy in ("iptables", "ipvs"):
                for local_dns in (False, True):
                    mode = {"cni": cni, "encapsulation": enc, "kubeProxyMode": proxy, "nodeLocalDns": local_dns}
                    with OfflineEngine(ROOT, "dev", mode) as engine:
                        result = engine.run()
                        model = flows.from_engine(result, engine) if result.ok else None
                    v = flows.verify(model) if model else None
                    failing = [r for r in v.results if not r.holds] if v else []
                    rows.append({**mode, "ok": result.ok, "flows": len(v.results) if v else 0,
                                 "holds": bool(v and v.holds), "problems": v.problems if v else [result.error],
                                 "failing": [r.flow.name for r in failing],
                                 "hops": sorted({str(r.deciding.trace.decisive) for r in failing})})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="3,50,250")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--matrix", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = [measure(n, args.repeat) for n in sizes]
    imported = import_cost()
    print(f"{'nodes':>5} {'classes':>7} {'walks':>5} {'extract s':>9} {'verify s':>8} {'render s':>8} "
          f"{'total s':>7} {'exhaustive s':>12} {'engine run s':>12}")
    for r in rows:
        ex = f"{r['exhaustive_verify_s']:.3f}" if r["exhaustive_verify_s"] is not None else "-"
        print(f"{r['nodes']:>5} {r['classes']:>7} {r['walks']:>5} {r['extract_s']:>9.3f} {r['verify_s']:>8.3f} "
              f"{r['render_s']:>8.4f} {r['total_s']:>7.3f} {ex:>12} {r['run_s']:>12.1f}")
    print(f"import offline.flows: {imported:.3f} s")
    dev = next((r for r in rows if r["nodes"] == 3), None)
    big = next((r for r in rows if r["nodes"] == 250), None)
    if dev:
        print(f"target dev preview: {dev['total_s'] + imported:.3f} s added (<= {TARGET_DEV_S})")
    if big:
        print(f"target 250 nodes: {big['total_s']:.3f} s (<= {TARGET_250_S})")
    results = {"sizes": rows, "import_s": imported}
    failed = False
    if args.matrix:
        results["matrix"] = matrix()
        for m in results["matrix"]:
            verdict = "all hold" if m["holds"] else \
                f"{len(m['failing']) or 'run'} fail: " + "; ".join(m["hops"] or m["problems"])
            print(f"{m['cni']:>7} {m['encapsulation']:>5} {m['kubeProxyMode']:>8} node-local-dns "
                  f"{'on ' if m['nodeLocalDns'] else 'off'}: {m['flows']} flows, {verdict}")
            failed |= not m["holds"]
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "flows.json").write_text(json.dumps(results, indent=1, sort_keys=True))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
