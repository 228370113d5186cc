"""IAM and KMS resources created in moto's backends, plus the checks AWS makes that moto skips:
a managed policy ARN must name a real AWS managed policy (path included), and a trust policy's
federated principal must be an existing OIDC provider."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING

from moto.iam.aws_managed_policies import aws_managed_policies_data
from moto.iam.models import AWSManagedPolicy
from moto.kms.models import kms_backends

from .rules import AwsRejection

if TYPE_CHECKING:
    from .context import AwsContext


def _iam(ctx: AwsContext):
    return ctx.iam


@lru_cache(maxsize=4)
def _aws_managed_policies(partition: str) -> dict[str, tuple[str, dict]]:
    """Every AWS managed policy moto knows: arn:<partition>:iam::aws:policy<path><name> -> (name, data)."""
    data = json.loads(aws_managed_policies_data)
    return {f"arn:{partition}:iam::aws:policy{p['Path']}{name}": (name, p) for name, p in data.items()}


def _ensure_aws_managed(ctx: AwsContext, arn: str) -> None:
    # moto loads all ~1300 AWS managed policies only on request (slow); publish just this one.
    iam = _iam(ctx)
    if arn not in iam.managed_policies:
        name, data = _aws_managed_policies(ctx.partition)[arn]
        iam.managed_policies[arn] = AWSManagedPolicy.from_data(name, ctx.account_id, ctx.region, data)


# Service principals that carry the partition's DNS suffix (ec2.amazonaws.com.cn in China: AWS China IAM
# docs as quoted in kubernetes/kubernetes#21858, awslabs/cdk-eks-blueprints#558). Every other service keeps
# amazonaws.com: IAM refuses "eks.amazonaws.com.cn" (terraform-aws-eks#1904, #2263).
SUFFIXED_SERVICE_PRINCIPALS = ("ec2",)


def _check_service_principal(ctx: AwsContext, principal: str) -> None:
    service, _, suffix = principal.partition(".")
    valid = {"amazonaws.com"} | ({ctx.dns_suffix} if service in SUFFIXED_SERVICE_PRINCIPALS else set())
    if suffix not in valid:
        raise AwsRejection("MalformedPolicyDocument", f"Invalid principal in policy: \"SERVICE\":\"{principal}\"")


def _check_trust(ctx: AwsContext, document: str) -> None:
    try:
        policy = json.loads(document)
    except (TypeError, json.JSONDecodeError):
        raise AwsRejection("MalformedPolicyDocument", "Syntax errors in policy.") from None
    statements = policy.get("Statement")
    if policy.get("Version") != "2012-10-17" or not isinstance(statements, list) or not statements:
        raise AwsRejection("MalformedPolicyDocument", "A trust policy needs Version 2012-10-17 and a Statement list")
    providers = {p.arn for p in _iam(ctx).open_id_providers.values()}
    for st in statements:
        services = (st.get("Principal") or {}).get("Service") or []
        for service in [services] if isinstance(services, str) else services:
            _check_service_principal(ctx, service)
        federated = (st.get("Principal") or {}).get("Federated")
        if federated and ":oidc-provider/" in federated and federated not in providers:
            raise AwsRejection("MalformedPolicyDocument", f"Invalid principal in policy: \"Federated\":\"{federated}\"")


def role(ctx: AwsContext, name: str, inputs: dict) -> tuple[str, dict]:
    role_name = inputs["name"]  # given, or the provider's auto-name (constraints.autonamed)
    _check_trust(ctx, inputs["assumeRolePolicy"])
    tags = [{"Key": k, "Value": v} for k, v in sorted((inputs.get("tags") or {}).items())]
    r = _iam(ctx).create_role(role_name, inputs["assumeRolePolicy"], inputs.get("path", "/"), None,
                              inputs.get("description", ""), tags, None)
    return role_name, {**inputs, "name": role_name, "arn": r.arn, "uniqueId": r.id, "createDate": "2026-11-21T00:00:00Z"}


# IAM quota "Managed policies attached to an IAM role": 10 by default (raisable to 25), IAM quotas page;
# moto has no limit.
MANAGED_POLICIES_PER_ROLE = 10


def role_policy_attachment(ctx: AwsContext, name: str, inputs: dict) -> tuple[str, dict]:
    arn = inputs["policyArn"]
    iam = _iam(ctx)
    attached = iam.get_role(inputs["role"]).managed_policies  # NoSuchEntity when the role does not exist
    if arn not in attached and len(attached) >= MANAGED_POLICIES_PER_ROLE:
        raise AwsRejection("LimitExceeded", f"Cannot exceed quota for PoliciesPerRole: {MANAGED_POLICIES_PER_ROLE}")
    if arn.startswith(f"arn:{ctx.partition}:iam::aws:policy/"):
        if arn not in _aws_managed_policies(ctx.partition):
            raise AwsRejection("NoSuchEntity", f"Policy {arn} does not exist or is not attachable.")
        _ensure_aws_managed(ctx, arn)
    iam.attach_role_policy(arn, inputs["role"])  # NoSuchEntity for an unknown customer policy
    return f"{inputs['role']}-{ctx.stable_suffix(8)}", dict(inputs)


def policy(ctx: AwsContext, name: str, inputs: dict) -> tuple[str, dict]:
    policy_name = inputs["name"]  # its size quota is checked with the other field rules (constraints.py)
    p = _iam(ctx).create_policy(inputs.get("description", ""), inputs.get("path", "/"), inputs["policy"],
                                policy_name, [])  # moto validates the document like IAM does
    return p.arn, {**inputs, "name": policy_name, "arn": p.arn, "policyId": p.id}


def instance_profile(ctx: AwsContext, name: str, inputs: dict) -> tuple[str, dict]:
    profile_name = inputs["name"]
    roles = [inputs["role"]] if inputs.get("role") else []
    for r in roles:
        _iam(ctx).get_role(r)
    p = _iam(ctx).create_instance_profile(profile_name, inputs.get("path", "/"), roles)
    return profile_name, {**inputs, "name": profile_name, "arn": p.arn, "uniqueId": p.id}


def open_id_connect_provider(ctx: AwsContext, name: str, inputs: dict) -> tuple[str, dict]:
    url = inputs["url"]  # https:// and its length: constraints.py
    # Since 2024 IAM fetches the issuer's thumbprint itself; thumbprintLists is optional.
    p = _iam(ctx).create_open_id_connect_provider(url, list(inputs.get("thumbprintLists") or []),
                                                  list(inputs.get("clientIdLists") or []), [])
    return p.arn, {**inputs, "arn": p.arn}


def _key_policy_keeps_admin(ctx: AwsContext, policy: str) -> bool:
    """KMS's lockout safety check: the new policy must still let the caller change it (directly, or by
    trusting the account root, which delegates to IAM)."""
    try:
        statements = json.loads(policy).get("Statement") or []
    except json.JSONDecodeError:
        raise AwsRejection("MalformedPolicyDocumentException", "The key policy is not valid JSON.") from None
    admins = {f"arn:{ctx.partition}:iam::{ctx.account_id}:root", ctx.account_id, ctx.caller_principal}
    for st in statements:
        principal = st.get("Principal") or {}
        aws_principals = principal.get("AWS", []) if isinstance(principal, dict) else []
        aws_principals = aws_principals if isinstance(aws_principals, list) else [aws_principals]
        actions = st.get("Action") if isinstance(st.get("Action"), list) else [st.get("Action")]
        if st.get("Effect") == "Allow" and admins & set(aws_principals) and \
                any(a in ("kms:*", "kms:PutKeyPolicy", "*") for a in actions):
            return True
    return False


def kms_key(ctx: AwsContext, name: str, inputs: dict) -> tuple[str, dict]:
    kms = kms_backends[ctx.account_id][ctx.region]
    policy = inputs.get("policy")
    if policy and not inputs.get("bypassPolicyLockoutSafetyCheck") and not _key_policy_keeps_admin(ctx, policy):
        raise AwsRejection("MalformedPolicyDocumentException", "The new key policy will not allow you to update the "
                           "key policy in the future.")
    key = kms.create_key(inputs.get("policy"), inputs.get("keyUsage", "ENCRYPT_DECRYPT"),
                         inputs.get("customerMasterKeySpec", "SYMMETRIC_DEFAULT"), inputs.get("description", ""), None)
    if inputs.get("enableKeyRotation"):
        kms.enable_key_rotation(key.id)
    return key.id, {**inputs, "arn": key.arn, "keyId": key.id}


def kms_key_exists(ctx: AwsContext, arn: str) -> bool:
    return any(k.arn == arn for k in kms_backends[ctx.account_id][ctx.region].keys.values())


HANDLERS = {
    "aws:iam/role:Role": role,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": role_policy_attachment,
    "aws:iam/policy:Policy": policy,
    "aws:iam/instanceProfile:InstanceProfile": instance_profile,
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": open_id_connect_provider,
    "aws:kms/key:Key": kms_key,
}
