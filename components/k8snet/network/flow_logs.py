"""VpcFlowLogs: every accepted and rejected flow of the VPC, to a KMS-encrypted CloudWatch log group.

What the VPC user guide's "Publish flow logs to CloudWatch Logs" asks for, and how each piece is made:
- the log group exists first (its retention and key then apply), encrypted with a key of its own
  (k8snet/shared/log_groups.py);
- an IAM role the flow-logs service assumes: trust ``vpc-flow-logs.amazonaws.com`` for ``sts:AssumeRole``,
  limited to this account (``aws:SourceAccount``, the confused-deputy guard), and permission to
  create streams in and put events to this group (and describe groups/streams, as the guide's policy);
- the flow log itself: ``traffic_type`` ALL (accepted and rejected), 10-minute aggregation (the default).
A role the service cannot assume or that lacks these permissions does not fail the API call: the flow
log is created and its ``DeliverLogsStatus`` turns FAILED ("Access error"). The engine checks it.
"""

from typing import NotRequired, Optional, TypedDict

import pulumi
import pulumi_aws as aws

from ..shared import iam_documents, log_groups, tags
from ..shared.args import checked

TRAFFIC_TYPE = "ALL"
DELIVERY_ACTIONS = ["logs:CreateLogStream", "logs:DescribeLogGroups", "logs:DescribeLogStreams", "logs:PutLogEvents"]


def trust_policy(account: str) -> dict:
    statement = iam_documents.service_trust("vpc-flow-logs.amazonaws.com")["Statement"][0]
    return {"Version": "2012-10-17",
            "Statement": [{**statement, "Condition": {"StringEquals": {"aws:SourceAccount": account}}}]}


def delivery_policy(log_group_arn: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": DELIVERY_ACTIONS, "Resource": [log_group_arn, f"{log_group_arn}:*"]}]}


class VpcFlowLogsArgs(TypedDict):
    vpc_id: pulumi.Input[str]
    """The VPC whose traffic is logged."""
    log_group_name: str
    """CloudWatch log group name, e.g. /k8snet/<cluster>/vpc-flow-logs."""
    region: str
    """The stack's region (the key policy names the regional logs service)."""
    retention_days: NotRequired[int]
    """Retention, a CloudWatch Logs value (default 365)."""
    tags: NotRequired[dict[str, str]]
    """Tags added to every resource."""


class VpcFlowLogs(pulumi.ComponentResource):
    """Key, log group, delivery role and its policy, flow log. Outputs: log_group_name, flow_log_id."""

    log_group_name: pulumi.Output[str]
    """The CloudWatch log group the flow log writes to."""
    flow_log_id: pulumi.Output[str]
    """The flow log's id (fl-...)."""

    def __init__(self, name: str, args: VpcFlowLogsArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = checked(args, VpcFlowLogsArgs)
        retention = log_groups.checked_retention(args.get("retention_days", 365))
        super().__init__("k8snet:index:VpcFlowLogs", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        extra = dict(args.get("tags") or {})
        _, group = log_groups.encrypted_log_group(f"{name}-logs", args["log_group_name"], retention, args["region"],
                                                  f"VPC flow logs ({args['log_group_name']})", extra, self)
        account = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self)).account_id
        role = aws.iam.Role(f"{name}-role", assume_role_policy=account.apply(
            lambda a: iam_documents.dumps(trust_policy(a))), description="VPC flow logs delivery",
            tags=tags.merge(extra), opts=child)
        role_policy = aws.iam.RolePolicy(f"{name}-delivery", role=role.id, policy=group.arn.apply(
            lambda arn: iam_documents.dumps(delivery_policy(arn))), opts=child)
        flow_log = aws.ec2.FlowLog(
            f"{name}-vpc", vpc_id=args["vpc_id"], traffic_type=TRAFFIC_TYPE, log_destination_type="cloud-watch-logs",
            log_destination=group.arn, iam_role_arn=role.arn, max_aggregation_interval=600,
            tags=tags.merge(extra, {"Name": args["log_group_name"]}),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy]))
        self.log_group_name = group.name
        self.flow_log_id = flow_log.id
        self.register_outputs({"logGroupName": self.log_group_name, "flowLogId": self.flow_log_id})
