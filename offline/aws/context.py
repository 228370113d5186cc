"""What the AWS handlers share: moto's backends for the stack's region and the account's quotas, the
region's partition, and the EKS state moto does not keep."""

from __future__ import annotations

from dataclasses import dataclass, field

from moto.core import DEFAULT_ACCOUNT_ID
from moto.ec2.models import ec2_backends
from moto.iam.models import iam_backends
from moto.moto_api._internal import mock_random

from .partitions import partition_of
from .rules import AwsRejection


@dataclass
class AwsContext:
    """What handlers need: moto backends for the stack's region and the account's quotas."""

    region: str
    route_table_quota: int = 50
    account_id: str = DEFAULT_ACCOUNT_ID
    # Who runs pulumi: a user, or the role the stack's aws:assumeRoles names (getCallerIdentity answers a
    # session of it). EKS gives the creator bootstrap admin; the Kubernetes provider runs as this identity.
    assumed_role: str | None = None
    ec2: object = field(init=False)
    partition: str = field(init=False)  # aws, aws-cn, aws-us-gov: what aws.get_partition() answers
    dns_suffix: str = field(init=False)  # amazonaws.com, amazonaws.com.cn
    # EKS state moto does not keep (access entries and add-ons are not implemented there).
    eks_clusters: dict = field(default_factory=dict)
    eks_access_entries: dict = field(default_factory=dict)
    eks_addons: dict = field(default_factory=dict)
    eks_access_policies: dict = field(default_factory=dict)  # (cluster, principal) -> {policy ARN: scope}
    s3_config: dict = field(default_factory=dict)  # bucket -> {policy, encryption, ...: inputs}

    def __post_init__(self) -> None:
        self.ec2 = ec2_backends[self.account_id][self.region]
        self.partition, self.dns_suffix = partition_of(self.region)

    @property
    def iam(self):
        """IAM is global per partition: moto keeps one backend per partition."""
        return iam_backends[self.account_id][self.partition]

    def arn(self, service: str, resource: str, region: str | None = None, account: str | None = None) -> str:
        return f"arn:{self.partition}:{service}:{self.region if region is None else region}:" \
               f"{self.account_id if account is None else account}:{resource}"

    @property
    def caller_arn(self) -> str:
        if self.assumed_role:
            return (f"arn:{self.partition}:sts::{self.account_id}:assumed-role/"
                    f"{self.assumed_role.rsplit('/', 1)[-1]}/pulumi")
        return f"arn:{self.partition}:iam::{self.account_id}:user/offline"

    @property
    def caller_principal(self) -> str:
        """The IAM principal behind ``caller_arn`` (what EKS access entries name)."""
        return self.assumed_role or self.caller_arn

    @property
    def private_dns_suffix(self) -> str:
        return "ec2.internal" if self.region == "us-east-1" else f"{self.region}.compute.internal"

    def stable_suffix(self, length: int) -> str:
        return "".join(mock_random.choice("0123456789abcdef") for _ in range(length))

    def require_instance_profile(self, name: str) -> None:
        if not any(p.name == name or p.arn == name for p in self.iam.instance_profiles.values()):
            raise AwsRejection(
                "InvalidParameterValue",
                f"Value ({name}) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name",
            )
