"""The Kubernetes API server, as far as the offline engine needs one.

Every ``kubernetes:<group>/<version>:<Kind>`` resource is the object the provider would send:
it is validated against the schema of the cluster's Kubernetes version (or the vendored CRD),
refused like the API server would refuse it, and answered with the fields the server fills in
(a Service's clusterIP and nodePorts, a load balancer's hostname). Helm releases and providers
are not API objects and are echoed.
"""

from __future__ import annotations

import hashlib
import ipaddress
import itertools
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pulumi.runtime import rpc

from .schemas import KubeSchemas, UnknownKind

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

    def attach_cluster(self, version: str, service_cidr: str) -> None:
        """The API server of the EKS cluster just created: its version's schemas, its service range."""
        if version != self.version:
            self.__dict__.pop("schemas", None)
        self.version, self.service_cidr = version, service_cidr

    @cached_property
    def schemas(self) -> KubeSchemas:
        # Built on first use: a stack without Kubernetes objects needs no schemas (or version).
        return KubeSchemas(self.version)

    def create(self, type_token: str, inputs: dict) -> tuple[str, dict]:
        obj = _whole_numbers(unwrap_secrets(inputs))
        partial = type_token.endswith("Patch")
        try:
            problems = self.schemas.errors(obj, partial=partial)
        except UnknownKind as exc:
            raise KubeRejection("NotFound", str(exc)) from None
        meta = obj.get("metadata") or {}
        name = meta.get("name") or ""
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
        if key in self.objects and not partial:
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
        resource_id = f"{namespace}/{name}" if namespaced else name
        return resource_id, state

    def install(self, obj: dict) -> tuple[str, dict]:
        """An object something other than the program creates (an EKS add-on's), checked the same way."""
        return self.create("kubernetes:installed", obj)

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
