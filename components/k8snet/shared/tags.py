"""AWS tags Kubernetes and the AWS Load Balancer Controller look for."""

from __future__ import annotations

from collections.abc import Mapping

# Subnet discovery by the AWS Load Balancer Controller / in-tree cloud provider.
ELB_ROLE = "kubernetes.io/role/elb"  # public subnets: internet-facing load balancers
INTERNAL_ELB_ROLE = "kubernetes.io/role/internal-elb"  # private subnets: internal load balancers


def cluster_tag(cluster_name: str, ownership: str) -> dict[str, str]:
    """``kubernetes.io/cluster/<name>``: "owned" for resources only this cluster uses, else "shared"."""
    if ownership not in ("owned", "shared"):
        raise ValueError(f"ownership must be 'owned' or 'shared', got {ownership!r}")
    return {f"kubernetes.io/cluster/{cluster_name}": ownership}


def merge(*tag_sets: Mapping[str, str]) -> dict[str, str]:
    """Later sets win; keys sorted so the registered inputs are deterministic."""
    merged: dict[str, str] = {}
    for tag_set in tag_sets:
        merged.update(tag_set)
    return dict(sorted(merged.items()))
