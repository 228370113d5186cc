"""AlbAccessLogs: the S3 bucket an ALB writes its access logs to, as Elastic Load Balancing requires it.

From the ELB user guide ("Enable access logs for your Application Load Balancer"): the bucket is in the
load balancer's region; its only supported encryption is SSE-S3 (AES256, not KMS); its policy lets ELB
put objects under ``<prefix>/AWSLogs/<account>/``. The principal that writes depends on the region: the
region's Elastic Load Balancing account (regions opened before August 2022; ``aws.elb.get_service_account``,
the provider's table) or the service ``logdelivery.elasticloadbalancing.amazonaws.com`` (newer regions);
the policy names both, so it is right in either. When the bucket is wrong, the controller's
ModifyLoadBalancerAttributes fails ("Access Denied for bucket") and the Ingress never settles: the engine
checks the bucket against the Ingress (offline/checks/security.py).

Also: public access blocked, bucket-owner-enforced ownership (no ACLs), HTTPS-only access, logs expire
after the retention. The bucket is kept on ``pulumi destroy`` (``retain_on_delete``): logs outlive the
stack; delete it with ``aws s3 rb --force s3://<bucket>`` when they are no longer needed.
"""

from typing import NotRequired, Optional, TypedDict

import pulumi
import pulumi_aws as aws

from ..shared import iam_documents, log_groups, tags
from ..shared.args import checked

ELB_LOG_DELIVERY = "logdelivery.elasticloadbalancing.amazonaws.com"
PREFIX = "alb"


def bucket_policy(partition: str, bucket: str, prefix: str, account: str, elb_account_arn: str) -> dict:
    """ELB may put objects under ``<prefix>/AWSLogs/<account>/``: as the region's ELB account and, in the
    commercial partition, as the log-delivery service (regions opened since August 2022 use only that)."""
    objects = f"arn:{partition}:s3:::{bucket}"
    principal = {"AWS": elb_account_arn, **({"Service": ELB_LOG_DELIVERY} if partition == "aws" else {})}
    return {"Version": "2012-10-17", "Statement": [
        {"Sid": "ElbWritesAccessLogs", "Effect": "Allow", "Principal": principal,
         "Action": "s3:PutObject", "Resource": f"{objects}/{prefix}/AWSLogs/{account}/*"},
        {"Sid": "HttpsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [objects, f"{objects}/*"], "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ]}


class AlbAccessLogsArgs(TypedDict):
    bucket_prefix: str
    """Start of the bucket's name (S3 adds a unique suffix), e.g. the cluster name."""
    retention_days: NotRequired[int]
    """Days the logs are kept, a CloudWatch-style value (default 365)."""
    prefix: NotRequired[str]
    """Key prefix the ALB writes under (default alb)."""
    tags: NotRequired[dict[str, str]]
    """Tags added to the bucket."""


class AlbAccessLogs(pulumi.ComponentResource):
    """Outputs: bucket (its name), prefix."""

    bucket: pulumi.Output[str]
    """The bucket's name, once ELB may write to it (its policy exists)."""
    prefix: pulumi.Output[str]
    """The key prefix the ALB writes under."""

    def __init__(self, name: str, args: AlbAccessLogsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = checked(args, AlbAccessLogsArgs)
        retention = log_groups.checked_retention(args.get("retention_days", 365))
        prefix = args.get("prefix", PREFIX)
        super().__init__("k8snet:index:AlbAccessLogs", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # S3 bucket names: 3-63 lowercase letters, digits, '-'; the provider adds a 26-character suffix to a
        # prefix of at most 37.
        bucket = aws.s3.Bucket(f"{name}-bucket", bucket_prefix=f"{args['bucket_prefix'].lower().replace('_', '-')[:27]}-alb-logs-",
                               tags=tags.merge(args.get("tags") or {}),
                               opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True))
        ownership = aws.s3.BucketOwnershipControls(
            f"{name}-ownership", bucket=bucket.id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"), opts=child)
        public_access = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access", bucket=bucket.id, block_public_acls=True, block_public_policy=True,
            ignore_public_acls=True, restrict_public_buckets=True, opts=child)
        encryption = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption", bucket=bucket.id,
            rules=[aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.
                BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="AES256"))],  # the only encryption ELB log delivery supports
            opts=child)
        if retention:
            aws.s3.BucketLifecycleConfiguration(f"{name}-expiry", bucket=bucket.id, rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-access-logs", status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(),  # the whole bucket: it holds logs only
                    expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=retention),
                    abort_incomplete_multipart_upload=aws.s3.
                    BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(days_after_initiation=7))],
                opts=child)
        invoke = pulumi.InvokeOutputOptions(parent=self)
        policy = pulumi.Output.all(aws.get_partition_output(opts=invoke).partition, bucket.bucket,
                                   aws.get_caller_identity_output(opts=invoke).account_id,
                                   aws.elb.get_service_account_output(opts=invoke).arn).apply(
            lambda a: iam_documents.dumps(bucket_policy(a[0], a[1], prefix, a[2], a[3])))
        # One bucket-level change at a time: S3 answers OperationAborted to concurrent ones.
        written = aws.s3.BucketPolicy(f"{name}-policy", bucket=bucket.id, policy=policy,
                                      opts=pulumi.ResourceOptions(parent=self,
                                                                  depends_on=[encryption, ownership, public_access]))
        # The ALB is told about the bucket only once ELB may write to it.
        self.bucket = pulumi.Output.all(bucket.bucket, written.id).apply(lambda a: a[0])
        self.prefix = pulumi.Output.from_input(prefix)
        self.register_outputs({"bucket": self.bucket, "prefix": self.prefix})
