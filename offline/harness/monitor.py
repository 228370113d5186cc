"""A MockMonitor that records every registration: inputs, outputs, parent, dependencies, options."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs, _resolve_callbacks
from pulumi.runtime.proto import provider_pb2, resource_pb2
from pulumi.runtime.sync_await import _ensure_event_loop


@dataclass
class Registration:
    urn: str
    type: str
    name: str
    custom: bool
    parent: str  # parent URN ("" for the stack)
    id: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)  # secrets stay wrapped, as the engine sees them
    outputs: dict[str, Any] = field(default_factory=dict)  # provider state, or a component's registered outputs
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


class DuplicateUrn(Exception):
    pass


def _struct(plain: dict) -> struct_pb2.Struct:
    """Mock state is plain data (no Outputs or Resources), so it converts without the event loop.

    MockMonitor uses the async serializer through _sync_await, which re-enters the running loop;
    the engine runs RPCs inline on the loop's thread, where that re-entry must not happen.
    """
    struct = struct_pb2.Struct()
    struct.update(plain)
    return struct


def _mark_secret_outputs(state: dict, keys) -> dict:
    """What the Pulumi engine does with a resource's ``additionalSecretOutputs`` (e.g. a RandomPassword's
    ``result``): those outputs come back marked secret, whatever the provider returned."""
    keys = set(keys)
    return {k: ({rpc._special_sig_key: rpc._special_secret_sig, "value": v}
                if k in keys and not rpc.is_rpc_secret(v) else v) for k, v in state.items()}


class RecordingMonitor(MockMonitor):
    def __init__(self, mocks):
        super().__init__(mocks)
        self.records: dict[str, Registration] = {}
        self.failed: list[Registration] = []  # registrations the (simulated) provider refused
        self._lock = threading.Lock()

    def RegisterResource(self, request):
        urn = self.make_urn(request.parent, request.type, request.name)
        if urn in self.records:
            # The Pulumi engine refuses two resources with one URN; MockMonitor would overwrite.
            raise DuplicateUrn(f"Duplicate resource URN '{urn}'; try giving it a unique name")
        record = Registration(
            urn=urn,
            type=request.type,
            name=request.name,
            custom=bool(request.custom),
            parent=request.parent,
            dependencies=sorted(request.dependencies),
            property_dependencies={k: sorted(v.urns) for k, v in request.propertyDependencies.items()},
            options={
                "protect": bool(getattr(request, "protect", False)),
                "retainOnDelete": bool(getattr(request, "retainOnDelete", False)),
                "deleteBeforeReplace": bool(request.deleteBeforeReplace),
                "ignoreChanges": sorted(request.ignoreChanges),
                "replaceOnChanges": sorted(request.replaceOnChanges),
                "additionalSecretOutputs": sorted(request.additionalSecretOutputs),
                "provider": request.provider,
                "aliases": self.alias_urns(request),
            },
        )
        if request.type == "pulumi:pulumi:Stack":
            self.records[urn] = record
            return resource_pb2.RegisterResourceResponse(urn=urn)

        _ensure_event_loop()
        record.inputs = rpc.deserialize_properties(request.object)
        args = MockResourceArgs(
            typ=request.type,
            name=request.name,
            inputs=record.inputs,
            provider=request.provider,
            resource_id=request.importId,
            custom=request.custom or False,
            transforms=_resolve_callbacks(request.transforms),
        )
        # The engine runs RPCs one at a time; the lock keeps moto safe should anything use threads.
        with self._lock:
            try:
                resource_id, state = self.provide(record, args)
            except Exception as exc:
                self.failed.append(record)
                exc.registration = record  # which resource the refusal names (several may fail at once)
                raise
            state = _mark_secret_outputs(state, request.additionalSecretOutputs)
            record.id = resource_id
            record.outputs = state
            self.records[urn] = record
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, resource_id, state)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id, object=_struct(state))

    def provide(self, record: Registration, args: MockResourceArgs) -> tuple[str | None, dict]:
        """Create the resource (a later run of a lifecycle updates what an earlier one created instead)."""
        return self.mocks.new_resource(args)

    def alias_urns(self, request) -> list[str]:
        """The URNs a registration's aliases name (alias specs resolved against its parent, type and name)."""
        urns = list(request.aliasURNs)
        for alias in request.aliases:
            if alias.WhichOneof("alias") == "urn":
                urns.append(alias.urn)
                continue
            spec = alias.spec
            parent = "" if spec.noParent else (spec.parentUrn or request.parent)
            urns.append(self.make_urn(parent, spec.type or request.type, spec.name or request.name))
        return sorted(urns)

    def Invoke(self, request):
        if request.tok == "pulumi:pulumi:getResource":
            return super().Invoke(request)
        args = MockCallArgs(token=request.tok, args=rpc.deserialize_properties(request.args), provider=request.provider)
        ret = self.mocks.call(args)
        ret, failures = (ret, None) if isinstance(ret, dict) else ret
        checks = [provider_pb2.CheckFailure(property=p, reason=r) for p, r in failures or []]
        return resource_pb2.ResourceInvokeResponse(failures=checks, **{"return": _struct(ret)})

    def RegisterResourceOutputs(self, request):
        record = self.records.get(request.urn)
        if record is not None:
            record.outputs = rpc.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)
