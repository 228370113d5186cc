"""Who administers the cluster, and as whom ``pulumi`` and ``kubectl`` talk to it. Pure.

- ``adminPrincipalArns``: IAM roles/users that get an EKS access entry with ``AmazonEKSClusterAdminPolicy``
  (cluster scope), so CI roles and teammates get in without the creator's bootstrap admin. Given any,
  the cluster is created with ``bootstrapClusterCreatorAdminPermissions: false``. That flag exists only at
  creation (EKS CreateCluster accessConfig; UpdateClusterConfig cannot change it; terraform marks it
  ForceNew): the program ignores later changes to it, so adding principals to an existing stack never
  replaces its cluster -- the creator keeps its entry until someone deletes it (docs/security.md).
- The kubeconfig's ``aws eks get-token`` must run as the identity the stack's AWS provider uses, or the
  API server answers Unauthorized: ``aws:profile`` goes into the exec env (``AWS_PROFILE``, as
  ``aws eks update-kubeconfig --profile`` writes it) and the role of ``aws:assumeRoles`` into
  ``--role-arn`` (awscli customizations/eks/get_token.py). get-token assumes one role, from the base
  credentials, without an external ID: a chain or an external ID needs an AWS CLI profile instead.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

CLUSTER_ADMIN_POLICY = "arn:{partition}:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
# IAM role/user ARNs (IAM names: letters, digits and +=,.@_- ; paths of /-separated segments).
_PRINCIPAL = re.compile(r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):iam::(?P<account>\d{12}):"
                        r"(?P<kind>role|user)/(?P<path>(?:[\w+=,.@-]+/)*)(?P<name>[\w+=,.@-]{1,64})$")
_ASSUMED = re.compile(r"^arn:(?P<partition>[\w-]+):sts::(?P<account>\d{12}):assumed-role/(?P<name>[\w+=,.@-]+)/.+$")
_PROFILE = re.compile(r"^[\w+=,.@-]{1,128}$")


@dataclass(frozen=True)
class KubeconfigIdentity:
    """Who ``aws eks get-token`` runs as: an AWS CLI profile and/or a role to assume (None: the ambient one)."""

    profile: str | None = None
    role_arn: str | None = None


def parse_admin_principals(raw: Any, add_problem: Callable[[str, str], None]) -> tuple[str, ...]:
    if raw is None:
        return ()
    out = []
    for i, arn in enumerate(raw):
        key = f"adminPrincipalArns[{i}]"
        if isinstance(arn, str) and _ASSUMED.match(arn):
            add_problem(key, f"{arn!r} is a session (sts assumed-role); give the role's ARN, "
                        "arn:aws:iam::<account>:role/<name>")
        elif not isinstance(arn, str) or not _PRINCIPAL.match(arn):
            add_problem(key, f"{arn!r} is not an IAM role or user ARN like arn:aws:iam::123456789012:role/ci-deployer")
        elif arn in out:
            add_problem(key, f"{arn} is listed twice (one access entry per principal)")
        else:
            out.append(arn)
    return tuple(out)


def parse_identity(profile: Any, assume_roles: Any, add_problem: Callable[[str, str], None]) -> KubeconfigIdentity:
    """``aws:profile`` and ``aws:assumeRoles`` as the program receives them (strings; the list as JSON)."""
    if profile is not None and (not isinstance(profile, str) or not _PROFILE.match(profile)):
        add_problem("aws:profile", f"{profile!r} is not an AWS CLI profile name")
        profile = None
    if isinstance(assume_roles, str):
        try:
            assume_roles = json.loads(assume_roles)
        except json.JSONDecodeError:
            add_problem("aws:assumeRoles", "is not a list of {roleArn, ...} maps")
            return KubeconfigIdentity(profile or None)
    roles = assume_roles or []
    if isinstance(roles, dict):
        roles = [roles]
    role = None
    if len(roles) > 1:
        add_problem("aws:assumeRoles", f"{len(roles)} roles (a chain): `aws eks get-token`, which the kubeconfig "
                    "runs, assumes one role; define the chain as an AWS CLI profile (role_arn + source_profile in "
                    "~/.aws/config) and set aws:profile to it instead")
    elif roles:
        first = roles[0] if isinstance(roles[0], dict) else {}
        role = first.get("roleArn")
        if not isinstance(role, str) or not _PRINCIPAL.match(role) or ":role/" not in role:
            add_problem("aws:assumeRoles[0].roleArn", f"{role!r} is not an IAM role ARN")
            role = None
        if first.get("externalId"):
            add_problem("aws:assumeRoles[0].externalId", "`aws eks get-token` cannot pass an external ID; use an AWS "
                        "CLI profile with role_arn and external_id and set aws:profile to it instead")
    return KubeconfigIdentity(profile or None, role)


def principal_slug(arn: str) -> str:
    """A resource-name part for a principal: readable, unique per ARN (identity never depends on position)."""
    m = _PRINCIPAL.match(arn)
    readable = f"{m['kind']}-{m['name']}" if m else "principal"
    return f"{re.sub(r'[^A-Za-z0-9-]', '-', readable)}-{hashlib.sha256(arn.encode()).hexdigest()[:6]}"


def principal_of(caller_arn: str) -> str:
    """The IAM principal behind a caller identity ARN (an assumed-role session -> its role, path unknown)."""
    m = _ASSUMED.match(caller_arn)
    return f"arn:{m['partition']}:iam::{m['account']}:role/{m['name']}" if m else caller_arn


def is_admin(caller_arn: str, admins: Sequence[str]) -> bool:
    """Whether the caller is one of ``admins`` (roles compared by account and name: sessions carry no path)."""
    principal = principal_of(caller_arn)
    key = _PRINCIPAL.match(principal)
    for admin in admins:
        m = _PRINCIPAL.match(admin)
        if admin == principal or (key and m and (m["account"], m["kind"], m["name"]) ==
                                  (key["account"], key["kind"], key["name"])):
            return True
    return False


def admin_warning(caller_arn: str, admins: Sequence[str]) -> str | None:
    """Why `pulumi up` would be Unauthorized on a new cluster: bootstrap admin off and the caller not listed."""
    if admins and not is_admin(caller_arn, admins):
        return (f"adminPrincipalArns does not list the identity running pulumi ({caller_arn}); a new cluster gets no "
                "bootstrap admin, so the Kubernetes provider would be Unauthorized. Add it (or the role it assumes) "
                "unless this stack's cluster already exists and keeps its creator's entry")
    return None
