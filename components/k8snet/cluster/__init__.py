"""The EKS control plane (``Cluster``: IAM, KMS, logs, OIDC, node role and access entry, kube-proxy,
kubeconfig and provider) and the add-ons that need running nodes (``ClusterAddons``: CoreDNS, EBS CSI).
Add-on versions are pinned per Kubernetes version in ``addon_versions``."""

from typing import TYPE_CHECKING

from ..shared import lazy

if TYPE_CHECKING:
    from .addons import ClusterAddons, ClusterAddonsArgs
    from .cluster import Cluster, ClusterArgs

__getattr__, __all__ = lazy.exports(__name__, {
    "Cluster": "cluster",
    "ClusterAddons": "addons",
    "ClusterAddonsArgs": "addons",
    "ClusterArgs": "cluster",
})
