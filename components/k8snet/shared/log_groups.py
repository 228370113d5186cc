"""A CloudWatch log group encrypted with a KMS key of its own, kept for a set number of days.

CloudWatch Logs encrypts a group with a customer key only if the key policy lets the regional service
principal ``logs.<region>.amazonaws.com`` use it for that group: the encryption context
``kms:EncryptionContext:aws:logs:arn`` is the group's ARN (CloudWatch Logs user guide, "Encrypt log data
in CloudWatch Logs using AWS KMS": the policy statement, its condition, and that CreateLogGroup with
``kmsKeyId`` fails when the key does not allow it). The account root keeps ``kms:*`` so the key stays
manageable (KMS refuses a policy that would lock its creator out: CreateKey "The new key policy will not
allow you to update the key policy in the future", unless the lockout check is bypassed). Revoking or
deleting the key makes the logs unreadable: ``deletion_window_in_days`` is the maximum, 30.

Retention: what CloudWatch accepts (``retention_in_days`` docstring of aws.cloudwatch.LogGroup).
"""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from . import iam_documents

RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                  3288, 3653)  # and 0: never expire
# Read by CloudWatch Logs to encrypt and decrypt (the user guide's statement).
LOGS_KEY_ACTIONS = ["kms:Decrypt*", "kms:Describe*", "kms:Encrypt*", "kms:GenerateDataKey*", "kms:ReEncrypt*"]


def retention_problem(days: object) -> str | None:
    if isinstance(days, bool) or not isinstance(days, int) or (days not in RETENTION_DAYS and days != 0):
        return (f"{days!r} is not a CloudWatch Logs retention; use one of "
                f"{', '.join(map(str, RETENTION_DAYS))} (days) or 0 (never expire)")
    return None


def checked_retention(days: object) -> int:
    """``days`` if CloudWatch offers it (components refuse a bad one before registering anything)."""
    if (problem := retention_problem(days)) is not None:
        raise ValueError(f"retention_days: {problem}")
    return days


def log_group_arn(partition: str, region: str, account: str, name: str) -> str:
    return f"arn:{partition}:logs:{region}:{account}:log-group:{name}"


def key_policy(partition: str, region: str, account: str, log_group_names: list[str]) -> dict:
    """The key policy: the account administers the key; CloudWatch Logs uses it for these groups only."""
    return iam_documents.kms_key_policy(partition, account, {
        "Sid": "CloudWatchLogsEncryptsTheseGroups", "Effect": "Allow",
        "Principal": {"Service": f"logs.{region}.amazonaws.com"}, "Action": LOGS_KEY_ACTIONS, "Resource": "*",
        "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": [
            log_group_arn(partition, region, account, n) for n in sorted(log_group_names)]}}})


def encrypted_log_group(name: str, group_name: str, retention_days: int, region: str, description: str,
                        tags: Mapping[str, str], parent: pulumi.Resource) -> tuple[aws.kms.Key, aws.cloudwatch.LogGroup]:
    """KMS key ``<name>-key`` and log group ``<name>`` (named ``group_name``) in ``region``, encrypted with
    the key."""
    checked_retention(retention_days)
    child = pulumi.ResourceOptions(parent=parent)
    invoke = pulumi.InvokeOutputOptions(parent=parent)
    identity, partition = aws.get_caller_identity_output(opts=invoke), aws.get_partition_output(opts=invoke)
    policy = pulumi.Output.all(partition.partition, identity.account_id).apply(
        lambda a: iam_documents.dumps(key_policy(a[0], region, a[1], [group_name])))
    key = aws.kms.Key(f"{name}-key", description=description, enable_key_rotation=True, deletion_window_in_days=30,
                      policy=policy, tags=dict(tags), opts=child)
    group = aws.cloudwatch.LogGroup(name, name=group_name, retention_in_days=retention_days, kms_key_id=key.arn,
                                    tags=dict(tags), opts=child)
    return key, group
