"""One way to turn a Kubernetes manifest (a plain dict, as the pure manifest builders return it) into a
Pulumi resource: the typed pulumi-kubernetes class for built-in kinds, ``CustomResource`` for the rest.

Top-level fields map to the class's keyword arguments (``roleRef`` -> ``role_ref``); nested values pass
through as they are, so the object registered is exactly the dict (Outputs inside it included).
"""

import re
from collections.abc import Mapping
from functools import lru_cache

import pulumi
import pulumi_kubernetes as k8s


# (apiVersion, kind) -> the class that manages it, as a path in pulumi_kubernetes. Resolved on first use of each
# kind: the SDK loads an API group's module (its input and output types, ~10-40 ms each) when first touched, and
# a stack should not pay for groups it never registers.
_CLASSES = {
    ("v1", "Namespace"): "core.v1.Namespace",
    ("v1", "ServiceAccount"): "core.v1.ServiceAccount",
    ("v1", "ConfigMap"): "core.v1.ConfigMap",
    ("v1", "Secret"): "core.v1.Secret",
    ("v1", "Service"): "core.v1.Service",
    ("apps/v1", "Deployment"): "apps.v1.Deployment",
    ("apps/v1", "StatefulSet"): "apps.v1.StatefulSet",
    ("apps/v1", "DaemonSet"): "apps.v1.DaemonSet",
    ("policy/v1", "PodDisruptionBudget"): "policy.v1.PodDisruptionBudget",
    ("storage.k8s.io/v1", "StorageClass"): "storage.v1.StorageClass",
    ("networking.k8s.io/v1", "NetworkPolicy"): "networking.v1.NetworkPolicy",
    ("networking.k8s.io/v1", "Ingress"): "networking.v1.Ingress",
    ("networking.k8s.io/v1", "IngressClass"): "networking.v1.IngressClass",
    ("rbac.authorization.k8s.io/v1", "ClusterRole"): "rbac.v1.ClusterRole",
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): "rbac.v1.ClusterRoleBinding",
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"):
        "admissionregistration.v1.ValidatingAdmissionPolicy",
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"):
        "admissionregistration.v1.ValidatingAdmissionPolicyBinding",
}


@lru_cache(maxsize=None)
def _class(api_version: str, kind: str):
    path = _CLASSES.get((api_version, kind))
    if path is None:
        return None
    cls = k8s
    for part in path.split("."):
        cls = getattr(cls, part)
    return cls


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()


def resource_name(obj: Mapping) -> str:
    """``<kind>-<name>`` in kebab case (``NetworkPolicy`` ``default-deny`` -> ``network-policy-default-deny``)."""
    kind = re.sub(r"(?<!^)([A-Z])", r"-\1", obj["kind"]).lower()
    return f"{kind}-{obj['metadata']['name']}"


def kube_resource(name: str, obj: Mapping, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """Register ``obj`` as resource ``name``."""
    cls = _class(obj["apiVersion"], obj["kind"])
    if cls is None:  # a custom resource: its CRD's group/version and kind
        fields = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
        return k8s.apiextensions.CustomResource(name, api_version=obj["apiVersion"], kind=obj["kind"],
                                                opts=opts, **fields)
    return cls(name, **{_snake(k): v for k, v in obj.items() if k not in ("apiVersion", "kind")}, opts=opts)
