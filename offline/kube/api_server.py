"""The Kubernetes API server, as far as the offline engine needs one.

Every ``kubernetes:<group>/<version>:<Kind>`` resource is the object the provider would send:
it is validated against the schema of the cluster's Kubernetes version (or the vendored CRD),
refused like the API server would refuse it, and answered with the fields the server fills in
(a Service's clusterIP and nodePorts, a load balancer's hostname). Helm releases and providers
are not API objects and are echoed; what a release puts into the cluster is modelled in ``helm``.

Every object has an owner: the program (``pulumi``), a Helm release (``helm:<release>``), an EKS add-on,
or a component that creates it at run time (the tigera-operator's FelixConfiguration ``default``). Helm
refuses to render an object someone else owns; a server-side-apply patch (a ``…Patch`` resource) merges
into whatever is there and conflicts only on a field another manager set to a different value.
"""

from __future__ import annotations

import hashlib
import ipaddress
import itertools
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pulumi.runtime import rpc

from . import admission
from .schemas import KubeSchemas, UnknownKind, for_version

NODE_PORT_RANGE = range(30000, 32768)  # kube-apiserver --service-node-port-range default
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
NOT_API_OBJECTS = ("kubernetes:helm.sh/", "kubernetes:yaml/", "kubernetes:kustomize/")


class KubeRejection(Exception):
    """What the API server would answer with an error (status reason and message)."""

    def __init__(self, reason: str, message: str):
        self.reason = reason
        self.message = message
        super().__init__(f"{reason}: {message}")


def unwrap_secrets(value: Any) -> Any:
    """The plain object the provider sends: secret markers removed (the value is still secret
    in Pulumi's state; the API server just sees the data)."""
    if rpc.is_rpc_secret(value):
        return unwrap_secrets(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def _whole_numbers(value: Any) -> Any:
    # Protobuf Structs carry every number as a float; the API's integers are integers.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def _leaves(value: Any, prefix: str):
    """(dotted path, value) of every leaf of a nested dict (lists are leaves, as SSA's atomic lists)."""
    if isinstance(value, dict) and value:
        for k, v in value.items():
            yield from _leaves(v, f"{prefix}.{k}")
    else:
        yield prefix, value


def _merge(base: dict, patch: dict) -> dict:
    out = dict(base)
    for k, v in patch.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _keep_allocations(obj: dict, old: dict) -> dict:
    """A Service update keeps the clusterIP and nodePorts the API server allocated (they are immutable
    or sticky once set; the program does not send them)."""
    spec, old_spec = dict(obj.get("spec") or {}), old.get("spec") or {}
    if old_spec.get("clusterIP") and not spec.get("clusterIP"):
        spec["clusterIP"] = old_spec["clusterIP"]
    old_ports = {(p.get("name"), p.get("port")): p.get("nodePort") for p in old_spec.get("ports") or []}
    spec["ports"] = [{**p, "nodePort": old_ports[(p.get("name"), p.get("port"))]}
                     if "nodePort" not in p and old_ports.get((p.get("name"), p.get("port"))) else p
                     for p in spec.get("ports") or []]
    return {**obj, "spec": spec}


def is_api_object(type_token: str) -> bool:
    return type_token.startswith("kubernetes:") and not type_token.startswith(NOT_API_OBJECTS)


@dataclass
class KubeContext:
    # The cluster's Kubernetes minor version and service CIDR (``attach_cluster``); EKS's defaults until then.
    version: str = "1.35"
    service_cidr: str = "10.100.0.0/16"
    region: str = "us-east-1"
    namespaces: set[str] = field(default_factory=lambda: set(SYSTEM_NAMESPACES))
    node_ports: dict[int, str] = field(default_factory=dict)  # allocated nodePort -> service
    objects: dict[tuple[str, str, str, str], dict] = field(default_factory=dict)  # (apiVersion, kind, ns, name)
    cluster_ips: dict[str, str] = field(default_factory=dict)  # allocated clusterIP -> service
    owners: dict[tuple[str, str, str, str], str] = field(default_factory=dict)  # object key -> who created it
    # object key -> {field path: manager} for fields set by server-side apply or by a run-time creator
    managers: dict[tuple[str, str, str, str], dict[str, str]] = field(default_factory=dict)

    def attach_cluster(self, version: str, service_cidr: str) -> None:
        """The API server of the EKS cluster just created: its version's schemas, its service range."""
        if version != self.version:
            self.__dict__.pop("schemas", None)
        self.version, self.service_cidr = version, service_cidr

    @cached_property
    def schemas(self) -> KubeSchemas:
        # Built on first use: a stack without Kubernetes objects needs no schemas (or version).
        return for_version(self.version)

    def create(self, type_token: str, inputs: dict, owner: str = "pulumi") -> tuple[str, dict]:
        obj = _whole_numbers(unwrap_secrets(inputs))
        partial = type_token.endswith("Patch")
        try:
            problems = self.schemas.errors(obj, partial=partial)
        except UnknownKind as exc:
            raise KubeRejection("NotFound", str(exc)) from None
        meta = obj.get("metadata") or {}
        name = meta.get("name") or ""
        if obj["kind"] == "ValidatingAdmissionPolicy":  # CEL is compiled on create
            problems += admission.compile_errors(obj)
        if problems:
            raise KubeRejection("Invalid", f"{obj['kind']} {name!r} is invalid: " + "; ".join(problems))
        namespace = meta.get("namespace")
        namespaced = self._namespaced(obj)
        if namespaced:
            namespace = namespace or "default"
            if namespace not in self.namespaces:
                raise KubeRejection("NotFound", f'namespaces "{namespace}" not found (create the Namespace '
                                    f"first: make {obj['kind']} {name} depend on it)")
        key = (obj["apiVersion"], obj["kind"], namespace or "", name)
        if partial:
            return self._apply_patch(key, obj, namespaced)
        if key in self.objects:
            # Two resources of one stack managing one object would overwrite each other.
            raise KubeRejection("AlreadyExists", f"{obj['kind']} {name!r} is already managed by another resource")
        if obj["kind"] == "Namespace":
            self.namespaces.add(name)
        state = dict(obj)
        if namespaced:
            state["metadata"] = {**meta, "namespace": namespace}
        if obj["kind"] == "Service":
            state = self._service(state)
        elif obj["kind"] == "Ingress":
            state["status"] = {"loadBalancer": {"ingress": [{"hostname": self._lb_hostname("k8s", namespace, name)}]}}
        self.objects[key] = state
        self.owners[key] = owner
        resource_id = f"{namespace}/{name}" if namespaced else name
        return resource_id, state

    def install(self, obj: dict, owner: str = "eks-addon") -> tuple[str, dict]:
        """An object something other than the program creates (an EKS add-on's), checked the same way."""
        return self.create("kubernetes:installed", obj, owner)

    def place(self, obj: dict, owner: str, fields: dict[str, str] | None = None) -> tuple[str, str, str, str]:
        """An object a chart or a controller puts into the cluster (not validated: its schema is the chart's
        business), recorded with its owner; ``fields``: field path -> manager, for patches to conflict with."""
        meta = obj.get("metadata") or {}
        key = (obj["apiVersion"], obj["kind"], meta.get("namespace") or "", meta.get("name") or "")
        self.objects[key] = obj
        self.owners[key] = owner
        self.managers[key] = dict(fields or {})
        return key

    def owner_of(self, api_version: str, kind: str, name: str, namespace: str = "") -> str | None:
        return self.owners.get((api_version, kind, namespace, name))

    def _apply_patch(self, key: tuple[str, str, str, str], obj: dict, namespaced: bool) -> tuple[str, dict]:
        """Server-side apply (what pulumi-kubernetes sends for a Patch resource, with its field manager:
        the ``pulumi.com/patchFieldManager`` annotation, else a generated one). Creates the object when
        absent (an apply upserts; pulumi-kubernetes provider/pkg/await/await.go notes it always upserts);
        otherwise merges, refusing to take a field another manager holds with a different value unless
        ``pulumi.com/patchForce`` is "true"."""
        annotations = (obj.get("metadata") or {}).get("annotations") or {}
        manager = annotations.get("pulumi.com/patchFieldManager", "pulumi-kubernetes-patch")
        force = annotations.get("pulumi.com/patchForce") == "true"
        current = self.objects.get(key)
        held = self.managers.setdefault(key, {})
        paths = dict(_leaves(obj.get("spec") or {}, "spec"))
        if current is not None:
            have = dict(_leaves(current.get("spec") or {}, "spec"))
            clashes = sorted(p for p, v in paths.items()
                             if held.get(p, manager) != manager and have.get(p) != v)
            if clashes and not force:
                raise KubeRejection("Conflict", f"Apply failed with {len(clashes)} conflict(s): "
                                    + "; ".join(f'conflict with "{held[p]}": .{p}' for p in clashes))
            merged = {**current, "spec": _merge(current.get("spec") or {}, obj.get("spec") or {})}
        else:
            merged = dict(obj)
            self.owners[key] = f"ssa:{manager}"
        held.update({p: manager for p in paths})
        self.objects[key] = merged
        return (f"{key[2]}/{key[3]}" if namespaced else key[3]), merged

    def update(self, type_token: str, old_inputs: dict, inputs: dict) -> tuple[str, dict]:
        """An object the program changes in place: validated like a create; a Service keeps its allocations."""
        old_key = self.key_of(old_inputs)
        old_state = self.objects.get(old_key)
        if type_token.endswith("Patch"):
            return self.create(type_token, inputs)
        self._release(old_key)
        if old_state is not None and old_state["kind"] == "Service":
            inputs = _keep_allocations(_whole_numbers(unwrap_secrets(inputs)), old_state)
        try:
            resource_id, state = self.create(type_token, inputs)
        except KubeRejection:
            if old_state is not None:
                self.objects[old_key], self.owners[old_key] = old_state, "pulumi"
            raise
        return resource_id, state

    def delete(self, inputs: dict, type_token: str = "") -> None:
        """The program deletes an object; a patch instead gives up its fields (pulumi-kubernetes
        relinquishes them on delete): the object stays, without the values only the patch set."""
        key = self.key_of(inputs)
        if not type_token.endswith("Patch"):
            self._release(key)
            return
        annotations = (inputs.get("metadata") or {}).get("annotations") or {}
        manager = annotations.get("pulumi.com/patchFieldManager", "pulumi-kubernetes-patch")
        held = self.managers.get(key, {})
        mine = [p for p, m in held.items() if m == manager]
        obj = self.objects.get(key)
        for path in mine:
            del held[path]
            parent, _, leaf = path.rpartition(".")
            node = obj
            for part in parent.split(".") if obj is not None else ():
                node = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, dict):
                node.pop(leaf, None)

    def key_of(self, inputs: dict) -> tuple[str, str, str, str]:
        obj = _whole_numbers(unwrap_secrets(inputs))
        meta = obj.get("metadata") or {}
        namespace = meta.get("namespace") or ("default" if self._namespaced(obj) else "")
        return obj["apiVersion"], obj["kind"], namespace, meta.get("name") or ""

    def _release(self, key: tuple[str, str, str, str]) -> None:
        obj = self.objects.pop(key, None)
        self.owners.pop(key, None)
        self.managers.pop(key, None)
        if obj is None:
            return
        if key[1] == "Namespace":
            self.namespaces.discard(key[3])
        who = f"{key[2]}/{key[3]}"
        self.node_ports = {p: s for p, s in self.node_ports.items() if s != who}
        self.cluster_ips = {ip: s for ip, s in self.cluster_ips.items() if s != who}

    def _namespaced(self, obj: dict) -> bool:
        cluster_scoped = {"Namespace", "Node", "ClusterRole", "ClusterRoleBinding", "StorageClass",
                          "PersistentVolume", "CustomResourceDefinition", "IngressClass", "PriorityClass",
                          "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "CSIDriver",
                          "APIService", "RuntimeClass"}
        if obj["kind"] in cluster_scoped:
            return False
        scope = self.schemas.crd_scope(obj["apiVersion"], obj["kind"])
        return scope != "Cluster"

    def _service(self, obj: dict) -> dict:
        spec = dict(obj.get("spec") or {})
        meta = obj["metadata"]
        who = f"{meta['namespace']}/{meta.get('name')}"
        kind = spec.get("type", "ClusterIP")
        if kind != "ExternalName" and spec.get("clusterIP") != "None":
            spec["clusterIP"] = self._cluster_ip(who, spec.get("clusterIP"))
        if kind in ("NodePort", "LoadBalancer"):
            ports = []
            for port in spec.get("ports") or []:
                port = dict(port)
                wanted = port.get("nodePort")
                if wanted is not None:
                    if wanted not in NODE_PORT_RANGE:
                        raise KubeRejection("Invalid", f"Service {who}: spec.ports.nodePort: Invalid value: {wanted}: "
                                            f"provided port is not in the valid range. The range of valid ports is "
                                            f"{NODE_PORT_RANGE.start}-{NODE_PORT_RANGE.stop - 1}")
                    if wanted in self.node_ports:
                        raise KubeRejection("Invalid", f"Service {who}: spec.ports.nodePort: Invalid value: {wanted}: "
                                            f"provided port is already allocated (to {self.node_ports[wanted]})")
                else:
                    wanted = self._free_node_port(who, port.get("port"))
                self.node_ports[wanted] = who
                port["nodePort"] = wanted
                ports.append(port)
            spec["ports"] = ports
        state = {**obj, "spec": spec}
        if kind == "LoadBalancer":
            state["status"] = {"loadBalancer": {"ingress": [{"hostname": self._lb_hostname("k8s", meta["namespace"],
                                                                                          meta.get("name"))}]}}
        return state

    def _cluster_ip(self, who: str, wanted: str | None) -> str:
        """A requested clusterIP if it is free and in range; else the next free one of the upper band.

        The API server splits the range (KEP-3070, GA in 1.26; "Service ClusterIP allocation"):
        addresses 1..min(max(16, size/16), 256) are the static band that well-known Services such as
        kube-dns (the 10th) ask for, and dynamic allocation takes the band above it first."""
        net = ipaddress.ip_network(self.service_cidr)
        if wanted:
            ip = ipaddress.ip_address(wanted)
            if ip not in net or ip in (net.network_address, net.broadcast_address):
                raise KubeRejection("Invalid", f"Service {who}: spec.clusterIP: Invalid value: {wanted}: provided IP "
                                    f"is not in the valid range. The range of valid IPs is {net}")
            if wanted in self.cluster_ips:
                raise KubeRejection("Invalid", f"Service {who}: spec.clusterIP: Invalid value: {wanted}: provided IP "
                                    f"is already allocated (to {self.cluster_ips[wanted]})")
            self.cluster_ips[wanted] = who
            return wanted
        band = min(max(16, net.num_addresses // 16), 256)
        for index in itertools.chain(range(band + 1, net.num_addresses - 1), range(1, band + 1)):
            candidate = str(net[index])
            if candidate not in self.cluster_ips:
                self.cluster_ips[candidate] = who
                return candidate
        raise KubeRejection("Invalid", f"Service {who}: the service IP range {net} is full")

    def _free_node_port(self, who: str, port: Any) -> int:
        start = int(hashlib.sha256(f"{who}:{port}".encode()).hexdigest(), 16) % len(NODE_PORT_RANGE)
        for step in range(len(NODE_PORT_RANGE)):
            candidate = NODE_PORT_RANGE[(start + step) % len(NODE_PORT_RANGE)]
            if candidate not in self.node_ports:
                return candidate
        raise KubeRejection("Invalid", "range of valid ports is full")

    def _lb_hostname(self, prefix: str, namespace: str | None, name: str | None) -> str:
        digest = hashlib.sha256(f"{namespace}/{name}".encode()).hexdigest()
        return f"{prefix}-{(namespace or '')[:8]}-{(name or '')[:8]}-{digest[:10]}-{digest[10:20]}.elb.{self.region}.amazonaws.com"
