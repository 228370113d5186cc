#!/usr/bin/env python
"""Benchmark the offline engine against the performance targets (issue 16), printing each ratio and its verdict.

    python bench/offline_preview.py                 # every target (~4 min on 2 cores), bench/results/latest.json
    python bench/offline_preview.py --quick         # the dev preview vs the import floor only (~1 min)
    python bench/offline_preview.py --no-suite      # everything but the test-suite run
    python bench/offline_preview.py --sizes 50,250  # other node counts for the scale rows
    python bench/offline_preview.py --baselines     # also bare-mocks and tracemalloc children per size
    python bench/offline_preview.py --profile 250   # cProfile one 250-node engine run (hotspots, .prof file)

Targets (ratios from one invocation, so both sides see the same machine and load):

1. dev preview <= 1.8x the import floor: ``python -m offline --stack dev`` (whole process) against a process
   that only imports pulumi, pulumi_aws, pulumi_kubernetes, pulumi_random, boto3 and moto's EC2 models.
   Measured in alternating pairs; the verdict is the median of the pairs' ratios.
2. the README test command (``venv/bin/python -m pytest``) <= 15x one dev preview: each suite run between two dev
   previews, over their mean (the median over runs); the ratio over 1.'s median is printed too.
3. ~1000 nodes <= 30 s: the whole preview (CLI process) of the scale stack at the largest size, whose peak
   memory (RSS) is reported. The largest size is 998 nodes: the most one route table holds at the raised
   quota of 1000 routes (local + NAT default + one per node).
4. linear from 50 nodes: engine run() ms per custom resource at the largest size <= 1.2x that at 50.

The scale stack is the dev stack with nodes node1..nodeN, routeTableQuota 1000, 4 zones (a /24 node subnet
holds 251 instances) and /26 pod blocks (1023 of them in 10.1.0.0/16), the same at every size.

Every measurement runs in a fresh process. Timings on a shared machine are noisy: the report gives the
spread of the samples and the load average; compare ratios, not absolute figures, across machines.
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
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
MARKER = "BENCH_JSON "
MOST_ROUTED_NODES = 998  # a 1000-route table: local + NAT default + 998 pod routes
SCALE_SIZES = (50, MOST_ROUTED_NODES)

TARGET_VS_FLOOR = 1.8  # dev preview / import floor
TARGET_SUITE = 15.0  # test suite / dev preview
TARGET_SCALE_WALL_S = 30.0  # preview at ~1000 nodes
TARGET_LINEARITY = 1.2  # ms/resource at the largest size / at 50 nodes

FLOOR = "import pulumi, pulumi_aws, pulumi_kubernetes, pulumi_random, boto3, moto.ec2.models"


def nodes_config(n: int) -> dict:
    """The scale stack's overrides for n nodes (module docstring)."""
    return {"nodes": {f"node{i}": {"index": i} for i in range(1, n + 1)}, "routeTableQuota": 1000,
            "availabilityZones": 4, "nodePodCidrPrefix": 26}


def _cli_flags(config: dict) -> list[str]:
    flags = []
    for key, value in config.items():
        text = "{" + ", ".join(f"{k}: {{index: {v['index']}}}" for k, v in value.items()) + "}" \
            if key == "nodes" else json.dumps(value)
        flags += ["--config", f"{key}={text}"]
    return flags


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

    importlib.import_module("k8snet")
    used = set()
    for source in [ROOT / "__main__.py", *sorted((ROOT / "components" / "k8snet").rglob("*.py"))]:
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
    from offline.harness import gc_policy

    gc_policy.quiet_imports()  # as the CLI does (offline/__main__.py)
    from offline import OfflineEngine

    if not cold:
        _warm_program_imports()
    gc_policy.after_imports()
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
                return {"names": [f"us-east-1{z}" for z in "abcdef"]}  # moto's (and AWS's) six
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
    lines = [line[len(MARKER):] for line in proc.stdout.splitlines() if line.startswith(MARKER)]
    if not lines:
        raise RuntimeError(
            f"child {' '.join(args)[:200]} exited {proc.returncode} without a result\n"
            f"--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}"
        )
    payload = json.loads(lines[-1])
    if proc.returncode != 0 and payload.get("ok", False):
        payload["ok"] = False
        payload["error"] = f"exit status {proc.returncode}: {proc.stderr[-500:]}"
    return payload, wall


def run_measured(cmd: list[str], timeout: float) -> dict:
    """Wall time, CPU time (user + system, from wait4) and peak RSS of one process; its output discarded."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = t + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.perf_counter() > deadline:
            proc.kill()
            raise subprocess.TimeoutExpired(cmd, timeout)
        time.sleep(0.01)
    wall = time.perf_counter() - t
    err = proc.stderr.read()
    proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd)[:120]} exited {code}: {err[-500:]}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime,
            "peak_rss_mb": usage.ru_maxrss / 1024 if sys.platform != "darwin" else usage.ru_maxrss / 2**20}


def _spread(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} (min {min(values):.2f}, max {max(values):.2f}, n={len(values)})"


def measure_dev_vs_floor(pairs: int, timeout: float, log) -> dict:
    """Alternate the import floor and the dev preview; each pair sees nearly the same machine state."""
    floor_cmd = [sys.executable, "-c", FLOOR]
    preview_cmd = [sys.executable, "-m", "offline", "--stack", "dev"]
    floors, previews = [], []
    for i in range(pairs):
        log(f"  dev preview vs import floor: pair {i + 1}/{pairs} ...")
        floors.append(run_measured(floor_cmd, timeout))
        previews.append(run_measured(preview_cmd, timeout))
    wall_ratios = [p["wall_s"] / f["wall_s"] for p, f in zip(previews, floors)]
    cpu_ratios = [p["cpu_s"] / f["cpu_s"] for p, f in zip(previews, floors)]
    return {
        "floor_wall_s": [f["wall_s"] for f in floors], "preview_wall_s": [p["wall_s"] for p in previews],
        "floor_cpu_s": [f["cpu_s"] for f in floors], "preview_cpu_s": [p["cpu_s"] for p in previews],
        "preview_peak_rss_mb": max(p["peak_rss_mb"] for p in previews),
        "wall_ratios": wall_ratios, "cpu_ratios": cpu_ratios,
        "ratio": statistics.median(wall_ratios), "cpu_ratio": statistics.median(cpu_ratios),
        "preview_median_s": statistics.median(p["wall_s"] for p in previews),
    }


def measure_suite(runs: int, timeout: float, log) -> dict:
    """The README's test command exactly as the README gives it (on every core: tests/conftest.py), output
    discarded; each run between two dev previews, whose mean is that run's denominator. The machine's speed moves
    (shared hosts: the same suite took 29-44 s within an hour), so a ratio over previews measured minutes earlier
    says more about the machine than about the suite."""
    preview_cmd = [sys.executable, "-m", "offline", "--stack", "dev"]
    walls, cpus, around, ratios = [], [], [], []
    for i in range(runs):
        log(f"  test suite ({sys.executable} -m pytest) run {i + 1}/{runs}, between two dev previews ...")
        before = run_measured(preview_cmd, timeout)["wall_s"]
        m = run_measured([sys.executable, "-m", "pytest"], timeout)
        after = run_measured(preview_cmd, timeout)["wall_s"]
        walls.append(m["wall_s"])
        cpus.append(m["cpu_s"])
        around.append([before, after])
        ratios.append(m["wall_s"] / ((before + after) / 2))
    return {"wall_s": walls, "cpu_s": cpus, "median_s": statistics.median(walls), "previews_around_s": around,
            "paired_ratios": ratios, "ratio": statistics.median(ratios)}


def measure_size(n: int, repeat: int, timeout: float, cold: bool, baselines: bool, log) -> dict:
    """Engine children (run() time per custom resource), and with --baselines the traced and bare-mocks ones."""
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
        first = engine_runs[0]
        custom = first["custom_resources"]
        run_s = statistics.median(r["run_s"] for r in engine_runs)
        row = {
            "nodes": n, "ok": True, "config": {k: v for k, v in nodes_config(n).items() if k != "nodes"},
            "resources": first["resources"], "custom_resources": custom, "by_type": first["by_type"],
            "child_wall_s": statistics.median(walls),
            "import_s": statistics.median(r["import_s"] for r in engine_runs),
            "run_s": run_s,
            "mocks_s": statistics.median(r["mocks_s"] for r in engine_runs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in engine_runs),
            "engine_ms_per_resource": 1000 * run_s / custom,
            "samples": {"child_wall_s": walls, "run_s": [r["run_s"] for r in engine_runs]},
        }
        if not baselines:
            return row
        log(f"  {n:>4} nodes: engine child with tracemalloc ...")
        tm, _ = spawn(["--child", str(n), "--mode", "engine", "--tracemalloc", *(["--cold"] if cold else [])], timeout)
        log(f"  {n:>4} nodes: bare-mocks child ...")
        bare, _ = spawn(["--child", str(n), "--mode", "bare", "--regs", regs], timeout)
        log(f"  {n:>4} nodes: same-program bare-mocks child ...")
        program, _ = spawn(["--child", str(n), "--mode", "program"], timeout)
    for what, payload in (("tracemalloc", tm), ("bare mocks", bare), ("program under bare mocks", program)):
        if not payload["ok"]:
            return {"nodes": n, "ok": False, "error": f"{what}: {payload['error']}"}
    row.update({
        "tracemalloc_peak_mb": tm["tracemalloc_peak_mb"], "tracemalloc_run_peak_mb": tm["tracemalloc_run_peak_mb"],
        "bare_ms_per_resource": 1000 * bare["run_s"] / custom, "engine_vs_bare": run_s / bare["run_s"],
        "program_ms_per_resource": 1000 * program["run_s"] / custom, "engine_vs_program": run_s / program["run_s"],
    })
    return row


def measure_cli_at(n: int, timeout: float, log) -> dict:
    log(f"  {n:>4} nodes: the whole preview (python -m offline, scale stack) ...")
    return run_measured([sys.executable, "-m", "offline", "--stack", "dev", *_cli_flags(nodes_config(n))], timeout)


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def summarize(dev: dict | None, suite: dict | None, rows: list[dict], cli: dict | None) -> list[dict]:
    targets = []
    if dev:
        targets.append({
            "target": f"dev preview <= {TARGET_VS_FLOOR:g}x the import floor (whole processes, paired)",
            "value": f"{dev['ratio']:.2f}x wall (pairs {', '.join(f'{r:.2f}' for r in dev['wall_ratios'])}); "
                     f"CPU {dev['cpu_ratio']:.2f}x; preview {_spread(dev['preview_wall_s'])} s, "
                     f"floor {_spread(dev['floor_wall_s'])} s",
            "pass": dev["ratio"] <= TARGET_VS_FLOOR,
        })
    if suite:
        ratio = suite["ratio"]
        around = ", ".join(f"{r:.1f}x ({w:.2f} s / {sum(p) / 2:.2f} s)"
                           for r, w, p in zip(suite["paired_ratios"], suite["wall_s"], suite["previews_around_s"]))
        unpaired = f"; over target 1's preview median: {suite['median_s'] / dev['preview_median_s']:.1f}x" if dev else ""
        targets.append({
            "target": f"test suite (python -m pytest) <= {TARGET_SUITE:g}x one dev preview (paired)",
            "value": f"{ratio:.1f}x (each run over the mean of the previews just before and after it: {around}; "
                     f"suite CPU {statistics.median(suite['cpu_s']):.1f} s{unpaired})",
            "pass": ratio <= TARGET_SUITE,
        })
    by_n = {r["nodes"]: r for r in rows if r.get("ok")}
    big = max(by_n) if by_n else None
    if cli and big is not None:
        targets.append({
            "target": f"{big} nodes: whole preview <= {TARGET_SCALE_WALL_S:g} s",
            "value": f"{cli['wall_s']:.1f} s wall, {cli['cpu_s']:.1f} s CPU, peak RSS {cli['peak_rss_mb']:.0f} MB",
            "pass": cli["wall_s"] <= TARGET_SCALE_WALL_S,
        })
    if 50 in by_n and big is not None and big > 50:
        a, b = by_n[50], by_n[big]
        ratio = b["engine_ms_per_resource"] / a["engine_ms_per_resource"]
        marginal = 1000 * (b["run_s"] - a["run_s"]) / (b["custom_resources"] - a["custom_resources"])
        targets.append({
            "target": f"linear: engine ms/resource at {big} nodes <= {TARGET_LINEARITY:g}x that at 50",
            "value": f"{ratio:.2f}x ({b['engine_ms_per_resource']:.2f} vs {a['engine_ms_per_resource']:.2f} ms; "
                     f"marginal {marginal:.2f} ms/resource)",
            "pass": ratio <= TARGET_LINEARITY,
        })
    return targets


def print_report(dev, suite, rows, cli, targets, load) -> None:
    if rows:
        cols = [("nodes", "nodes", "{}"), ("resources", "resources", "{}"), ("custom", "custom_resources", "{}"),
                ("child wall s", "child_wall_s", "{:.2f}"), ("import s", "import_s", "{:.2f}"),
                ("run() s", "run_s", "{:.2f}"), ("moto s", "mocks_s", "{:.2f}"), ("peak RSS MB", "peak_rss_mb", "{:.0f}"),
                ("engine ms/res", "engine_ms_per_resource", "{:.2f}")]
        if any("engine_vs_bare" in r for r in rows):
            cols += [("tracemalloc MB", "tracemalloc_peak_mb", "{:.1f}"), ("bare ms/res", "bare_ms_per_resource", "{:.2f}"),
                     ("engine/bare", "engine_vs_bare", "{:.2f}x"), ("program ms/res", "program_ms_per_resource", "{:.2f}"),
                     ("engine/program", "engine_vs_program", "{:.2f}x")]
        table = [[h for h, _, _ in cols]]
        for r in rows:
            table.append([fmt.format(r[key]) if key in r else "" for _, key, fmt in cols] if r.get("ok")
                         else [str(r["nodes"]), f"ERROR: {r['error']}"])
        widths = [max(len(row[i]) for row in table if len(row) == len(cols)) for i in range(len(cols))]
        print()
        for k, row in enumerate(table):
            print("  ".join(c.rjust(w) for c, w in zip(row, widths)) if len(row) == len(cols) else "  ".join(row))
            if k == 0:
                print("  ".join("-" * w for w in widths))
        print("child wall = engine child process start to exit; import s = until just before run(); run() s = engine.run();")
        print("  moto s = the part of run() in the engine's AWS layer; ms/res = run() / custom resources (medians of the repeats).")
        if any("engine_vs_bare" in r for r in rows):
            print("  bare = echo Mocks registering the same resources (the SDK floor); program = __main__.py under stock mocks.")
    print(f"\nload average at start {load[0]}, at end {load[1]} (2 cores: above 2, other work inflated wall times)")
    if os.environ.get("PYTHONDONTWRITEBYTECODE"):
        print("PYTHONDONTWRITEBYTECODE is set: processes compile the modules that have no bytecode cache yet "
              "(the repository's, the tests' assertion rewriting) every time")
    print("\ntargets (informational):")
    for t in targets:
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
    parser.add_argument("--pairs", type=int, default=5, help="floor/preview pairs for target 1 (default 5)")
    parser.add_argument("--suite-runs", type=int, default=3, help="test-suite runs for target 2, each between two dev previews (default 3)")
    parser.add_argument("--no-suite", action="store_true", help="skip the test-suite run (target 2)")
    parser.add_argument("--sizes", default=",".join(map(str, SCALE_SIZES)),
                        help=f"node counts of the scale rows (default {','.join(map(str, SCALE_SIZES))}); the largest "
                             "also gets the whole-preview measurement")
    parser.add_argument("--repeat", type=int, default=1, help="engine children per size (medians reported)")
    parser.add_argument("--quick", action="store_true", help="target 1 only (3 pairs)")
    parser.add_argument("--baselines", action="store_true", help="tracemalloc, bare-mocks and same-program children")
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

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    sizes = [] if args.quick else [int(s) for s in args.sizes.split(",") if s.strip()]
    load_start = " ".join(f"{x:.1f}" for x in os.getloadavg())
    log(f"offline preview benchmark: {'quick' if args.quick else 'all targets'}; load average {load_start}")
    failed = False
    dev = suite = cli = None
    rows = []
    try:
        dev = measure_dev_vs_floor(3 if args.quick else args.pairs, args.timeout, log)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        log(str(exc))
        failed = True
    if not (args.quick or args.no_suite):
        try:
            suite = measure_suite(args.suite_runs, args.timeout, log)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            log(str(exc))
            failed = True
    for n in sizes:
        try:
            rows.append(measure_size(n, args.repeat, args.timeout, args.cold, args.baselines, log))
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            rows.append({"nodes": n, "ok": False, "error": str(exc).splitlines()[0]})
            log(str(exc))
    if sizes:
        try:
            cli = measure_cli_at(max(sizes), args.timeout, log)
        except (RuntimeError, subprocess.TimeoutExpired) as exc:
            log(str(exc))
            failed = True
    load = (load_start, " ".join(f"{x:.1f}" for x in os.getloadavg()))
    targets = summarize(dev, suite, rows, cli)
    print_report(dev, suite, rows, cli, targets, load)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "python": sys.version.split()[0],
        "platform": platform.platform(), "cpu_count": os.cpu_count(), "load_average": load,
        "dont_write_bytecode": bool(os.environ.get("PYTHONDONTWRITEBYTECODE")),
        "dev_vs_floor": dev, "suite": suite, "sizes": rows, "cli_at_largest": cli, "targets": targets,
    }, indent=2) + "\n")
    print(f"\nresults written to {out}")
    return 1 if failed or not all(r.get("ok") for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
