"""Helpers the settings parsers share (pure): booleans and ACM certificate ARNs, each bad value reported
with its key through ``add_problem(key, message)``."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

# ACM certificate ARN in any partition (aws, aws-cn, aws-us-gov); the region group is compared with the stack's
# region, which also fixes the partition (a load balancer uses certificates from its own region).
ACM_CERTIFICATE = re.compile(r"^arn:aws(-[a-z]+)*:acm:(?P<region>[a-z]{2}(-[a-z]+)+-\d):\d{12}:"
                             r"certificate/[0-9a-f-]{36}$")


def flag(raw: Mapping[str, Any], key: str, default: bool, where: str,
         add_problem: Callable[[str, str], None]) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        add_problem(f"{where}.{key}", f"expected true or false, got {value!r}")
        return default
    return value


def certificate(raw: Mapping[str, Any], where: str, add_problem: Callable[[str, str], None]) -> str | None:
    """``raw["certificateArn"]`` if it is an ACM certificate ARN (None when absent or bad)."""
    cert = raw.get("certificateArn") or None
    if cert is not None and (not isinstance(cert, str) or not ACM_CERTIFICATE.match(cert)):
        add_problem(f"{where}.certificateArn", f"{cert!r} is not an ACM certificate ARN like "
                    "arn:aws:acm:us-east-1:123456789012:certificate/<uuid>")
        return None
    return cert


def certificate_region(arn: str | None) -> str | None:
    m = ACM_CERTIFICATE.match(arn or "")
    return m.group("region") if m else None
