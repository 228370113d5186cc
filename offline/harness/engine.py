"""Run the Pulumi program in-process against moto: no CLI, no credentials, no network.

    with OfflineEngine(project_dir, stack="dev", config={"nodes": {...}}) as engine:
        result = engine.run()
        engine.client("ec2").describe_route_tables()

The program runs exactly as `pulumi up` would run it (``run_in_stack`` on ``__main__.py``),
with ``preview=False`` so every output resolves and every ``apply`` runs.
"""

from __future__ import annotations

import json
import logging
import os
import runpy
import sys
import traceback
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import aws  # noqa: F401 -- first: offline/aws makes boto's region lists cheap before moto imports
import boto3
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ec2.models import ec2_backends
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await

from ..kube.api_server import KubeContext
from ..aws import moto_speedups, moto_state
from ..aws.context import AwsContext
from ..aws.partitions import region_problem
from ..aws.ec2_reader import Ec2Reader
from . import gc_policy, sdk_speedups
from .mocks import MotoMocks
from .monitor import Registration, RecordingMonitor
from .project import ProjectError, ResolvedConfig, resolve_config

# The simulated account's "Routes per route table" quota: what the stack says it has (the project's
# routeTableQuota), else AWS's default; OfflineEngine(route_table_quota=...) simulates another account.
ROUTE_QUOTA_KEY = "k8s-networking:routeTableQuota"
AWS_DEFAULT_ROUTE_QUOTA = 50


@dataclass
class RunResult:
    config: ResolvedConfig
    records: dict[str, Registration]  # by URN, in registration order, the root stack included
    exports: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # the one clear message a failed run ends with
    error_kind: str | None = None  # "config" | "aws" | "kubernetes" | "program"
    logs: list[tuple[str, str]] = field(default_factory=list)
    traceback: str | None = None  # kept for unexpected ("program") errors only

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def resources(self) -> list[Registration]:
        """Everything the program registered, the root stack left out."""
        return [r for r in self.records.values() if r.type != "pulumi:pulumi:Stack"]

    def of_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.resources if r.type == type_token]

    def named(self, name: str) -> Registration:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]


class _LogCollector(pulumi_mocks.MockEngine):
    def __init__(self):
        super().__init__(logging.getLogger("offline.program"))
        self.messages: list[tuple[str, str]] = []

    def Log(self, request):
        self.messages.append((logging.getLevelName(10 * (request.severity + 1)), request.message))
        return super().Log(request)


class _InlineExecutor(ThreadPoolExecutor):
    """Runs each RPC at once on the event loop's thread.

    The SDK hands RPCs to the loop's executor; with a thread pool, when a registration reaches
    the monitor depends on thread timing, and so do moto's sequential private IPs. Inline, the
    order is the asyncio schedule: the same on every run. (A ThreadPoolExecutor subclass only
    because asyncio insists on one; it never starts a thread.)
    """

    def __init__(self):
        super().__init__(max_workers=1)

    def submit(self, fn, /, *args, **kwargs):
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 -- handed to the awaiting task
            future.set_exception(exc)
        return future


# Errors a run reports as its one message, by class name (ConfigError lives in the program's
# own package, which the engine does not import), and the kind each is reported as.
_ERROR_KINDS = {"AwsRejection": "aws", "KubeRejection": "kubernetes", "TlsRejection": "tls", "ConfigError": "config",
                "ProjectError": "config", "DuplicateUrn": "program"}


def _quiet_reported_errors(loop, context) -> None:
    """A refused resource leaves futures nobody awaits; the run already reports that error."""
    exc = context.get("exception")
    if exc is not None and type(_root_cause(exc)).__name__ in _ERROR_KINDS:
        return
    loop.default_exception_handler(context)


def _root_cause(exc: BaseException) -> BaseException:
    """The ConfigError/AwsRejection behind whatever the runtime wrapped it in."""
    seen = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if type(current).__name__ in _ERROR_KINDS:
            return current
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]
    visited = {id(exc)}  # the original error, not the runtime's re-raise; a cause chain may loop on itself
    while exc.__cause__ is not None and id(exc.__cause__) not in visited:
        exc = exc.__cause__
        visited.add(id(exc))
    return exc


def _assumed_role(config: ResolvedConfig) -> str | None:
    """The role the stack's AWS provider assumes (aws:assumeRoles[0].roleArn): who the run acts as."""
    try:
        roles = json.loads(config.get("aws:assumeRoles") or "[]")
    except json.JSONDecodeError:
        return None
    roles = [roles] if isinstance(roles, dict) else roles
    return roles[0].get("roleArn") if roles and isinstance(roles[0], dict) else None


class OfflineEngine:
    def __init__(
        self,
        project_dir: str | Path = ".",
        stack: str = "dev",
        config: dict[str, Any] | None = None,
        route_table_quota: int | None = None,
    ):
        self.project_dir = Path(project_dir).resolve()
        self.stack = stack
        self.overrides = dict(config or {})
        self.route_table_quota = route_table_quota
        self.region: str | None = None
        self.kube: KubeContext | None = None
        self.aws: AwsContext | None = None  # the simulated account's state moto does not keep (EKS access, S3)
        self._moto = None

    # The engine's AWS lives as long as the engine, so tests can read back what its runs created. Another
    # engine may be live in between (moto holds one AWS at a time): aws/moto_state.py parks and restores.
    def __enter__(self) -> OfflineEngine:
        if self._moto is not None:
            return self  # already open: a fork, used in a `with` block
        # moto's 1300 sample AMIs cost 0.3 s per run; the engine publishes the EKS AMIs it serves.
        os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        moto_speedups.install()
        sdk_speedups.install()
        moto_state.make_live(self)  # an empty AWS; the one that was live is parked before moto may reset
        self._moto = mock_aws()
        self._moto.start(reset=True)
        return self

    def __exit__(self, *exc) -> None:
        moto_state.forget(self)
        self._moto.stop()
        self._moto = None

    def activate(self) -> None:
        """Put this engine's AWS into moto's backends (parking the one there), for code that reads the
        backends directly (``ec2_backends[account][region]``); clients and readers do it themselves."""
        self._require_open()
        moto_state.make_live(self)

    def client(self, service: str):
        """A boto3 client of this engine's AWS: every call it makes reads this engine's state."""
        self.activate()
        client = boto3.client(service, region_name=self.region)
        client.meta.events.register("before-call", lambda **_: moto_state.make_live(self))
        return client

    def ec2_reader(self) -> Ec2Reader:
        """This engine's EC2 state for reading, without boto3's round trip (aws/ec2_reader.py)."""
        self.activate()
        return Ec2Reader(ec2_backends[DEFAULT_ACCOUNT_ID][self.region], lambda: self.client("ec2"))

    def fork(self, kind: type[OfflineEngine] | None = None) -> OfflineEngine:
        """A new open engine whose AWS (moto's backends, the account state moto does not keep) and API server are
        copies of this one's, as its last run left them: what a test that changes them starts from instead of
        running the program again (tests/conftest.py's ``run_copy``). Changing either leaves the other as it was.
        Close it like any engine (or use it in a `with` block). ``kind``: the new engine's class (default
        OfflineEngine; what a subclass keeps beyond the engine's state is not copied)."""
        self._require_open()
        twin = (kind or OfflineEngine)(self.project_dir, self.stack, self.overrides, self.route_table_quota)
        # The schemas are read-only and shared by every API server of a version: not copied.
        schemas = [s for s in [vars(self.kube).get("schemas")] if s is not None] if self.kube else []
        parked, twin.aws, twin.kube = moto_state.copy_of(self, self.aws, self.kube, keep=schemas)
        twin.region, twin._assumed_role = self.region, getattr(self, "_assumed_role", None)
        twin.__enter__()  # an empty AWS, live
        moto_state.adopt(twin, parked)
        return twin

    def _require_open(self) -> None:
        if self._moto is None:
            raise RuntimeError("use the engine inside `with OfflineEngine(...) as engine:`")

    def run(self) -> RunResult:
        with gc_policy.during_a_run():
            return self._run()

    def _run(self) -> RunResult:
        self.activate()  # a second run continues this engine's AWS (an update after an up)
        try:
            config = resolve_config(self.project_dir, self.stack, self.overrides)
        except ProjectError as exc:
            empty = ResolvedConfig(project="", stack=self.stack, values={}, secret_keys=[])
            return RunResult(empty, {}, error=str(exc), error_kind="config")
        self.region = config.get("aws:region")
        if not self.region:
            return RunResult(config, {}, error="aws:region: set the AWS region in the stack file", error_kind="config")
        if (problem := region_problem(self.region)) is not None:  # the provider refuses it too
            return RunResult(config, {}, error=f"aws:region: {problem}", error_kind="config")
        quota = self.route_table_quota or int(config.get(ROUTE_QUOTA_KEY, AWS_DEFAULT_ROUTE_QUOTA))
        self._assumed_role = _assumed_role(config)  # who the run acts as (aws:assumeRoles)
        monitor = self._monitor(quota)
        log = _LogCollector()
        self._configure(config, monitor, log)

        main = self.project_dir / "__main__.py"
        result = RunResult(config, monitor.records, logs=log.messages)
        sys.path.insert(0, str(self.project_dir))
        cwd = os.getcwd()
        os.chdir(self.project_dir)
        try:
            _sync_await(run_in_stack(lambda: runpy.run_path(str(main), run_name="__main__")))
        except BaseException as exc:  # noqa: BLE001 -- reported as the run's one error
            cause = _root_cause(exc)
            result.error = str(cause)
            result.error_kind = _ERROR_KINDS.get(type(cause).__name__, "program")
            if result.error_kind in ("aws", "kubernetes", "tls"):
                failed = getattr(cause, "registration", None) or (monitor.failed[0] if monitor.failed else None)
                where = f"{failed.type} {failed.name}: " if failed else ""
                who = {"aws": "AWS", "kubernetes": "the Kubernetes API server", "tls": "the tls provider"}[result.error_kind]
                result.error = f"{who} rejected {where}{cause}"
            elif result.error_kind == "program":
                result.error = f"{type(cause).__name__}: {cause}"
                result.traceback = "".join(traceback.format_exception(cause))
        finally:
            os.chdir(cwd)
            sys.path.remove(str(self.project_dir))
        stack_record = next((r for r in monitor.records.values() if r.type == "pulumi:pulumi:Stack"), None)
        if stack_record is not None:
            result.exports = stack_record.outputs
        return result

    def _monitor(self, quota: int) -> RecordingMonitor:
        """A new account and API server for the run (offline.harness.lifecycle keeps them across runs)."""
        # The API server takes its version and service CIDR from the EKS cluster once one is created.
        self.kube = KubeContext(region=self.region)  # what the simulated API server holds, for tests to read back
        self.aws = AwsContext(region=self.region, route_table_quota=quota, assumed_role=self._assumed_role)
        return RecordingMonitor(MotoMocks(self.aws, self.kube))

    def _configure(self, config: ResolvedConfig, monitor: RecordingMonitor, log: _LogCollector) -> None:
        # A previous run's unfinished (e.g. refused) work must not leak into this one.
        pulumi_settings.SETTINGS.outputs.clear()
        pulumi_settings.ROOT.set(None)
        pulumi_settings.configure(
            pulumi_mocks.MockSettings(
                monitor=monitor,
                monitor_features=set(monitor.GetDeploymentInfo(None).supportedFeatures),
                engine=log,
                project=config.project,
                stack=config.stack,
                dry_run=False,  # resolve every output so apply-based checks really run
                organization="organization",
                callbacks=None,
            )
        )
        set_all_config(config.values, config.secret_keys)
        loop = _ensure_event_loop()
        loop.set_default_executor(_InlineExecutor())
        loop.set_exception_handler(_quiet_reported_errors)

