"""kube-proxy modes and the Kubernetes versions whose EKS kube-proxy add-on runs them.

- iptables: the default everywhere.
- ipvs: deprecated upstream in 1.35 (KEP-5495); EKS drops it from the add-on in 1.36
  (aws/containers-roadmap#2826).
- nftables: GA upstream in 1.33, but the EKS add-on's configuration schema is only known to
  offer "iptables" and "ipvs" for `mode` (aws/containers-roadmap#2313, "first class nftables
  support", still proposed); refused until EKS documents it rather than failing at `pulumi up`.
"""

from __future__ import annotations

MODES = ("iptables", "ipvs", "nftables")


def _minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def mode_problem(mode: str, kubernetes_version: str) -> str | None:
    """Why ``mode`` cannot be used with this version, or None."""
    if mode not in MODES:
        return f"must be one of {', '.join(MODES)}"
    if mode == "ipvs" and _minor(kubernetes_version) >= (1, 36):
        return "ipvs is removed from the EKS kube-proxy add-on in 1.36; use iptables"
    if mode == "nftables":
        return ("the EKS kube-proxy add-on's configuration schema does not offer nftables "
                "(aws/containers-roadmap#2313); use iptables")
    return None


def addon_configuration(mode: str) -> dict:
    """The kube-proxy add-on's configuration values (schema key `mode`)."""
    return {"mode": mode}
