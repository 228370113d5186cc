"""CloudWatch Logs groups, VPC flow logs and inline role policies in moto, with what AWS checks and moto skips.

- CreateLogGroup with ``kmsKeyId``: the key must exist and its policy must let the regional CloudWatch Logs
  principal (``logs.<region>.amazonaws.com``) use it for this group -- the encryption context
  ``kms:EncryptionContext:aws:logs:arn`` is the group's ARN -- or the call fails with
  AccessDeniedException "The specified KMS key does not exist or is not allowed to be used with Arn ..."
  (CloudWatch Logs API reference, CreateLogGroup / AssociateKmsKey; user guide "Encrypt log data ...").
- ``retentionInDays`` must be one of CloudWatch's values (PutRetentionPolicy: InvalidParameterException).
- CreateFlowLogs: moto's model (unknown VPC, aggregation interval, destination type); the delivery role is
  not checked by the API -- delivery fails later -- so offline/checks/security.py reads it back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from moto.kms.models import kms_backends
from moto.logs.models import logs_backends

from .iam import _iam
from .key_policy import LOGS_ACTIONS_NEEDED, key_allows_service
from .rules import AwsRejection

if TYPE_CHECKING:
    from .context import AwsContext

RETENTION_DAYS = {0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                  3288, 3653}


def log_group(ctx: AwsContext, name: str, inputs: dict) -> tuple[str, dict]:
    group_name = inputs.get("name") or f"{name}-{ctx.stable_suffix(7)}"
    retention = inputs.get("retentionInDays")
    if retention is not None and int(retention) not in RETENTION_DAYS:
        raise AwsRejection("InvalidParameterException", f"1 validation error detected: Value '{retention}' at "
                           "'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set")
    arn = f"arn:{ctx.partition}:logs:{ctx.region}:{ctx.account_id}:log-group:{group_name}"
    key_arn = inputs.get("kmsKeyId")
    if key_arn:
        key = next((k for k in kms_backends[ctx.account_id][ctx.region].keys.values() if key_arn in (k.arn, k.id)),
                   None)
        context = {"kms:EncryptionContext:aws:logs:arn": arn}
        if key is None or not key_allows_service(key.policy, f"logs.{ctx.region}.amazonaws.com", LOGS_ACTIONS_NEEDED,
                                                 context):
            raise AwsRejection("AccessDeniedException", f"The specified KMS key does not exist or is not allowed to "
                               f"be used with Arn '{arn}'")
    logs = logs_backends[ctx.account_id][ctx.region]
    kwargs = {"kmsKeyId": key_arn} if key_arn else {}
    logs.create_log_group(group_name, dict(inputs.get("tags") or {}), **kwargs)
    if retention:
        logs.put_retention_policy(group_name, int(retention))
    return group_name, {**inputs, "name": group_name, "arn": arn}


def role_policy(ctx: AwsContext, name: str, inputs: dict) -> tuple[str, dict]:
    iam = _iam(ctx)
    policy_name = inputs.get("name") or f"{name}-{ctx.stable_suffix(7)}"
    iam.put_role_policy(inputs["role"], policy_name, inputs["policy"])  # NoSuchEntity for an unknown role
    return f"{inputs['role']}:{policy_name}", {**inputs, "name": policy_name}


def flow_log(ctx: AwsContext, name: str, inputs: dict) -> tuple[str, dict]:
    if inputs.get("trafficType") not in ("ACCEPT", "REJECT", "ALL"):
        raise AwsRejection("InvalidParameterValue", f"TrafficType {inputs.get('trafficType')!r} must be ACCEPT, "
                           "REJECT or ALL")
    targets = [(t, inputs[k]) for t, k in (("VPC", "vpcId"), ("Subnet", "subnetId"),
                                          ("NetworkInterface", "eniId")) if inputs.get(k)]
    if len(targets) != 1:
        raise AwsRejection("InvalidParameterCombination", "a flow log needs exactly one of vpcId, subnetId, eniId")
    kind, resource = targets[0]
    destination_type = inputs.get("logDestinationType", "cloud-watch-logs")
    destination = inputs.get("logDestination")
    group = destination.split(":log-group:", 1)[1] if destination and ":log-group:" in destination else None
    created, failed = ctx.ec2.create_flow_logs(
        kind, [resource], inputs["trafficType"], inputs.get("iamRoleArn"), destination_type,
        None if destination_type == "cloud-watch-logs" else destination, group, inputs.get("logFormat"),
        inputs.get("maxAggregationInterval"))
    if failed:
        raise AwsRejection("InvalidParameterValue", "; ".join(str(f[2]) for f in failed))
    return created[0].id, {**inputs,
                           "arn": f"arn:{ctx.partition}:ec2:{ctx.region}:{ctx.account_id}:vpc-flow-log/{created[0].id}"}


HANDLERS = {
    "aws:cloudwatch/logGroup:LogGroup": log_group,
    "aws:iam/rolePolicy:RolePolicy": role_policy,
    "aws:ec2/flowLog:FlowLog": flow_log,
}
