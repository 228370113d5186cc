"""EKS add-on versions, pinned per Kubernetes minor version.

Sources (checked 2026-11): kube-proxy and CoreDNS from the EKS user guide's version tables
("Manage kube-proxy" / "Manage CoreDNS"); the EBS CSI driver from its add-on's default version
for 1.36 (v1.66.0-eksbuild.1), which the add-on publishes for every supported minor version.
Confirm with `aws eks describe-addon-versions --kubernetes-version <v> --addon-name <name>`
when bumping; an add-on version EKS does not offer for the cluster's version fails the update.
"""

from __future__ import annotations

ADDONS = ("kube-proxy", "coredns", "aws-ebs-csi-driver")
VERSIONS: dict[str, dict[str, str]] = {
    "1.35": {
        "kube-proxy": "v1.35.3-eksbuild.13",
        "coredns": "v1.14.2-eksbuild.4",
        "aws-ebs-csi-driver": "v1.66.0-eksbuild.1",
    },
}


def for_kubernetes(version: str) -> dict[str, str]:
    if version not in VERSIONS:
        raise ValueError(f"no EKS add-on versions pinned for Kubernetes {version} "
                         f"(pinned: {', '.join(sorted(VERSIONS))}); add them to k8snet/cluster/addon_versions.py")
    return dict(VERSIONS[version])
