"""The AWS partition a component deploys into (aws, aws-cn, aws-us-gov), from ``aws.get_partition()``:
what ARNs and service principals look like there.

What changes per partition, and what does not (each checked against a report of the real failure):
- ARNs: ``arn:<partition>:...`` -- AWS managed policies included (arn:aws-cn:iam::aws:policy/...).
- EC2's service principal carries the partition's DNS suffix: ``ec2.amazonaws.com.cn`` in China (AWS China
  IAM docs quoted in kubernetes/kubernetes#21858; EKS refuses a node role without it:
  awslabs/cdk-eks-blueprints#558; terraform-aws-eks PR #827 derives it from the DNS suffix).
- EKS's principal stays ``eks.amazonaws.com`` (IAM answers "Invalid principal in policy" for
  eks.amazonaws.com.cn: terraform-aws-eks#1904, #2263), and so does the IRSA audience ``sts.amazonaws.com``
  ("Incorrect token audience" with sts.amazonaws.com.cn: terraform-aws-eks#1704, eksctl#1910).
"""

from __future__ import annotations

from dataclasses import dataclass

# Services whose principal is <service>.<the partition's DNS suffix>; every other one the program uses
# keeps amazonaws.com.
_SUFFIXED_PRINCIPALS = ("ec2",)


@dataclass(frozen=True)
class Partition:
    name: str = "aws"
    dns_suffix: str = "amazonaws.com"

    def managed_policy_arn(self, name: str) -> str:
        """An AWS managed policy, ``name`` with its path (service-role/...)."""
        return f"arn:{self.name}:iam::aws:policy/{name}"

    def service_principal(self, service: str) -> str:
        suffix = self.dns_suffix if service in _SUFFIXED_PRINCIPALS else "amazonaws.com"
        return f"{service}.{suffix}"

    def arns(self, text: str) -> str:
        """``text`` with the commercial partition's ARN prefix replaced by this one's (policy documents
        published for ``aws``; the project's aws-cn and aws-us-gov variants differ only so)."""
        return text if self.name == "aws" else text.replace("arn:aws:", f"arn:{self.name}:")


def lookup(parent=None) -> Partition:
    """Ask the provider (of ``parent``, if given) which partition it deploys into."""
    import pulumi
    import pulumi_aws as aws

    result = aws.get_partition(opts=pulumi.InvokeOptions(parent=parent) if parent is not None else None)
    return Partition(result.partition, result.dns_suffix)
