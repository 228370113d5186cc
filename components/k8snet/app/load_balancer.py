"""The webapp's NLB (Service type LoadBalancer): internal unless a stack says otherwise. Pure.

Annotation names and values are controller v3.5.0's (docs/guide/service/annotations.md; checked against
offline/checks/charts/aws-load-balancer-controller-3.5.0.yaml):
- ``aws-load-balancer-scheme``: ``internal`` (the controller's default too) or ``internet-facing``;
- ``aws-load-balancer-ssl-cert`` + ``aws-load-balancer-ssl-ports``: a TLS listener with an ACM certificate
  on the named port (the NLB terminates TLS and forwards TCP to the nodes' NodePort);
- ``spec.loadBalancerSourceRanges``: who may connect. The controller builds the NLB's own (frontend)
  security group from it (pkg/service/model_build_managed_sg.go, buildCIDRsFromSourceRanges), 0.0.0.0/0
  when empty -- so it is always set here: the VPC for an internal NLB, the stack's list otherwise.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..shared import settings

KEYS = ("public", "certificateArn", "sourceRanges", "allowHttp")
ANNOTATION = "service.beta.kubernetes.io/"
# The recommended TLS 1.3/1.2 policy (Elastic Load Balancing user guide, "Security policies for your NLB").
SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


@dataclass(frozen=True)
class LoadBalancerSettings:
    public: bool = False
    certificate_arn: str | None = None  # ACM, the stack's region: TLS on 443
    source_ranges: tuple[str, ...] = ()  # () -> the VPC (internal) or 0.0.0.0/0 (public)
    allow_http: bool = False  # a public NLB without a certificate, accepted explicitly

    @property
    def scheme(self) -> str:
        return "internet-facing" if self.public else "internal"

    @property
    def tls(self) -> bool:
        return self.certificate_arn is not None

    def certificate_region(self) -> str | None:
        return settings.certificate_region(self.certificate_arn)

    def ranges(self, vpc_cidr: str) -> list[str]:
        return list(self.source_ranges) or (["0.0.0.0/0"] if self.public else [vpc_cidr])


def parse(raw: Any, add_problem: Callable[[str, str], None]) -> LoadBalancerSettings:
    """The ``appLoadBalancer`` map -> LoadBalancerSettings; ``add_problem(key, message)`` for each bad value."""
    if not raw:
        return LoadBalancerSettings()
    for unknown in sorted(set(raw) - set(KEYS)):
        add_problem(f"appLoadBalancer.{unknown}", f"unknown setting; use {', '.join(KEYS)}")
    flags = {key: settings.flag(raw, key, False, "appLoadBalancer", add_problem) for key in ("public", "allowHttp")}
    cert = settings.certificate(raw, "appLoadBalancer", add_problem)
    ranges = []
    raw_ranges = raw.get("sourceRanges") or []
    if not isinstance(raw_ranges, list):
        add_problem("appLoadBalancer.sourceRanges", f"expected a list of CIDRs, got {raw_ranges!r}")
        raw_ranges = []
    for i, cidr in enumerate(raw_ranges):
        try:
            net = ipaddress.ip_network(str(cidr), strict=True)
            if net.version != 4:
                raise ValueError
            ranges.append(str(net))
        except ValueError:
            add_problem(f"appLoadBalancer.sourceRanges[{i}]", f"{cidr!r} is not an IPv4 CIDR like 203.0.113.0/24 "
                        "(the NLB is IPv4)")
    if flags["public"] and cert is None and not flags["allowHttp"] and "certificateArn" not in raw:
        add_problem("appLoadBalancer", "a public NLB without certificateArn serves plain HTTP to the internet: set "
                    "appLoadBalancer.certificateArn (TLS on 443), or appLoadBalancer.allowHttp: true to accept it "
                    "(the preview warns)")
    return LoadBalancerSettings(flags["public"], cert, tuple(ranges), flags["allowHttp"])


def region_problem(settings: LoadBalancerSettings, region: str) -> str | None:
    cert_region = settings.certificate_region()
    if cert_region and cert_region != region:
        return (f"the certificate is in {cert_region} but the stack deploys to {region}; an NLB needs an ACM "
                f"certificate from its own region")
    return None


def warnings(settings: LoadBalancerSettings) -> list[str]:
    if settings.public and not settings.tls:
        return ["appLoadBalancer.allowHttp: the webapp's NLB is internet-facing and serves plain HTTP on port 80"]
    return []


def annotations(settings: LoadBalancerSettings) -> dict[str, str]:
    out = {"aws-load-balancer-scheme": settings.scheme}
    if settings.tls:
        out.update({"aws-load-balancer-ssl-cert": settings.certificate_arn, "aws-load-balancer-ssl-ports": "https",
                    "aws-load-balancer-ssl-negotiation-policy": SSL_POLICY})
    return {ANNOTATION + k: v for k, v in sorted(out.items())}
