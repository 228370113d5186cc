"""What the AWS handlers share: moto's backends for the stack's region and the account's quotas, and the
EKS state moto does not keep."""

from __future__ import annotations

from dataclasses import dataclass, field

from moto.core import DEFAULT_ACCOUNT_ID
from moto.ec2.models import ec2_backends
from moto.iam.models import iam_backends
from moto.moto_api._internal import mock_random

from .rules import AwsRejection


@dataclass
class AwsContext:
    """What handlers need: moto backends for the stack's region and the account's quotas."""

    region: str
    route_table_quota: int = 50
    account_id: str = DEFAULT_ACCOUNT_ID
    ec2: object = field(init=False)
    # EKS state moto does not keep (access entries and add-ons are not implemented there).
    eks_clusters: dict = field(default_factory=dict)
    eks_access_entries: dict = field(default_factory=dict)
    eks_addons: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ec2 = ec2_backends[self.account_id][self.region]

    @property
    def private_dns_suffix(self) -> str:
        return "ec2.internal" if self.region == "us-east-1" else f"{self.region}.compute.internal"

    def stable_suffix(self, length: int) -> str:
        return "".join(mock_random.choice("0123456789abcdef") for _ in range(length))

    def require_instance_profile(self, name: str) -> None:
        iam = iam_backends[self.account_id]["aws"]
        if not any(p.name == name or p.arn == name for p in iam.instance_profiles.values()):
            raise AwsRejection(
                "InvalidParameterValue",
                f"Value ({name}) for parameter iamInstanceProfile.name is invalid. Invalid IAM Instance Profile name",
            )
