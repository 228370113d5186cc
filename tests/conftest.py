"""The one mocks setup for the suite: the offline engine (Pulumi mocks backed by moto).

Engine runs are what the suite spends its time on; ask for the cheapest one that does the job:

- `stack_run(config=None, stack="dev", project_dir=ROOT, program=None, **engine_options) -> (result, engine)`:
  the run of that configuration, made once per session and shared by every test whose arguments give the
  program the same configuration. `program="..."` runs a probe program (stack `test`; see `probe_project`).
  Read it, never change it: no writes through `engine.client(...)`, no edits of `engine.kube.objects` or of
  `result`'s records (copy first, as `copy.deepcopy(list(engine.kube.objects.values()))`). Each shared
  engine keeps its own AWS, so reading one after another ran is safe (offline/aws/moto_state.py).
  `dev_stack` is `stack_run()`, known to have succeeded. The runs live in tests/shared_runs.py, so helpers outside
  fixtures share them too (tests/flows_models.py's flow models).
- `run_copy(config=None, ...)`: a private copy of that configuration's shared run (`engine.fork()`: its records,
  AWS and API server copied, ~20 ms instead of a 0.3 s run), for tests that change what they read (take a tag
  off, break a role); closed when the test ends.
- `dev_preview`: what `python -m offline` prints for the dev stack (exit status, stdout), run once for the tests
  that read the CLI's own output.
- `run_stack(config=None, ...)`: a run of the test's own, for tests that need the program to run again (a fresh
  AWS, or two runs of one configuration compared); closed when the test ends (or at its next call).

A new test that only reads a run uses `stack_run` (or `dev_stack`); it costs nothing when its configuration
already ran on its worker (RUN_HOMES keeps the tests of a configuration on one).
"""

from __future__ import annotations

import atexit
import copy
import gc
import hashlib
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Nothing heavy at import: with pytest-xdist the controller loads this file too, and runs no test (the engine,
# moto and the SDKs load in the workers, with the test modules).
from offline.harness import gc_policy  # noqa: E402


# The README's command runs on every core (pytest-xdist, requirements-dev.txt): without -n, `-n auto` and
# `--dist loadgroup` (SHARED_FIXTURE_GROUPS); `-n 0` or `-p no:xdist` run serially. One core: serial (a worker
# would only add the controller's start-up).
MAX_WORKERS = 4  # each worker collects (~2 s of imports) and makes its own session runs: more cores gain little

# Test files whose tests share an expensive session or module fixture: each group runs on one worker, so the
# fixture is made once (the other tests go one by one to whichever worker is free). A table here, not
# xdist_group marks: pytest-xdist 3.8.0 tags marked tests through Item._nodeid, which pytest 9 no longer reads.
SHARED_FIXTURE_GROUPS = {
    # variant_records (three engine runs), checkov (one process), MariaDB and the webapp
    "variant-records": ("test_app_mariadb.py", "test_security_scan.py", "test_security_settings.py",
                        "test_security_workloads.py"),
    "policy-pack": ("test_policy_pack.py",),  # the pack, its bases' runs and their reports
    "dataplane-tunnels": ("test_dataplane.py",),  # tunnel_probes: the three overlays' emulations
    "component-package": ("test_component_package.py",),  # constructed, all_in_one
    "doctor-live": ("test_doctor.py",),  # live: the module's own engine run
    # No shared fixture, but seconds of tests: as units they start before the single tests (xdist hands out the
    # biggest units first), so the single tests even out the two workers' ends instead of one of these.
    "long-dataplane-differential": ("test_dataplane_differential.py",),
    "long-package": ("test_package.py",),
    "long-flows-mutations": ("test_flows_mutations.py",),
    "long-lifecycle": ("test_lifecycle.py",),
}

# Tests that read the same shared runs (tests/shared_runs.py: one per configuration per worker), kept on one worker
# so that each configuration runs once: home i goes to worker i (mod the number of workers), before that worker's
# other tests. Its units still go one by one (a test, a file, a group above), so the unhomed tests even out the
# workers' ends, and a worker with nothing else to do takes another home's (one run made twice, not an idle core).
# Workers beyond the homes (4 cores) take units in xdist's order. An entry names a group above, a test file, or a
# test (file::name, every parametrization).
RUN_HOMES = (
    # The flow models' modes (tests/flows_models.py MODES: calico with vxlan or IPIP and node-local-dns, flannel with
    # ipvs and node-local-dns, flannel-vxlan); the example app's probe; the CLI's dev preview (`dev_preview`).
    ("dataplane-tunnels", "long-dataplane-differential", "long-flows-mutations", "test_flows.py", "test_data_path.py",
     "test_example_app.py", "test_cli.py::test_dev_preview_prints_tree_and_node_table"),
    # SCAN_VARIANTS (flannel, vxlan, ipvs with node-local-dns), node-local-dns alone, calico with IPIP, the policy
    # pack's bases. flannel-vxlan (the pack's, the CNI tests') is a flow mode too: the one run made on both workers.
    ("variant-records", "policy-pack", "test_cluster.py", "test_cni_wiring.py", "test_identity.py", "test_dns_stack.py",
     "test_urn_snapshot.py", "test_lb_controller.py::test_fail_closed_webhooks_order_what_they_intercept",
     "test_network.py::test_overlay_has_no_pod_routes"),
)


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    if hasattr(config, "workerinput") or not config.pluginmanager.hasplugin("xdist"):
        return
    if config.option.numprocesses is None and not config.option.usepdb:
        config.option.numprocesses = "auto"
        if config.option.dist == "no":
            config.option.dist = "loadgroup"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # xdist's own reading of it
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(cores, MAX_WORKERS) if cores > 1 else 0


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    if config.option.dist != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    group_of = {f"tests/{name}": group for group, names in SHARED_FIXTURE_GROUPS.items() for name in names}
    home_of = {entry if entry in SHARED_FIXTURE_GROUPS else f"tests/{entry}": home
               for home, entries in enumerate(RUN_HOMES) for entry in entries}
    homes: dict[str, int | None] = {}  # scope -> its home's worker

    class SharedFixtureScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return group_of.get(nodeid.split("::", 1)[0], nodeid)

        def _assign_work_unit(self, node) -> None:
            """The next unit of this worker's home, else the next unhomed one, else the next of another home (xdist
            takes the queue's first; the queue is in xdist's order, the units with the most tests first). A worker
            with no home (more workers than homes) takes the queue's first: the homes' big units are shared out."""
            worker = node.gateway.id.removeprefix("gw")
            if not worker.isdigit() or int(worker) >= len(RUN_HOMES):
                return super()._assign_work_unit(node)
            best = None
            for scope in self.workqueue:
                home = self._home(scope)
                rank = 0 if str(home) == worker else 1 if home is None else 2
                if best is None or rank < best[0]:
                    best = (rank, scope)
                    if rank == 0:
                        break
            self.workqueue.move_to_end(best[1], last=False)
            super()._assign_work_unit(node)

        def _home(self, scope: str) -> int | None:
            if scope not in homes:
                test = scope.split("[", 1)[0]  # a test's every parametrization
                home = next((home_of[key] for key in (scope, test, test.split("::", 1)[0]) if key in home_of), None)
                homes[scope] = None if home is None else home % self.numnodes
            return homes[scope]

    return SharedFixtureScheduling(config, log)


def pytest_configure(config):
    if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
        _hypothesis_summary_only_when_it_has_something(config)
        return  # the xdist controller: the workers run the tests
    # Imported up front on purpose: CPython 3.11.7 (this machine's) can raise "SystemError: AST
    # constructor recursion depth mismatch" (gh-106905, fixed in 3.11.8) when hypothesis's pytest
    # plugin imports this module late, under assertion rewriting, after the Pulumi runtime ran.
    import hypothesis.internal.observability  # noqa: F401

    import offline.aws  # noqa: F401 -- before any test module imports moto (offline/aws/region_lists.py)

    # The suite keeps every shared run alive, so the heap only grows: collect the young generation less
    # often and the whole heap rarely (offline/harness/gc_policy.py has the figures).
    gc.set_threshold(*gc_policy.RUN_THRESHOLDS)


def _hypothesis_summary_only_when_it_has_something(config) -> None:
    """hypothesis's pytest plugin (6.x) imports all of hypothesis in its terminal summary (0.4 s of the controller's
    CPU, after the workers are done: wall time) to see whether it wrote observations. The controller imports
    hypothesis for nothing else: its summary runs only when it has something to show (statistics asked for with
    --hypothesis-show-statistics, a failing example's patch, observability on); the rest of the plugin is as it was."""
    plugin = config.pluginmanager.get_plugin("hypothesispytest")
    summary = getattr(plugin, "pytest_terminal_summary", None)
    if summary is None:
        return
    stats_key = getattr(plugin, "STATS_KEY", "_hypothesis_stats")  # on every hypothesis test's report
    examples_key = getattr(plugin, "FAILING_EXAMPLES_KEY", "_hypothesis_failing_examples")  # a failure's patch
    print_stats = config.getoption(getattr(plugin, "PRINT_STATISTICS_OPTION", "--hypothesis-show-statistics"))

    def pytest_terminal_summary(terminalreporter):
        keys = (examples_key, stats_key) if print_stats else (examples_key,)
        reports = (r for rs in terminalreporter.stats.values() for r in rs)
        if ("hypothesis" in sys.modules or any(k.startswith("HYPOTHESIS_EXPERIMENTAL_OBSERVABILITY") for k in os.environ)
                or any(key in getattr(r, "__dict__", {}) for r in reports for key in keys)):
            summary(terminalreporter)

    # Its runtime hooks move to a stand-in (the historic ones, pytest_addoption and pytest_configure, already ran).
    hooks = {name: getattr(plugin, name) for name in dir(plugin)
             if name.startswith("pytest_") and not getattr(config.hook, name).is_historic()}
    hooks["pytest_terminal_summary"] = pytest_terminal_summary
    config.pluginmanager.unregister(plugin)
    config.pluginmanager.register(type("HypothesisPlugin", (), {k: staticmethod(v) for k, v in hooks.items()})(),
                                  "hypothesispytest")


_exit_status: list[int] = []


@pytest.hookimpl(trylast=True)  # after the session fixtures' teardown (the runner's sessionfinish)
def pytest_sessionfinish(session, exitstatus):
    _exit_status[:] = [int(exitstatus)]
    # pytest's unraisable-exception plugin collects the whole heap at unconfigure, to run the finalizers of what is
    # garbage by then. Here that is the shared runs the session just closed: ~370k objects of a ~950k heap, 1.15 s
    # per xdist worker, all at the end, freed only for the process to leave by os._exit (pytest_unconfigure).
    # Frozen, they are out of that scan; what becomes garbage after this point is still collected and reported.
    gc.freeze()


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """Everything is reported: leave without the interpreter's teardown of the session's heap (every shared run is
    still alive: 1-2 s of freeing objects, in each xdist worker too), as the CLI does. Exit handlers still run."""
    if not _exit_status:
        return  # no session ran (e.g. --help): let pytest finish as usual
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status[0])


def pytest_collection_finish(session):
    # What collection imported (the SDKs, moto, every test module: ~1M objects) lives as long as the session:
    # out of every later collection's scan (gc.freeze, as gc_policy.after_imports does for the CLI); ~1 s a run.
    gc.freeze()


def _engine(*args, **kwargs):
    from offline import OfflineEngine

    return OfflineEngine(*args, **kwargs)


@pytest.fixture(scope="session")
def stack_run(tmp_path_factory):
    from tests import shared_runs

    probes = tmp_path_factory.mktemp("probes")

    def run(config: dict | None = None, stack: str = "dev", project_dir: Path = ROOT, program: str | None = None,
            **engine_options):
        if program is not None:  # a probe project (stack "test"), one directory per distinct program
            project_dir = probes / hashlib.sha256(program.encode()).hexdigest()[:16]
            if not project_dir.exists():
                project_dir.mkdir()
                probe_project(project_dir, program)
            stack = "test"
        return shared_runs.shared_run(config, stack, project_dir, **engine_options)

    yield run
    shared_runs.close_all()


@pytest.fixture
def run_stack():
    current: list = []

    def run(config: dict | None = None, stack: str = "dev", project_dir: Path = ROOT, **kwargs):
        while current:
            current.pop().__exit__(None, None, None)
        engine = _engine(project_dir, stack, config, **kwargs).__enter__()
        current.append(engine)
        return engine.run(), engine

    yield run
    while current:
        current.pop().__exit__(None, None, None)


@pytest.fixture
def run_copy(stack_run):
    forks: list = []

    def copy_run(config: dict | None = None, **kwargs):
        result, engine = stack_run(config, **kwargs)
        forks.append(engine.fork())
        return copy.deepcopy(result), forks[-1]

    yield copy_run
    while forks:
        forks.pop().__exit__(None, None, None)


@pytest.fixture
def dev_stack(stack_run):
    """The dev stack's shared run (see `stack_run`): (result, engine), known to have succeeded."""
    result, engine = stack_run()
    assert result.ok, result.error
    return result, engine


@pytest.fixture(scope="session")
def dev_preview():
    """`python -m offline --cwd ROOT` (the dev preview), run once for the tests that read what it prints:
    (exit status, stdout). Its own engine run, as the CLI makes it (not a shared one)."""
    import contextlib
    import io

    from offline.__main__ import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["--cwd", str(ROOT)])
    return status, out.getvalue()


@pytest.fixture(scope="session")
def dev_records(stack_run):
    """The dev stack's RunResult (the shared run of `stack_run`), for tests that read only what it recorded
    (resources, inputs, dependencies, exports), not the simulated AWS it left behind."""
    result, _ = stack_run()
    assert result.ok, result.error
    return result


def nodes_config(*indices: int, **extra) -> dict:
    """A `nodes` map node<i> -> {index: i} (plus any per-node extras keyed by node name)."""
    return {f"node{i}": {"index": i, **extra.get(f"node{i}", {})} for i in indices}


def probe_project(directory: Path, program: str) -> Path:
    """A throwaway one-file Pulumi project (stack `test`, us-east-1) for probing the engine."""
    (directory / "Pulumi.yaml").write_text("name: probe\nruntime: python\n")
    (directory / "Pulumi.test.yaml").write_text("config:\n  aws:region: us-east-1\n")
    (directory / "__main__.py").write_text(program)
    return directory


# The dev stack and the variants the security tests scan (checkov, image digests): the session's shared runs
# of those configurations (other tests read them too: the identity, URN and DNS tests). Records only.
SCAN_VARIANTS = {"dev": {}, "flannel": {"cni": "flannel"}, "vxlan": {"encapsulation": "vxlan"},
                 "ipvs-node-local-dns": {"kubeProxyMode": "ipvs", "nodeLocalDns": True}}


@pytest.fixture(scope="session")
def variant_records(stack_run):
    """variant -> the records of its shared run (see SCAN_VARIANTS); read them, never change them."""
    out = {}
    for label, config in SCAN_VARIANTS.items():
        result, _ = stack_run(config)
        assert result.ok, f"{label}: {result.error}"
        out[label] = list(result.records.values())
    return out
