"""S3 buckets in moto (names are global and validated there) and their bucket-level configurations.

A bucket's name is ``bucket``, or ``bucketPrefix`` plus the provider's 26-character unique suffix
(terraform-provider-aws: a prefix of at most 37 characters). The configuration resources (policy,
encryption, public access block, ownership, lifecycle) need an existing bucket (NoSuchBucket) and are
kept per bucket in ``AwsContext.s3_config`` for the checks (offline/checks/security.py).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from moto.s3.models import s3_backends

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
    s3_backends[ctx.account_id]["aws"].create_bucket(bucket_name, ctx.region)  # BucketAlreadyExists
    ctx.s3_config[bucket_name] = {}
    return bucket_name, {**inputs, "bucket": bucket_name, "arn": f"arn:aws:s3:::{bucket_name}",
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
