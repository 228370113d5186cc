"""A policy pack over an offline run: the recorded resources fed to the pack's own policies, the way the Pulumi
engine's analyzer feeds them (pulumi_policy/policy.py ``_PolicyAnalyzerServicer``: Analyze per resource with its
inputs, AnalyzeStack with every resource's state, parents and property dependencies, an UnknownValueError turned
into one advisory line, enforcement level from config, else the policy's, else the pack's).

The pack is loaded by running its ``__main__.py`` with ``pulumi_policy.PolicyPack`` replaced by a recorder: the
real constructor starts the analyzer's gRPC server and never returns. So this is the one adapter, and the rules
exist only in the pack.

``preview=True`` makes the run look like a first ``pulumi preview``: every input computed from another
resource's outputs, and every output the program did not set, is unknown.
"""

from __future__ import annotations

import contextlib

import runpy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi_policy
from pulumi_policy import (
    EnforcementLevel,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import proxy as policy_proxy
from pulumi_policy.policy import _NotApplicableError

from .harness.engine import RunResult
from .harness.monitor import Registration
from .kube.api_server import unwrap_secrets


@dataclass(frozen=True)
class Finding:
    policy: str
    level: str  # "mandatory" | "advisory"
    message: str
    urn: str = ""


@dataclass
class PackReport:
    pack: str
    policies: list[str]
    violations: list[Finding] = field(default_factory=list)
    unknown: list[Finding] = field(default_factory=list)  # "can't run policy … during preview" lines (advisory)

    @property
    def mandatory(self) -> list[Finding]:
        return [v for v in self.violations if v.level == EnforcementLevel.MANDATORY.value]

    def text(self) -> str:
        lines = [f"Policy pack {self.pack}: {len(self.policies)} policies, {len(self.violations)} violations "
                 f"({len(self.mandatory)} mandatory)"]
        for v in self.violations + self.unknown:
            lines.append(f"  [{v.level}] {v.policy}: {v.message.splitlines()[-1]}" + (f"  ({v.urn})" if v.urn else ""))
        return "\n".join(lines)


@dataclass
class LoadedPack:
    name: str
    policies: list
    enforcement_level: EnforcementLevel | None


class _Recorder:
    """Stands in for pulumi_policy.PolicyPack while the pack's __main__.py runs."""

    loaded: LoadedPack | None = None

    def __init__(self, name, policies, enforcement_level=None, *args, **kwargs):
        _Recorder.loaded = LoadedPack(name, list(policies), enforcement_level)


def load_pack(pack_dir: str | Path) -> LoadedPack:
    pack_dir = Path(pack_dir).resolve()
    if not (pack_dir / "PulumiPolicy.yaml").is_file():
        raise FileNotFoundError(f"{pack_dir}: no PulumiPolicy.yaml (not a policy pack)")
    original = pulumi_policy.PolicyPack
    pulumi_policy.PolicyPack = _Recorder
    _Recorder.loaded = None
    try:
        runpy.run_path(str(pack_dir), run_name="__main__")
    finally:
        pulumi_policy.PolicyPack = original
    if _Recorder.loaded is None:
        raise RuntimeError(f"{pack_dir}/__main__.py constructed no PolicyPack")
    return _Recorder.loaded


def _sentinel(value: Any) -> str:
    if isinstance(value, bool):
        return policy_proxy.UNKNOWN_BOOLEAN_VALUE
    if isinstance(value, (int, float)):
        return policy_proxy.UNKNOWN_NUMBER_VALUE
    if isinstance(value, Mapping):
        return policy_proxy.UNKNOWN_OBJECT_VALUE
    if isinstance(value, list):
        return policy_proxy.UNKNOWN_ARRAY_VALUE
    return policy_proxy.UNKNOWN_STRING_VALUE


def _inputs(record: Registration, preview: bool) -> dict:
    inputs = unwrap_secrets(record.inputs)  # policies see secrets in plaintext, as the analyzer passes them
    if not preview:
        return inputs
    return {k: _sentinel(v) if record.property_dependencies.get(k) else v for k, v in inputs.items()}


def _merge(base: Any, over: Any) -> Any:
    """``over`` laid on ``base``, maps merged key by key and lists of one length item by item (what the provider
    filled in stays: a Service's clusterIP, each port's nodePort)."""
    if isinstance(base, dict) and isinstance(over, dict):
        return {**base, **{k: _merge(base.get(k), v) for k, v in over.items()}}
    if isinstance(base, list) and isinstance(over, list) and len(base) == len(over):
        return [_merge(b, o) for b, o in zip(base, over)]
    return over


def _state(record: Registration, preview: bool) -> dict:
    """A resource's state as AnalyzeStack sees it: its outputs (the provider's state), with the inputs the
    program sent; in a first preview, every output the program did not send is unknown."""
    outputs = unwrap_secrets(record.outputs)
    if not record.custom:
        return outputs
    if preview:
        outputs = {k: _sentinel(v) for k, v in outputs.items()}
        return {**outputs, **_inputs(record, preview)}
    return _merge(outputs, _inputs(record, preview))


def _options(record: Registration) -> PolicyResourceOptions:
    o = record.options
    return PolicyResourceOptions(protect=o.get("protect", False), ignore_changes=o.get("ignoreChanges", []),
                                 delete_before_replace=o.get("deleteBeforeReplace", False), aliases=[],
                                 custom_timeouts=None, additional_secret_outputs=o.get("additionalSecretOutputs", []))


def _provider_record(record: Registration, result: RunResult) -> Registration | None:
    """The resource's explicit provider ("<urn>::<id>" in its options)."""
    return result.records.get((record.options.get("provider") or "").rsplit("::", 1)[0])


def _provider(record: Registration, result: RunResult, preview: bool) -> PolicyProviderResource | None:
    """The resource's explicit provider, as the analyzer describes it."""
    provider = _provider_record(record, result)
    if provider is None:
        return None
    return PolicyProviderResource(provider.type, policy_proxy.unknown_checking_proxy(_inputs(provider, preview)),
                                  provider.urn, provider.name)


def stack_resources(result: RunResult, preview: bool = False) -> list[PolicyResource]:
    """Every registration as a PolicyResource, parents and dependencies linked by URN (as AnalyzeStack does)."""
    records = list(result.records.values())
    built = {r.urn: PolicyResource(r.type, policy_proxy.unknown_checking_proxy(_state(r, preview)), r.urn, r.name,
                                   _options(r), _provider(r, result, preview), None, [], {}) for r in records}
    for r in records:
        res = built[r.urn]
        res.parent = built.get(r.parent)
        res.dependencies = [built[u] for u in r.dependencies if u in built]
        res.property_dependencies = {k: [built[u] for u in v if u in built] for k, v in r.property_dependencies.items()}
    return list(built.values())


def analyzer_requests(result: RunResult, preview: bool = False) -> tuple[Any, list]:
    """The run's resources as the CLI sends them to a pack it serves (``python -m pulumi.policy``, see
    tests/pack_server.py): one AnalyzeStackRequest (what ``stack_resources`` builds) and an AnalyzeRequest per
    custom resource (what the resource policies read here)."""
    from google.protobuf import struct_pb2
    from pulumi.runtime.proto import analyzer_pb2 as pb

    def struct(props: dict) -> struct_pb2.Struct:
        out = struct_pb2.Struct()
        out.update(props)
        return out

    def options(record: Registration) -> pb.AnalyzerResourceOptions:
        o = _options(record)
        return pb.AnalyzerResourceOptions(protect=o.protect, ignoreChanges=o.ignore_changes,
                                          deleteBeforeReplace=o.delete_before_replace,
                                          deleteBeforeReplaceDefined="deleteBeforeReplace" in record.options,
                                          additionalSecretOutputs=o.additional_secret_outputs)

    def provider(record: Registration) -> pb.AnalyzerProviderResource | None:
        given = _provider_record(record, result)
        return given and pb.AnalyzerProviderResource(type=given.type, properties=struct(_inputs(given, preview)),
                                                     urn=given.urn, name=given.name)

    stack = pb.AnalyzeStackRequest(resources=[pb.AnalyzerResource(
        type=r.type, urn=r.urn, name=r.name, properties=struct(_state(r, preview)), options=options(r),
        provider=provider(r), parent=r.parent, dependencies=r.dependencies,
        propertyDependencies={k: pb.AnalyzerPropertyDependencies(urns=v) for k, v in r.property_dependencies.items()})
        for r in result.records.values()])
    each = [pb.AnalyzeRequest(type=r.type, urn=r.urn, name=r.name, properties=struct(_inputs(r, preview)),
                              options=options(r), provider=provider(r)) for r in result.resources if r.custom]
    return stack, each


def run_pack(pack: LoadedPack | str | Path, result: RunResult, config: Mapping[str, Any] | None = None,
             preview: bool = False) -> PackReport:
    """Every policy of the pack over the run's resources; ``config`` is the policy-pack config (policy name ->
    its settings, ``enforcementLevel`` included), as given to ``--policy-pack-config``."""
    if not isinstance(pack, LoadedPack):
        pack = load_pack(pack)
    with _stack_config(result):
        return _run(pack, result, dict(config or {}), preview)


@contextlib.contextmanager
def _stack_config(result: RunResult):
    """The stack's config as ``pulumi.Config`` sees it while the pack runs: the CLI starts a pack with the stack's
    config in PULUMI_CONFIG, which pulumi-policy loads into the runtime before each check."""
    from pulumi.runtime import config as runtime_config

    saved = runtime_config.CONFIG.get(), runtime_config._SECRET_KEYS.get()
    runtime_config.set_all_config(dict(result.config.values), list(result.config.secret_keys))
    try:
        yield
    finally:
        runtime_config.CONFIG.set(saved[0])
        runtime_config._SECRET_KEYS.set(saved[1])


def _run(pack: LoadedPack, result: RunResult, config: dict, preview: bool) -> PackReport:
    report = PackReport(pack.name, [p.name for p in pack.policies])
    resources = None
    for policy in pack.policies:
        settings = dict(config.get(policy.name) or {})
        level = EnforcementLevel(settings.pop("enforcementLevel", None) or policy.enforcement_level
                                 or pack.enforcement_level or EnforcementLevel.ADVISORY)
        if level == EnforcementLevel.DISABLED:
            continue
        shown = EnforcementLevel.MANDATORY if level == EnforcementLevel.REMEDIATE else level

        def report_violation(message: str, urn: str | None = None, _p=policy, _l=shown) -> None:
            text = _p.description + (f"\n{message}" if message else "")
            report.violations.append(Finding(_p.name, _l.value, text, urn or ""))

        if isinstance(policy, StackValidationPolicy):
            resources = resources if resources is not None else stack_resources(result, preview)
            calls = [StackValidationArgs(resources, settings)]
        elif isinstance(policy, ResourceValidationPolicy):
            calls = [ResourceValidationArgs(r.type, policy_proxy.unknown_checking_proxy(_inputs(r, preview)), r.urn,
                                            r.name, _options(r), _provider(r, result, preview), settings)
                     for r in result.resources if r.custom]
        else:
            continue
        for args in calls:
            try:
                policy.validate(args, report_violation)
            except policy_proxy.UnknownValueError as exc:
                report.unknown.append(Finding(policy.name, EnforcementLevel.ADVISORY.value,
                                              f"can't run policy '{policy.name}' during preview: {exc.message}",
                                              getattr(args, "urn", "")))
            except _NotApplicableError:
                pass
    return report
