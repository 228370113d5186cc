"""A stack's life across updates and its destruction, against one simulated account: what a second
`pulumi up` with a new config does to what the first one created, and the order `pulumi destroy` deletes in.

    with Lifecycle(".", "dev", config=old) as life:
        first = life.up()                       # creates, like OfflineEngine.run
        second = life.up(config=new)            # an update against the same moto / API-server state
        third = life.up(replace=[instance_urn]) # `pulumi up --replace <urn>`
        order = life.destroy()                  # `pulumi destroy`: reverse dependency order

Pulumi's update semantics, as the engine runs them (pulumi/pulumi pkg/resource/deploy step_generator.go):
- a URN the state does not hold (nor any of its aliases) is created when the program registers it;
- a URN it holds, with the same inputs (ignoreChanges left out), is left alone ("same");
- changed inputs update in place, unless a replacement-forcing input changed (the provider's ForceNew
  arguments: offline/aws/changes.py; for Kubernetes objects apiVersion, kind, name, namespace), the input is
  in replaceOnChanges, or the URN was given to ``--replace``. A replacement creates the new resource first
  and deletes the old one at the end of the update; with ``deleteBeforeReplace`` it deletes first;
- URNs the program no longer registers are deleted at the end, dependents before their dependencies.
So a new resource that claims what an old one still holds (a route for the same table and CIDR) fails
exactly as on AWS. Deletions and in-place updates of the modelled types are applied to moto and the API
server; other types only leave the state.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pulumi.runtime.mocks import MockResourceArgs

from ..aws import changes as aws_changes
from ..aws import constraints
from ..aws.context import AwsContext
from ..kube import helm
from ..kube.api_server import KubeContext, is_api_object
from .dependencies import delete_order
from .engine import OfflineEngine, RunResult
from .mocks import HELM_RELEASE, MotoMocks, plain
from .monitor import RecordingMonitor, Registration

STACK = "pulumi:pulumi:Stack"
KUBE_IDENTITY = (("apiVersion",), ("kind",), ("metadata", "name"), ("metadata", "namespace"))


@dataclass(frozen=True)
class Step:
    """One thing an update or destroy did: create, same, update, create-replacement, delete-replaced
    (at the end, or first with deleteBeforeReplace), delete."""

    op: str
    urn: str
    type: str


def _get(value: Any, path: Iterable[str]) -> Any:
    for part in path:
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def changed_inputs(old: Mapping, new: Mapping, ignore: Iterable[str] = ()) -> set[str]:
    """Top-level input names whose values differ (ignoreChanges left out)."""
    return {k for k in set(old) | set(new) if k not in set(ignore) and old.get(k) != new.get(k)}


def forces_replacement(record: Registration, old: Registration, changed: set[str]) -> bool:
    if set(record.options.get("replaceOnChanges") or ()) & changed:
        return True
    if is_api_object(record.type):
        return any(_get(old.inputs, p) != _get(record.inputs, p) for p in KUBE_IDENTITY)
    return bool(set(aws_changes.REPLACE_ON.get(record.type, ())) & changed)


class UpdatingMonitor(RecordingMonitor):
    """The monitor of a later run: registrations are diffed against the prior state instead of created."""

    def __init__(self, mocks: MotoMocks, prior: Mapping[str, Registration], replace: Iterable[str], steps: list):
        super().__init__(mocks)
        self.prior = dict(prior)
        self.replace = set(replace)
        self.steps = steps
        self.claimed: set[str] = set()  # prior URNs this run registered again (directly or by alias)
        self.condemned: list[Registration] = []  # replaced, to delete at the end

    def _old(self, record: Registration) -> str | None:
        if record.urn in self.prior:
            return record.urn
        return next((a for a in record.options.get("aliases") or () if a in self.prior), None)

    def provide(self, record: Registration, args: MockResourceArgs) -> tuple[str | None, dict]:
        old_urn = self._old(record)
        if old_urn is not None:
            self.claimed.add(old_urn)
        if not record.custom:
            return self.mocks.new_resource(args)
        if old_urn is None:
            self.steps.append(Step("create", record.urn, record.type))
            return self.mocks.new_resource(args)
        old = self.prior[old_urn]
        changed = changed_inputs(old.inputs, record.inputs, record.options.get("ignoreChanges") or ())
        forced = record.urn in self.replace or old_urn in self.replace
        if not changed and not forced:
            self.steps.append(Step("same", record.urn, record.type))
            return old.id, old.outputs
        if forced or forces_replacement(record, old, changed):
            salt = f"replacement-of-{old.id}"
            if record.options.get("deleteBeforeReplace"):
                self.delete(old, "delete-replaced")
                self.steps.append(Step("create-replacement", record.urn, record.type))
                return self.mocks.new_resource(args, salt)
            self.steps.append(Step("create-replacement", record.urn, record.type))
            created = self.mocks.new_resource(args, salt)
            self.condemned.append(old)
            return created
        self.steps.append(Step("update", record.urn, record.type))
        return old.id, self.update(old, record)

    def update(self, old: Registration, record: Registration) -> dict:
        mocks, new = self.mocks, dict(record.inputs)
        if mocks.kube is not None and is_api_object(record.type):
            return mocks.kube.update(record.type, dict(old.inputs), new)[1]
        if mocks.kube is not None and record.type == HELM_RELEASE:
            helm.upgrade(mocks.kube, plain(old.inputs), plain(new))
        if record.type.startswith("aws:"):  # the field table applies to what an update sends too
            constraints.check(record.type, constraints.autonamed(record.type, record.name, new), mocks.ctx.partition)
        handler = aws_changes.UPDATES.get(record.type)
        if handler is not None:
            return handler(mocks.ctx, old.id, dict(old.outputs), plain(new))
        return {**old.outputs, **new}

    def delete(self, old: Registration, op: str = "delete") -> None:
        mocks = self.mocks
        if old.custom:
            if mocks.kube is not None and is_api_object(old.type):
                mocks.kube.delete(dict(old.inputs), old.type)
            elif mocks.kube is not None and old.type == HELM_RELEASE:
                helm.uninstall(mocks.kube, plain(old.inputs))
            elif old.type in aws_changes.DELETES:
                aws_changes.DELETES[old.type](mocks.ctx, old.id, dict(old.outputs))
        self.steps.append(Step(op, old.urn, old.type))

    def finish(self) -> None:
        """The end of the update: replaced resources, then those the program no longer registers, each
        deleted before what it depends on."""
        removed = {u: r for u, r in self.prior.items() if u not in self.claimed and r.type != STACK}
        for old in self.condemned:
            self.delete(old, "delete-replaced")
        for urn in delete_order(removed):
            self.delete(removed[urn])


class Lifecycle(OfflineEngine):
    """An OfflineEngine whose runs are successive `pulumi up`s of one stack (see the module docstring)."""

    def __init__(self, project_dir=".", stack: str = "dev", config: dict | None = None,
                 route_table_quota: int | None = None):
        super().__init__(project_dir, stack, config, route_table_quota)
        self.state: dict[str, Registration] = {}  # what the last successful update left
        self.steps: list[Step] = []  # every step of every update and destroy, in order
        self._replace: set[str] = set()
        self._mocks: MotoMocks | None = None
        self._monitor_: UpdatingMonitor | None = None

    def _monitor(self, quota: int) -> RecordingMonitor:
        if self._mocks is None:  # one account and API server for the stack's whole life
            self.kube = KubeContext(region=self.region)
            self.aws = AwsContext(region=self.region, route_table_quota=quota, assumed_role=self._assumed_role)
            self._mocks = MotoMocks(self.aws, self.kube)
        self._monitor_ = UpdatingMonitor(self._mocks, self.state, self._replace, self.steps)
        return self._monitor_

    @classmethod
    def after(cls, result: RunResult, engine: OfflineEngine) -> Lifecycle:
        """The stack whose first `pulumi up` was ``engine``'s last run, ``result``: it goes on from a fork of the
        engine (its AWS and API server copied) with copies of the run's records as the state; ``engine`` and
        ``result`` are left as they were. An OfflineEngine run is what a first up on an empty state does (every
        resource created), so this is that up without running the program again."""
        if not result.ok:
            raise ValueError(f"a failed run leaves no state to update: {result.error}")
        life = engine.fork(cls)
        life.state = copy.deepcopy(result.records)
        life._mocks = MotoMocks(life.aws, life.kube)
        return life

    def up(self, config: dict | None = None, replace: Iterable[str] = ()) -> RunResult:
        """`pulumi up` (with ``--replace`` for each URN in ``replace``); ``config`` replaces the overrides."""
        if config is not None:
            self.overrides = dict(config)
        self._replace = set(replace)
        result = self.run()
        if result.ok:
            self._monitor_.finish()
            self.state = {u: r for u, r in result.records.items()}
        return result

    def destroy(self) -> list[str]:
        """`pulumi destroy`: deletes everything in a valid order (returned); the state is then empty.
        Resources with retainOnDelete leave the state but stay in the cloud."""
        order = delete_order(self.state)
        self.activate()  # the deletes go to this stack's AWS (another engine may have run since)
        monitor = UpdatingMonitor(self._mocks, self.state, (), self.steps)
        for urn in order:
            record = self.state[urn]
            if record.options.get("retainOnDelete"):
                self.steps.append(Step("retain", urn, record.type))
            else:
                monitor.delete(record)
        self.state = {}
        return order
