"""Security pre-flight of a plan (issue 13; docs/security.md): settings whose ARNs must be in the stack's
region, and the warnings a preview prints for weaker choices a stack made on purpose. Pure."""

from __future__ import annotations

from ..app import load_balancer
from ..cluster import access
from ..ingress import settings as ingress_settings
from .stack_config import StackConfig


def region_problems(config: StackConfig, region: str) -> list[str]:
    found = [("ingress.wafAclArn", ingress_settings.waf_region_problem(config.ingress, region)),
             ("appLoadBalancer.certificateArn", load_balancer.region_problem(config.app_load_balancer, region))]
    return [f"{key}: {why}" for key, why in found if why]


def warnings(config: StackConfig, caller_arn: str | None = None) -> list[str]:
    out = []
    cidrs = config.api_public_access_cidrs
    if not cidrs:
        out.append("apiPublicAccessCidrs is []: the Kubernetes API endpoint is private, so `pulumi up` reaches the "
                   "cluster only from inside the VPC (or a network routed to it and allowed by the cluster security "
                   "group); from a workstation, list its address (docs/security.md)")
    elif "0.0.0.0/0" in cidrs:
        out.append("apiPublicAccessCidrs includes 0.0.0.0/0: the Kubernetes API endpoint answers any address (every "
                   "request still needs IAM credentials and an access entry); list your egress addresses instead")
    out += ingress_settings.warnings(config.ingress) + load_balancer.warnings(config.app_load_balancer)
    if caller_arn and (why := access.admin_warning(caller_arn, config.admin_principal_arns)):
        out.append(why)
    return out
