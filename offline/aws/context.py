"""What the AWS handlers share: moto's backends for the stack's region and the account's quotas, the
region's partition, and the EKS state moto does not keep."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.base_backend import AccountSpecificBackend
from moto.ec2.models import ec2_backends
from moto.iam.models import iam_backends
from moto.moto_api._internal import mock_random

from .rules import AwsRejection


@lru_cache(maxsize=1)
def _partitions() -> dict[str, tuple[str, str]]:
    """region -> (partition, DNS suffix), from the endpoint data botocore ships (what the SDKs and the
    provider resolve regions with). moto models the aws, aws-cn and aws-us-gov partitions."""
    # moto's own (cached) session: its loader parses the 1.3 MB endpoints file once for both uses.
    data = AccountSpecificBackend.get_session()._session.get_component("data_loader").load_data("endpoints")
    modelled = set(ec2_backends[DEFAULT_ACCOUNT_ID].regions)
    return {region: (p["partition"], p["dnsSuffix"]) for p in data["partitions"] for region in p["regions"]
            if region in modelled}


def partition_of(region: str) -> tuple[str, str]:
    """(partition, DNS suffix) of a region the engine knows."""
    return _partitions()[region]


def region_problem(region: str) -> str | None:
    """Why the engine cannot simulate ``region`` (the provider would refuse it too), or None."""
    if region in _partitions():
        return None
    return (f"{region!r} is not an AWS region the offline engine knows; use one like us-east-1, eu-west-1 "
            "or cn-north-1")


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
