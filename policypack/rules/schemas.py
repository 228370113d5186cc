"""Every Kubernetes object against the official OpenAPI schema of the cluster's version, or the vendored CRD
(offline/kube/schemas.py: strict, unknown fields are errors, as ``kubectl --validate=strict``)."""

from __future__ import annotations

from functools import lru_cache

from k8snet.config import SCHEMA
from offline.kube.api_server import is_api_object
from offline.kube.schemas import KubeSchemas, UnknownKind

from ..plan import Plan, has_unknown
from ..registry import MANDATORY, Violation, stack_rule

CLUSTER = "aws:eks/cluster:Cluster"


@lru_cache(maxsize=None)
def _schemas(version: str) -> KubeSchemas:
    return KubeSchemas(version)


def kube_schemas(plan: Plan) -> KubeSchemas:
    """The schemas of the stack's EKS cluster version (the config default without a cluster)."""
    versions = [c.props.get("version") for c in plan.of_type(CLUSTER)]
    version = versions[0] if len(versions) == 1 and isinstance(versions[0], str) else \
        SCHEMA["kubernetesVersion"].default
    return _schemas(version)


@stack_rule("kubernetes-schema", "Every Kubernetes object is valid for the cluster's version (strict: no unknown "
                                 "fields), custom resources against their CRDs",
            level=MANDATORY,
            why="The API server refuses an invalid object mid-update, and a kind the cluster does not serve ('no "
                "matches for kind') the same. Mandatory.")
def check_schemas(plan: Plan, config: dict):
    schemas = kube_schemas(plan)
    for r in plan.resources:
        if not is_api_object(r.type):
            continue
        if has_unknown(r.props):
            plan.note(f"{r.type} {r.name}: not validated (a value is unknown)")
            continue
        # Keys the Kubernetes provider may keep beside the object in its state ("__inputs" in older versions)
        # are no object field.
        obj = {k: v for k, v in r.props.items() if not k.startswith("__")}
        try:
            errors = schemas.errors(obj, partial=r.type.endswith("Patch"))
        except UnknownKind as exc:
            errors = [str(exc)]
        for error in errors:
            yield Violation(f"{r.props.get('kind')} {(r.props.get('metadata') or {}).get('name')!r}: {error}", r.urn)
