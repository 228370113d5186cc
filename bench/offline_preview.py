#!/usr/bin/env python
"""Benchmark the offline engine: wall time, memory and per-resource cost of an offline preview.

    python bench/offline_preview.py                 # 3, 50 and 250 nodes, table + bench/results/latest.json
    python bench/offline_preview.py --sizes 3,100   # other sizes
    python bench/offline_preview.py --profile 250   # cProfile one engine run (hotspots, .prof file)

Every measurement runs in a fresh child process (this script re-invoked with --child N), so
import costs and peak memory are not shared between sizes. Per size the parent starts:

  1. an engine child (timed, no tracemalloc): wall time, import time, engine.run() time, ru_maxrss;
     it also dumps the custom resources it registered (type, name, literal inputs) to a temp file;
  2. an engine child with tracemalloc on from its first line: Python-heap peak (tracemalloc slows
     the run down, which is why its timings are not used);
  3. a bare-mocks child: the Pulumi runtime configured as OfflineEngine._configure does (MockSettings,
     ROOT reset) with the stock MockMonitor, a single-worker executor and a trivial echo Mocks, registering
     pulumi.CustomResource(type, name, props=inputs) for every custom resource of (1). Only the registration run is timed.

Targets are informational: the script exits 0 whether they pass or not, 1 if a run fails.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()  # before any heavy import: the child's "import" phase starts here

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
MARKER = "BENCH_JSON "
DEFAULT_SIZES = (3, 50, 250)
RAISED_QUOTA = 1000  # AWS maximum of "Routes per route table"
DEFAULT_QUOTA_MAX_NODES = 48  # 50 routes per table = local + NAT default + 48 pod routes

# Targets (informational).
TARGET_DEV_WALL_S = 3.0  # dev stack (3 nodes): what a user waits for, imports included
TARGET_VS_BARE = 1.5  # engine ms/resource <= 1.5x bare mocks ms/resource
TARGET_LINEARITY = 1.3  # ms/resource at the largest size <= 1.3x that at 50 nodes


def nodes_config(n: int) -> dict:
    config: dict = {"nodes": {f"node{i}": {"index": i} for i in range(1, n + 1)}}
    if n > DEFAULT_QUOTA_MAX_NODES:
        config["routeTableQuota"] = RAISED_QUOTA
    return config


def _rss_mb() -> float:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def _emit(payload: dict) -> None:
    sys.stdout.write(MARKER + json.dumps(payload) + "\n")
    sys.stdout.flush()


def _plain(value):
    """Registration inputs as plain literals: secrets unwrapped, anything exotic stringified."""
    from pulumi.runtime import rpc

    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return _plain(value.get("value"))
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _warm_program_imports() -> None:
    """Import what __main__.py imports, including pulumi_aws's lazily loaded classes, so that
    engine.run() measures registration work and not first-touch imports (those are reported
    in the import phase, and in the child's total wall time)."""
    import importlib

    sys.path.insert(0, str(ROOT))
    import pulumi_aws as aws

    importlib.import_module("components")
    used = set()
    for source in [ROOT / "__main__.py", *sorted((ROOT / "components").glob("*.py"))]:
        used.update(re.findall(r"\baws\.([a-z0-9_]+)\.([A-Za-z_][A-Za-z0-9_]*)", source.read_text()))
        used.update(("", fn) for fn in re.findall(r"\baws\.(get_[a-z0-9_]+)", source.read_text()))
    for module, attr in sorted(used):  # text matches can be false ("aws.github.io" in a URL): skip those
        getattr(getattr(aws, module, None) if module else aws, attr, None)


def _time_mocks() -> list[float]:
    """Accumulate the time spent in the engine's AWS layer (moto backend set-up, and the Mocks:
    moto plus our handlers) by wrapping AwsContext.__post_init__ and MotoMocks.new_resource/call
    in this child process only; the engine's code is untouched."""
    from offline.harness import mocks

    spent = [0.0]

    def timed(method):
        def wrapper(self, *args):
            t = time.perf_counter()
            try:
                return method(self, *args)
            finally:
                spent[0] += time.perf_counter() - t

        return wrapper

    for cls, name in ((mocks.AwsContext, "__post_init__"), (mocks.MotoMocks, "new_resource"), (mocks.MotoMocks, "call")):
        setattr(cls, name, timed(getattr(cls, name)))
    return spent


# ----------------------------------------------------------------------------- children


def child_engine(n: int, use_tracemalloc: bool, dump: str | None, cold: bool, profile: str | None) -> int:
    if use_tracemalloc:
        import tracemalloc

        tracemalloc.start()
    sys.path.insert(0, str(ROOT))
    from offline import OfflineEngine

    if not cold:
        _warm_program_imports()
    import_s = time.perf_counter() - _T0

    mocks_s = _time_mocks()
    tm_run_peak = None
    t = time.perf_counter()
    with OfflineEngine(ROOT, stack="dev", config=nodes_config(n)) as engine:
        enter_s = time.perf_counter() - t
        if use_tracemalloc:
            tracemalloc.reset_peak()
            before = tracemalloc.get_traced_memory()[0]
        profiler = None
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        t = time.perf_counter()
        result = engine.run()
        run_s = time.perf_counter() - t
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)
        if use_tracemalloc:
            tm_run_peak = tracemalloc.get_traced_memory()[1] - before
    total_in_process_s = time.perf_counter() - _T0

    resources = result.resources
    custom = [r for r in resources if r.custom]
    by_type: dict[str, int] = {}
    for r in resources:
        by_type[r.type] = by_type.get(r.type, 0) + 1
    if dump and result.ok:
        Path(dump).write_text(json.dumps([[r.type, r.name, _plain(r.inputs)] for r in custom]))
    payload = {
        "mode": "engine",
        "nodes": n,
        "ok": result.ok,
        "error": result.error,
        "import_s": import_s,
        "enter_s": enter_s,
        "run_s": run_s,
        "mocks_s": mocks_s[0],
        "in_process_s": total_in_process_s,
        "resources": len(resources),
        "custom_resources": len(custom),
        "by_type": dict(sorted(by_type.items())),
        "peak_rss_mb": _rss_mb(),
    }
    if use_tracemalloc:
        import tracemalloc

        payload["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        payload["tracemalloc_run_peak_mb"] = tm_run_peak / 2**20
        tracemalloc.stop()
    _emit(payload)
    return 0 if result.ok else 1


def _configure_bare_mocks(mocks, project: str, stack: str):
    """The Pulumi runtime as OfflineEngine._configure sets it up, but with the stock MockMonitor and
    the stock setup's single-thread executor (the stock monitor re-enters the loop; it cannot run inline)."""
    import logging
    from concurrent.futures import ThreadPoolExecutor

    from pulumi.runtime import mocks as pulumi_mocks
    from pulumi.runtime import settings as pulumi_settings
    from pulumi.runtime.sync_await import _ensure_event_loop

    monitor = pulumi_mocks.MockMonitor(mocks)
    pulumi_settings.ROOT.set(None)
    pulumi_settings.configure(
        pulumi_mocks.MockSettings(
            monitor=monitor,
            monitor_features=set(monitor.GetDeploymentInfo(None).supportedFeatures),
            engine=pulumi_mocks.MockEngine(logging.getLogger("bench.bare")),
            project=project,
            stack=stack,
            dry_run=False,
            organization="organization",
            callbacks=None,
        )
    )
    _ensure_event_loop().set_default_executor(ThreadPoolExecutor(max_workers=1))
    return monitor


def child_bare(n: int, regs_path: str) -> int:
    import pulumi
    from pulumi.runtime.stack import run_in_stack
    from pulumi.runtime.sync_await import _sync_await

    regs = json.loads(Path(regs_path).read_text())
    # The engine's URNs include parents; without them two same-typed, same-named resources would clash.
    seen: dict[tuple[str, str], int] = {}
    for reg in regs:
        key = (reg[0], reg[1])
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            reg[1] = f"{reg[1]}-{seen[key]}"
    import_s = time.perf_counter() - _T0

    class EchoMocks(pulumi.runtime.Mocks):
        def new_resource(self, args):
            return args.name + "_id", args.inputs

        def call(self, args):
            return {}

    def program():
        for typ, name, props in regs:
            pulumi.CustomResource(typ, name, props=props)

    t = time.perf_counter()
    monitor = _configure_bare_mocks(EchoMocks(), "k8s-networking", "dev")
    error = None
    try:
        _sync_await(run_in_stack(program))
    except BaseException as exc:  # noqa: BLE001 -- reported to the parent
        error = f"{type(exc).__name__}: {exc}"
    run_s = time.perf_counter() - t
    registered = sum(1 for urn in monitor.resources if "::pulumi:pulumi:Stack::" not in urn)
    _emit(
        {
            "mode": "bare",
            "nodes": n,
            "ok": error is None and registered == len(regs),
            "error": error or (None if registered == len(regs) else f"registered {registered} of {len(regs)}"),
            "import_s": import_s,
            "run_s": run_s,
            "custom_resources": registered,
            "executor": "ThreadPoolExecutor(max_workers=1)",
            "peak_rss_mb": _rss_mb(),
        }
    )
    return 0 if error is None else 1


def child_bare_program(n: int) -> int:
    """The same __main__.py, same config, under the stock MockMonitor and a plain echo Mocks:
    what the program costs under Pulumi mocks with no moto, no AWS rules and no recording."""
    import runpy

    import pulumi
    from pulumi.runtime.config import set_all_config
    from pulumi.runtime.stack import run_in_stack
    from pulumi.runtime.sync_await import _sync_await

    sys.path.insert(0, str(ROOT))
    from offline.harness.project import resolve_config

    _warm_program_imports()
    import_s = time.perf_counter() - _T0
    config = resolve_config(ROOT, "dev", nodes_config(n))

    # Outputs the program reads that are not among its inputs (the engine computes them; an echo
    # cannot): the EKS cluster's endpoint, CA and OIDC issuer.
    computed = {"aws:eks/cluster:Cluster": {
        "endpoint": "https://EXAMPLE.gr7.us-east-1.eks.amazonaws.com",
        "certificateAuthority": {"data": "Y2E="},
        "identities": [{"oidcs": [{"issuer": "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"}]}],
    }}

    class EchoMocks(pulumi.runtime.Mocks):
        def new_resource(self, args):
            return (args.name + "_id" if args.custom else None), {**args.inputs, **computed.get(args.typ, {})}

        def call(self, args):
            if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
                return {"names": ["us-east-1a", "us-east-1b", "us-east-1c"]}
            if args.token == "aws:ssm/getParameter:getParameter":
                return {"value": "ami-0123456789abcdef0"}
            return {}

    t = time.perf_counter()
    monitor = _configure_bare_mocks(EchoMocks(), config.project, config.stack)
    set_all_config(config.values, config.secret_keys)
    os.chdir(ROOT)
    error = None
    try:
        _sync_await(run_in_stack(lambda: runpy.run_path(str(ROOT / "__main__.py"), run_name="__main__")))
    except BaseException as exc:  # noqa: BLE001 -- reported to the parent
        error = f"{type(exc).__name__}: {exc}"
    run_s = time.perf_counter() - t
    _emit({
        "mode": "program",
        "nodes": n,
        "ok": error is None,
        "error": error,
        "import_s": import_s,
        "run_s": run_s,
        "resources": len(monitor.resources),
        "peak_rss_mb": _rss_mb(),
    })
    return 0 if error is None else 1


# ----------------------------------------------------------------------------- parent


def spawn(args: list[str], timeout: float) -> tuple[dict, float]:
    """Run this script as a child; its JSON line and the child's wall time (process start to exit)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    wall = time.perf_counter() - t
    lines = [line[len(MARKER) :] for line in proc.stdout.splitlines() if line.startswith(MARKER)]
    if not lines:
        raise RuntimeError(
            f"child {' '.join(args)} exited {proc.returncode} without a result\n"
            f"--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
        )
    payload = json.loads(lines[-1])
    if proc.returncode != 0 and payload.get("ok", False):
        payload["ok"] = False
        payload["error"] = f"exit status {proc.returncode}: {proc.stderr[-500:]}"
    return payload, wall


def _best(values: list[float]) -> float:
    """Best of the repeats: on a shared machine the minimum is the least noisy estimate."""
    return min(values)


def measure_size(n: int, repeat: int, timeout: float, cold: bool, log) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-regs-") as tmp:
        regs = str(Path(tmp) / "regs.json")
        engine_runs, walls = [], []
        for i in range(repeat):
            log(f"  {n:>4} nodes: engine child {i + 1}/{repeat} ...")
            extra = ["--cold"] if cold else []
            payload, wall = spawn(["--child", str(n), "--mode", "engine", "--dump", regs, *extra], timeout)
            if not payload["ok"]:
                return {"nodes": n, "ok": False, "error": f"engine: {payload['error']}"}
            engine_runs.append(payload)
            walls.append(wall)
        log(f"  {n:>4} nodes: engine child with tracemalloc ...")
        tm, tm_wall = spawn(["--child", str(n), "--mode", "engine", "--tracemalloc", *(["--cold"] if cold else [])], timeout)
        if not tm["ok"]:
            return {"nodes": n, "ok": False, "error": f"engine (tracemalloc): {tm['error']}"}
        bare_runs = []
        for i in range(repeat):
            log(f"  {n:>4} nodes: bare-mocks child {i + 1}/{repeat} ...")
            payload, _ = spawn(["--child", str(n), "--mode", "bare", "--regs", regs], timeout)
            if not payload["ok"]:
                return {"nodes": n, "ok": False, "error": f"bare mocks: {payload['error']}"}
            bare_runs.append(payload)

        program_runs = []
        for i in range(repeat):
            log(f"  {n:>4} nodes: same-program bare-mocks child {i + 1}/{repeat} ...")
            payload, _ = spawn(["--child", str(n), "--mode", "program"], timeout)
            if not payload["ok"]:
                return {"nodes": n, "ok": False, "error": f"program under bare mocks: {payload['error']}"}
            program_runs.append(payload)

    first = engine_runs[0]
    program_s = _best([r["run_s"] for r in program_runs])
    custom = first["custom_resources"]
    run_s = _best([r["run_s"] for r in engine_runs])
    bare_s = _best([r["run_s"] for r in bare_runs])
    return {
        "nodes": n,
        "ok": True,
        "config": {k: v for k, v in nodes_config(n).items() if k != "nodes"},
        "resources": first["resources"],
        "custom_resources": custom,
        "by_type": first["by_type"],
        "child_wall_s": _best(walls),
        "import_s": _best([r["import_s"] for r in engine_runs]),
        "enter_s": _best([r["enter_s"] for r in engine_runs]),
        "run_s": run_s,
        "mocks_s": _best([r["mocks_s"] for r in engine_runs]),
        # interpreter start-up (~15 ms) plus teardown: child wall time minus what the child measured itself
        "exit_s": _best([w - r["in_process_s"] for w, r in zip(walls, engine_runs)]),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in engine_runs),
        "tracemalloc_peak_mb": tm["tracemalloc_peak_mb"],
        "tracemalloc_run_peak_mb": tm["tracemalloc_run_peak_mb"],
        "tracemalloc_child_wall_s": tm_wall,
        "engine_ms_per_resource": 1000 * run_s / custom,
        "bare_run_s": bare_s,
        "bare_ms_per_resource": 1000 * bare_s / custom,
        "bare_peak_rss_mb": max(r["peak_rss_mb"] for r in bare_runs),
        "bare_executor": bare_runs[0]["executor"],
        "engine_vs_bare": run_s / bare_s if bare_s else None,
        "program_run_s": program_s,
        "program_ms_per_resource": 1000 * program_s / custom,
        "engine_vs_program": run_s / program_s if program_s else None,
        "samples": {
            "child_wall_s": walls,
            "run_s": [r["run_s"] for r in engine_runs],
            "bare_run_s": [r["run_s"] for r in bare_runs],
            "program_run_s": [r["run_s"] for r in program_runs],
        },
    }


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def time_cli(repeat: int, timeout: float) -> list[float]:
    """Wall time of the command a user runs: `python -m offline --stack dev` (output discarded)."""
    walls = []
    for _ in range(max(repeat, 3)):
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "offline", "--stack", "dev"], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=timeout)
        walls.append(time.perf_counter() - t)
        if proc.returncode != 0:
            raise RuntimeError(f"python -m offline exited {proc.returncode}: {proc.stderr[-500:]}")
    return walls


def summarize(rows: list[dict], cli_walls: list[float] | None = None) -> dict:
    by_n = {r["nodes"]: r for r in rows if r.get("ok")}
    targets = []
    if cli_walls:
        wall = _best(cli_walls)
        targets.append({
            "target": f"dev stack offline preview (python -m offline --stack dev) wall time <= {TARGET_DEV_WALL_S:g} s",
            "value": f"{wall:.2f} s (best of {len(cli_walls)}; all: {', '.join(f'{w:.2f}' for w in cli_walls)})",
            "pass": wall <= TARGET_DEV_WALL_S,
        })
    for n, r in sorted(by_n.items()):
        targets.append({
            "target": f"{n} nodes: engine ms/resource <= {TARGET_VS_BARE:g}x bare mocks running the same program",
            "value": f"{r['engine_vs_program']:.2f}x ({r['engine_ms_per_resource']:.2f} vs {r['program_ms_per_resource']:.2f} ms);"
                     f" vs the SDK floor (unconnected CustomResources) {r['engine_vs_bare']:.2f}x",
            "pass": r["engine_vs_program"] <= TARGET_VS_BARE,
        })
    linearity = {}
    big = max(by_n) if by_n else None
    if 50 in by_n and big is not None and big > 50:
        a, b = by_n[50], by_n[big]
        ratio = b["engine_ms_per_resource"] / a["engine_ms_per_resource"]
        bare_ratio = b["bare_ms_per_resource"] / a["bare_ms_per_resource"]
        marginal = 1000 * (b["run_s"] - a["run_s"]) / (b["custom_resources"] - a["custom_resources"])
        linearity = {
            "from_nodes": 50,
            "to_nodes": big,
            "engine_ms_per_resource_ratio": ratio,
            "bare_ms_per_resource_ratio": bare_ratio,
            "engine_marginal_ms_per_resource": marginal,
        }
        targets.append({
            "target": f"ms/resource {big} vs 50 nodes <= {TARGET_LINEARITY:g}x",
            "value": f"{ratio:.2f}x (bare mocks {bare_ratio:.2f}x; marginal {marginal:.2f} ms/resource)",
            "pass": ratio <= TARGET_LINEARITY,
        })
    return {"targets": targets, "linearity": linearity}


def print_report(rows: list[dict], summary: dict) -> None:
    cols = [
        ("nodes", "nodes", "{}"),
        ("resources", "resources", "{}"),
        ("custom", "custom_resources", "{}"),
        ("child wall s", "child_wall_s", "{:.2f}"),
        ("import s", "import_s", "{:.2f}"),
        ("run() s", "run_s", "{:.3f}"),
        ("moto s", "mocks_s", "{:.3f}"),
        ("exit s", "exit_s", "{:.2f}"),
        ("peak RSS MB", "peak_rss_mb", "{:.0f}"),
        ("tracemalloc MB", "tracemalloc_peak_mb", "{:.1f}"),
        ("run() heap MB", "tracemalloc_run_peak_mb", "{:.1f}"),
        ("engine ms/res", "engine_ms_per_resource", "{:.2f}"),
        ("bare ms/res", "bare_ms_per_resource", "{:.2f}"),
        ("engine/bare", "engine_vs_bare", "{:.2f}x"),
        ("program ms/res", "program_ms_per_resource", "{:.2f}"),
        ("engine/program", "engine_vs_program", "{:.2f}x"),
    ]
    table = [[h for h, _, _ in cols]]
    for r in rows:
        if not r.get("ok"):
            table.append([str(r["nodes"]), f"ERROR: {r['error']}"] + [""] * (len(cols) - 2))
            continue
        table.append([fmt.format(r[key]) for _, key, fmt in cols])
    widths = [max(len(row[i]) for row in table if i < len(row) and not row[1].startswith("ERROR")) for i in range(len(cols))]
    print()
    for k, row in enumerate(table):
        if row[1].startswith("ERROR"):
            print(f"{row[0]:>{widths[0]}}  {row[1]}")
            continue
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths)))
        if k == 0:
            print("  ".join("-" * w for w in widths))
    print()
    print("child wall = subprocess start to exit (interpreter, imports, moto, run): what a user waits for;")
    print("  import s = child start until just before run() (imports incl. pulumi_aws classes the program uses);")
    print("  exit s = child wall minus the child's own clock: interpreter start-up and teardown.")
    print("  moto s = part of run() in the engine's AWS layer (moto backend set-up + Mocks: moto and our handlers);")
    print("    the rest of run() is the Pulumi SDK and the program.")
    print("ms/res = run time / custom resources; bare = echo Mocks + pulumi.CustomResource, same resources (SDK floor);")
    print("  program = the same __main__.py and config under the stock MockMonitor with echo Mocks (no moto):")
    print("  engine/program is what moto, the AWS rules and the recording add.")
    print("tracemalloc MB = Python-heap peak of a separate traced child; run() heap MB = peak growth during run().")
    lin = summary["linearity"]
    if lin:
        print(
            f"linearity {lin['from_nodes']}->{lin['to_nodes']} nodes: engine ms/resource x{lin['engine_ms_per_resource_ratio']:.2f}, "
            f"bare x{lin['bare_ms_per_resource_ratio']:.2f}; engine marginal cost {lin['engine_marginal_ms_per_resource']:.2f} ms/resource"
        )
    print()
    print("targets (informational):")
    for t in summary["targets"]:
        print(f"  [{_verdict(t['pass'])}] {t['target']}: {t['value']}")


def run_profile(n: int, timeout: float, top: int) -> int:
    import pstats

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    prof = RESULTS_DIR / f"engine-{n}.prof"
    payload, wall = spawn(["--child", str(n), "--mode", "engine", "--profile-out", str(prof)], timeout)
    print(f"{n} nodes under cProfile: run() {payload['run_s']:.2f} s, {payload['custom_resources']} custom resources, "
          f"child wall {wall:.2f} s; stats in {prof.relative_to(ROOT)}")
    stats = pstats.Stats(str(prof))
    stats.strip_dirs()
    for key in ("tottime", "cumulative"):
        print(f"\n=== top {top} by {key} ===")
        stats.sort_stats(key).print_stats(top)
    return 0 if payload["ok"] else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="node counts (default 3,50,250)")
    parser.add_argument("--repeat", type=int, default=1, help="timed children per size; the best (minimum) of each figure is reported")
    parser.add_argument("--timeout", type=float, default=900, help="seconds allowed per child")
    parser.add_argument("--cold", action="store_true", help="do not pre-import pulumi_aws classes before run()")
    parser.add_argument("--out", default=str(RESULTS_DIR / "latest.json"), help="JSON results file")
    parser.add_argument("--profile", type=int, metavar="N", help="cProfile one engine run of N nodes and print hotspots")
    parser.add_argument("--top", type=int, default=30, help="rows per profile listing")
    # internal: child modes
    parser.add_argument("--child", type=int, metavar="N", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=("engine", "bare", "program"), default="engine", help=argparse.SUPPRESS)
    parser.add_argument("--tracemalloc", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dump", help=argparse.SUPPRESS)
    parser.add_argument("--regs", help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child is not None:
        if args.mode == "bare":
            return child_bare(args.child, args.regs)
        if args.mode == "program":
            return child_bare_program(args.child)
        return child_engine(args.child, args.tracemalloc, args.dump, args.cold, args.profile_out)
    if args.profile:
        return run_profile(args.profile, args.timeout, args.top)

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    log(f"offline preview benchmark: sizes {sizes}, repeat {args.repeat}")
    rows = []
    for n in sizes:
        try:
            rows.append(measure_size(n, args.repeat, args.timeout, args.cold, log))
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            rows.append({"nodes": n, "ok": False, "error": str(exc).splitlines()[0]})
            log(str(exc))
    log("  dev stack: timing `python -m offline --stack dev` ...")
    cli_walls = time_cli(args.repeat, args.timeout)
    summary = summarize(rows, cli_walls)
    print_report(rows, summary)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "repeat": args.repeat,
        "warm_imports": not args.cold,
        "sizes": rows,
        "cli_wall_s": cli_walls,
        **summary,
    }, indent=2) + "\n")
    print(f"\nresults written to {out}")
    return 0 if all(r.get("ok") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
