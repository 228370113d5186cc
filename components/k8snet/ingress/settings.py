"""The stack's ``ingress`` settings: parsed and validated before anything is registered (pure).

Limits come from where they are enforced: ALB path conditions (Elastic Load Balancing user guide,
"Path conditions": at most 128 characters of A-Z a-z 0-9 _ - . $ / ~ " ' @ : + &), the controller's
Prefix paths (v3.5.0 pkg/ingress/model_build_listener_rules.go: /p becomes the patterns /p and /p/*,
wildcards refused), networking/v1 Ingress hosts (a DNS subdomain, optionally "*." first), and ACM
certificate ARNs (an ALB uses certificates from its own region).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..shared import settings as shared_settings

KEYS = ("enabled", "host", "paths", "certificateArn", "healthCheckPath", "allowHttp", "accessLogs", "wafAclArn")
_PATH = re.compile(r"^/[A-Za-z0-9_.$/~\"'@:+&-]*$")  # the ALB path alphabet, without the wildcards * ?
MAX_PATH = 128 - len("/*")  # the controller appends "/*" to a Prefix path; ALB patterns hold 128
# networking/v1 Ingress rule host: a DNS-1123 subdomain, optionally with one leading "*." label.
_HOST = re.compile(r"^(\*\.)?(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# A regional WAFv2 web ACL (the ALB annotation takes only those): arn:<partition>:wafv2:<region>:<account>:
# regional/webacl/<name>/<id> (WAF developer guide; ACL names: 1-128 of A-Z a-z 0-9 _ -).
_WAF = re.compile(r"^arn:aws(-[a-z]+)*:wafv2:(?P<region>[a-z]{2}(-[a-z]+)+-\d):\d{12}:regional/webacl/[\w-]{1,128}/"
                  r"[0-9a-f-]{36}$")


@dataclass(frozen=True)
class IngressSettings:
    enabled: bool = True
    host: str | None = None  # None: any Host header
    paths: tuple[str, ...] = ("/",)
    certificate_arn: str | None = None  # ACM certificate in the stack's region: HTTPS on 443
    health_check_path: str = "/healthz"  # through nginx to the app, without the database
    allow_http: bool = False  # an internet-facing ALB without a certificate, accepted explicitly
    access_logs: bool = True  # to an S3 bucket the stack creates (k8snet/ingress/access_logs.py)
    waf_acl_arn: str | None = None  # a regional WAFv2 web ACL in the stack's region

    @property
    def https(self) -> bool:
        return self.certificate_arn is not None

    @property
    def internet_facing(self) -> bool:
        """Public with HTTPS, or with plain HTTP only when the stack says so; otherwise internal (the VPC)."""
        return self.https or self.allow_http

    def certificate_region(self) -> str | None:
        return shared_settings.certificate_region(self.certificate_arn)

    def waf_region(self) -> str | None:
        m = _WAF.match(self.waf_acl_arn or "")
        return m.group("region") if m else None


def parse_settings(raw: Any, add_problem) -> IngressSettings:
    """The ``ingress`` config map -> IngressSettings; ``add_problem(key, message)`` for each bad value."""
    if raw is None:
        return IngressSettings()
    for unknown in sorted(set(raw) - set(KEYS)):
        add_problem(f"ingress.{unknown}", f"unknown setting; use {', '.join(KEYS)}")
    enabled = raw.get("enabled", True)
    if not isinstance(enabled, bool):
        add_problem("ingress.enabled", f"expected true or false, got {enabled!r}")
        enabled = True
    host = raw.get("host") or None
    # The Ingress API refuses IP addresses as hosts ("must be a DNS name, not an IP address").
    if host is not None and (not isinstance(host, str) or not _HOST.match(host) or re.fullmatch(r"[0-9.]+", host)):
        add_problem("ingress.host", f"{host!r} is not a lowercase DNS name like shop.example.com (or *.example.com); "
                    "Ingress hosts cannot be IP addresses")
        host = None
    paths = raw.get("paths", ["/"])
    if not isinstance(paths, list) or not paths:
        add_problem("ingress.paths", f"expected a non-empty list of path prefixes like ['/'], got {paths!r}")
        paths = ["/"]
    good = []
    for i, path in enumerate(paths):
        key = f"ingress.paths[{i}]"
        if not isinstance(path, str) or not _PATH.match(path):
            add_problem(key, f"{path!r} must start with '/' and use only A-Z a-z 0-9 _ - . $ / ~ \" ' @ : + & "
                        "(ALB path conditions; no * or ?: these are prefixes)")
        elif len(path) > MAX_PATH:
            add_problem(key, f"is {len(path)} characters; ALB path patterns allow {MAX_PATH} before the '/*' added")
        elif path.rstrip("/") in {p.rstrip("/") for p in good}:
            add_problem(key, f"{path!r} repeats an earlier path")
        else:
            good.append(path)
    cert = shared_settings.certificate(raw, "ingress", add_problem)
    health = raw.get("healthCheckPath", "/healthz")
    if not isinstance(health, str) or not health.startswith("/") or len(health) > 1024:
        add_problem("ingress.healthCheckPath", f"{health!r} must be a path starting with '/' (at most 1024 characters)")
        health = "/healthz"
    flags = {key: shared_settings.flag(raw, key, default, "ingress", add_problem)
             for key, default in (("allowHttp", False), ("accessLogs", True))}
    waf = raw.get("wafAclArn") or None
    if waf is not None and (not isinstance(waf, str) or not _WAF.match(waf)):
        add_problem("ingress.wafAclArn", f"{waf!r} is not a regional WAFv2 web ACL ARN like arn:aws:wafv2:us-east-1:"
                    "123456789012:regional/webacl/<name>/<id> (an ALB takes regional ACLs only)")
        waf = None
    return IngressSettings(enabled, host, tuple(good) or ("/",), cert, health, flags["allowHttp"],
                           flags["accessLogs"], waf)


def region_problem(settings: IngressSettings, region: str) -> str | None:
    """An ALB can only use an ACM certificate from its own region."""
    cert_region = settings.certificate_region()
    if cert_region and cert_region != region:
        return (f"the certificate is in {cert_region} but the stack deploys to {region}; an ALB needs an ACM "
                f"certificate from its own region (request or import one in {region})")
    return None


def waf_region_problem(settings: IngressSettings, region: str) -> str | None:
    """A regional web ACL protects resources of its own region only."""
    waf_region = settings.waf_region()
    if waf_region and waf_region != region:
        return (f"the web ACL is in {waf_region} but the stack deploys to {region}; an ALB takes a regional "
                f"WAFv2 web ACL of its own region")
    return None


def warnings(settings: IngressSettings) -> list[str]:
    """What the preview says about an accepted but weaker choice."""
    out = []
    if settings.enabled and settings.allow_http and not settings.https:
        out.append("ingress.allowHttp: the webapp's internet-facing ALB serves plain HTTP on port 80 (no "
                   "certificateArn); fine for a throwaway dev stack, not for anything users log in to")
    elif settings.enabled and not settings.internet_facing:
        out.append("ingress: no certificateArn, so the webapp's ALB is internal (reachable from the VPC only); set "
                   "ingress.certificateArn for a public HTTPS ALB, or ingress.allowHttp: true for a public HTTP one")
    if settings.enabled and not settings.access_logs:
        out.append("ingress.accessLogs is false: the ALB keeps no access logs")
    return out
