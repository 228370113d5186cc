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


@lru_cache(maxsize=1)
def _classes() -> dict:
    # (apiVersion, kind) -> the class that manages it; built on first use (the SDK loads modules lazily).
    return {
        ("v1", "Namespace"): k8s.core.v1.Namespace,
        ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
        ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
        ("v1", "Secret"): k8s.core.v1.Secret,
        ("v1", "Service"): k8s.core.v1.Service,
        ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
        ("apps/v1", "StatefulSet"): k8s.apps.v1.StatefulSet,
        ("apps/v1", "DaemonSet"): k8s.apps.v1.DaemonSet,
        ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
        ("storage.k8s.io/v1", "StorageClass"): k8s.storage.v1.StorageClass,
        ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
        ("networking.k8s.io/v1", "Ingress"): k8s.networking.v1.Ingress,
        ("networking.k8s.io/v1", "IngressClass"): k8s.networking.v1.IngressClass,
        ("rbac.authorization.k8s.io/v1", "ClusterRole"): k8s.rbac.v1.ClusterRole,
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"): k8s.rbac.v1.ClusterRoleBinding,
        ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"):
            k8s.admissionregistration.v1.ValidatingAdmissionPolicy,
        ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"):
            k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding,
    }


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()


def resource_name(obj: Mapping) -> str:
    """``<kind>-<name>`` in kebab case (``NetworkPolicy`` ``default-deny`` -> ``network-policy-default-deny``)."""
    kind = re.sub(r"(?<!^)([A-Z])", r"-\1", obj["kind"]).lower()
    return f"{kind}-{obj['metadata']['name']}"


def kube_resource(name: str, obj: Mapping, opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """Register ``obj`` as resource ``name``."""
    cls = _classes().get((obj["apiVersion"], obj["kind"]))
    if cls is None:  # a custom resource: its CRD's group/version and kind
        fields = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind")}
        return k8s.apiextensions.CustomResource(name, api_version=obj["apiVersion"], kind=obj["kind"],
                                                opts=opts, **fields)
    return cls(name, **{_snake(k): v for k, v in obj.items() if k not in ("apiVersion", "kind")}, opts=opts)
