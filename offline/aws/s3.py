"""S3 buckets and their bucket-level configurations, kept in ``AwsContext.s3_config`` (moto's S3 keeps a
process-wide name registry that outlives its resets; names are global in AWS and cannot be modelled
usefully anyway).

A bucket's name is ``bucket``, or ``bucketPrefix`` plus the provider's 26-character unique suffix
(terraform-provider-aws: a prefix of at most 37 characters), and follows S3's naming rules. The
configuration resources (policy, encryption, public access block, ownership, lifecycle) need an existing
bucket (NoSuchBucket); offline/checks/security.py reads them.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from .rules import AwsRejection

if TYPE_CHECKING:
    from .context import AwsContext

MAX_PREFIX = 37  # 63 - the 26-character suffix
_NAME = re.compile(r"^(?!xn--)(?!.*-s3alias$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def bucket(ctx: AwsContext, name: str, inputs: dict) -> tuple[str, dict]:
    prefix = inputs.get("bucketPrefix")
    if inputs.get("bucket"):
        bucket_name = inputs["bucket"]
    elif prefix is not None:
        if len(prefix) > MAX_PREFIX:
            raise AwsRejection("InvalidBucketName", f"bucket_prefix {prefix!r} is longer than {MAX_PREFIX} characters")
        bucket_name = f"{prefix}{ctx.stable_suffix(26)}"
    else:
        bucket_name = f"{name}-{ctx.stable_suffix(7)}"
    if not _NAME.match(bucket_name) or ".." in bucket_name or re.fullmatch(r"[\d.]+", bucket_name):
        raise AwsRejection("InvalidBucketName", f"The specified bucket is not valid: {bucket_name}")
    if bucket_name in ctx.s3_config:
        raise AwsRejection("BucketAlreadyExists", f"The requested bucket name is not available: {bucket_name}")
    ctx.s3_config[bucket_name] = {}
    return bucket_name, {**inputs, "bucket": bucket_name, "arn": f"arn:{ctx.partition}:s3:::{bucket_name}",
                         "bucketRegionalDomainName": f"{bucket_name}.s3.{ctx.region}.amazonaws.com",
                         "region": ctx.region}


def _configuration(kind: str):
    def create(ctx: AwsContext, name: str, inputs: dict) -> tuple[str, dict]:
        target = inputs.get("bucket")
        if target not in ctx.s3_config:
            raise AwsRejection("NoSuchBucket", f"The specified bucket does not exist: {target}")
        if kind == "policy":
            try:
                json.loads(inputs["policy"])
            except (KeyError, TypeError, json.JSONDecodeError):
                raise AwsRejection("MalformedPolicy", "Policies must be valid JSON") from None
        ctx.s3_config[target][kind] = dict(inputs)
        return target, dict(inputs)
    return create


HANDLERS = {
    "aws:s3/bucket:Bucket": bucket,
    "aws:s3/bucketPolicy:BucketPolicy": _configuration("policy"),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": _configuration("encryption"),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _configuration("public_access_block"),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _configuration("ownership"),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _configuration("lifecycle"),
}
