"""The EKS-optimized Amazon Linux 2023 AMI, found through AWS's public SSM parameters."""

from __future__ import annotations


def eks_ami_parameter(kubernetes_version: str, architecture: str) -> str:
    """Public parameter holding the recommended AL2023 EKS node AMI id.

    Path documented in the EKS user guide, "Retrieve recommended Amazon Linux AMI IDs":
    /aws/service/eks/optimized-ami/<k8s-version>/amazon-linux-2023/<arch>/standard/recommended/image_id
    """
    if architecture not in ("x86_64", "arm64"):
        raise ValueError(f"unsupported architecture {architecture!r}")
    return f"/aws/service/eks/optimized-ami/{kubernetes_version}/amazon-linux-2023/{architecture}/standard/recommended/image_id"
