"""An IAM role with AWS managed policies attached: the one shape every role here has."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pulumi
import pulumi_aws as aws

from .partition import Partition


def role_with_policies(
    name: str,
    trust: pulumi.Input[str],
    policies: Sequence[str],  # AWS managed policy names, with their path (service-role/...)
    description: str,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
    partition: Partition,
) -> tuple[aws.iam.Role, list[aws.iam.RolePolicyAttachment]]:
    """Role ``name`` and one attachment ``<name>-<policy name>`` per policy (ARNs in ``partition``)."""
    opts = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(name, assume_role_policy=trust, description=description, tags=dict(tags), opts=opts)
    attachments = [
        aws.iam.RolePolicyAttachment(
            f"{name}-{policy.rsplit('/', 1)[-1]}",
            role=role.name,
            policy_arn=partition.managed_policy_arn(policy),
            opts=opts,
        )
        for policy in policies
    ]
    return role, attachments
