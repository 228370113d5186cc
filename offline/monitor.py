"""A MockMonitor that records every registration: inputs, outputs, parent, dependencies, options."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor, MockResourceArgs, _resolve_callbacks
from pulumi.runtime.proto import resource_pb2
from pulumi.runtime.sync_await import _ensure_event_loop, _sync_await


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


class RecordingMonitor(MockMonitor):
    def __init__(self, mocks):
        super().__init__(mocks)
        self.records: dict[str, Registration] = {}
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
        # moto's backends are not thread-safe, and one-at-a-time keeps reruns reproducible.
        with self._lock:
            resource_id, state = self.mocks.new_resource(args)
            record.id = resource_id
            record.outputs = state
            self.records[urn] = record
        obj_proto = _sync_await(rpc.serialize_properties(state, {}))
        self.resources[urn] = MockMonitor.ResourceRegistration(urn, resource_id, state)
        return resource_pb2.RegisterResourceResponse(urn=urn, id=resource_id, object=obj_proto)

    def RegisterResourceOutputs(self, request):
        record = self.records.get(request.urn)
        if record is not None:
            record.outputs = rpc.deserialize_properties(request.outputs)
        return super().RegisterResourceOutputs(request)
