"""Detection and retention (issue 13 item 9; docs/security.md): the log groups, VPC flow logs, ALB access logs and
the cluster's deletion protection.

What AWS refuses or silently fails is mandatory, with the engine's own rules: CreateLogGroup refuses a key
whose policy does not let CloudWatch Logs use it for that group (offline/aws/logs.py), a flow log whose role
cannot write delivers nothing, an ALB whose bucket ELB cannot write never settles (offline/checks/security.py).
What a setting may turn down (flow logs, retention, deletion protection) is advisory.

A first preview knows neither the account nor the ARNs these documents name: those parts are checked at the
next preview.
"""

from __future__ import annotations

from offline.aws.partitions import partition_of
from offline.aws.key_policy import LOGS_ACTIONS_NEEDED, key_allows_service
from offline.checks import security

from ..plan import CLUSTER, Plan, Resource, known
from ..registry import ADVISORY, MANDATORY, Violation, stack_rule
from .aws import REGION, configured_region

LOG_GROUP, KMS_KEY = "aws:cloudwatch/logGroup:LogGroup", "aws:kms/key:Key"
VPC, FLOW_LOG = "aws:ec2/vpc:Vpc", "aws:ec2/flowLog:FlowLog"
ROLE, ROLE_POLICY = "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy"
BUCKET = "aws:s3/bucket:Bucket"
BUCKET_CONFIGS = {
    "encryption": "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "policy": "aws:s3/bucketPolicy:BucketPolicy"}


def refers_to(plan: Plan, resource: Resource, key: str, target: Resource, *outputs: str) -> bool:
    """Whether input ``key`` of ``resource`` names ``target``: computed from it (a property dependency), or
    equal to one of its known ``outputs``."""
    value = resource.props.get(key)
    return target in plan.deps(resource, key) or any(value == target.props.get(o) for o in outputs if value)


@stack_rule("log-group-encryption", "Every CloudWatch log group is encrypted with a KMS key whose policy lets "
                                    "CloudWatch Logs use it for that group",
            level=MANDATORY, config=REGION,
            why="Always on, no setting (docs/security.md): control-plane and flow logs are encrypted with keys of "
                "their own. CreateLogGroup fails (AccessDeniedException) when the key policy does not grant "
                "logs.<region>.amazonaws.com the use for the group's ARN, and the update stops there. Mandatory.")
def check_log_group_keys(plan: Plan, config: dict):
    region = plan.region(configured_region(config))
    partition, _ = partition_of(region)
    for group in plan.of_type(LOG_GROUP):
        keys = plan.deps(group, "kmsKeyId", KMS_KEY)
        if not group.props.get("kmsKeyId") and not keys:
            yield Violation(f"log group {group.name}: no kmsKeyId, so it is encrypted with CloudWatch's own key "
                            "(its logs readable to anyone who may read the group)", group.urn)
            continue
        for key in keys:
            with plan.checking(f"log group {group.name}: its key's policy"):
                name = known(group.props.get("name"), "its name")
                arn = group.props.get("arn")
                if not isinstance(arn, str):
                    arn = f"arn:{partition}:logs:{region}:{plan.account()}:log-group:{name}"
                policy = known(key.props.get("policy"), "the key policy")
                if not key_allows_service(policy, f"logs.{region}.amazonaws.com", LOGS_ACTIONS_NEEDED,
                                          {"kms:EncryptionContext:aws:logs:arn": arn}):
                    yield Violation(f"log group {group.name}: the policy of key {key.name} does not let "
                                    f"logs.{region}.amazonaws.com use it for {arn} (CreateLogGroup: "
                                    "AccessDeniedException)", group.urn)


@stack_rule("log-retention", "Every CloudWatch log group keeps its logs at least the configured number of days "
                             "(default 365)",
            level=ADVISORY,
            config={"minimumRetentionDays": {"type": "integer", "minimum": 1, "default": 365,
                                             "description": "The shortest retention accepted (days)"}},
            why="Control-plane and flow logs answer what happened months later (CIS EKS 2.1.2); a stack may keep "
                "them shorter on purpose (logRetentionDays). Advisory; raise it to mandatory, or change "
                "minimumRetentionDays, in the pack config.")
def check_retention(plan: Plan, config: dict):
    minimum = int(config["minimumRetentionDays"])
    for group in plan.of_type(LOG_GROUP):
        with plan.checking(f"log group {group.name}: retentionInDays"):
            days = known(group.props.get("retentionInDays"), "retentionInDays")
            if days and int(days) < minimum:  # absent or 0: kept for ever
                yield Violation(f"log group {group.name}: logs kept {days} days, fewer than {minimum}", group.urn)


@stack_rule("vpc-flow-logs", "Every VPC logs all its flows (accepted and rejected)",
            level=ADVISORY,
            why="Without flow logs nobody can tell which connections a security group or NACL admitted or refused "
                "after the fact; a stack may turn them off (vpcFlowLogs: false). Advisory.")
def check_flow_logs(plan: Plan, config: dict):
    flow_logs = plan.of_type(FLOW_LOG)
    for vpc in plan.of_type(VPC):
        mine = [f for f in flow_logs if refers_to(plan, f, "vpcId", vpc)]
        if not mine:
            yield Violation(f"VPC {vpc.name}: no flow log", vpc.urn)
        for f in mine:
            with plan.checking(f"flow log {f.name}: trafficType"):
                if known(f.props.get("trafficType"), "trafficType") != "ALL":
                    yield Violation(f"flow log {f.name}: logs {f.props.get('trafficType')} traffic only, not ALL",
                                    f.urn)


@stack_rule("flow-log-delivery", "Every flow log delivers to a log group of the stack, through a role that "
                                 "vpc-flow-logs.amazonaws.com may assume and that may write to that group",
            level=MANDATORY,
            why="CreateFlowLogs succeeds either way: the flow log then shows DeliverLogsStatus FAILED ('Access "
                "error') and records nothing, and nobody notices until the logs are needed (VPC user guide, flow "
                "log troubleshooting). Mandatory.")
def check_flow_log_delivery(plan: Plan, config: dict):
    groups, roles = plan.of_type(LOG_GROUP), plan.of_type(ROLE)
    for f in plan.of_type(FLOW_LOG):
        where = f"flow log {f.name}"
        if f.props.get("logDestinationType", "cloud-watch-logs") != "cloud-watch-logs":
            continue
        if not any(refers_to(plan, f, "logDestination", g, "arn") for g in groups):
            yield Violation(f"{where}: its destination is no log group of the stack (delivery fails while the "
                            "group does not exist)", f.urn)
            continue
        role = next((r for r in roles if refers_to(plan, f, "iamRoleArn", r, "arn")), None)
        if role is None:
            yield Violation(f"{where}: its delivery role is no role of the stack", f.urn)
            continue
        with plan.checking(f"{where}: its role's documents"):
            policies = [known(p.props.get("policy"), f"role policy {p.name}") for p in plan.of_type(ROLE_POLICY)
                        if refers_to(plan, p, "role", role, "name")]
            trust = known(role.props.get("assumeRolePolicy"), f"role {role.name}: assumeRolePolicy")
            group_arn = known(f.props.get("logDestination"), "logDestination")
            for problem in security.flow_log_delivery_problems(where, role.name, trust, policies, group_arn,
                                                               plan.account()):
                yield Violation(problem, f.urn)


def buckets(plan: Plan) -> dict[str, dict]:
    """Bucket name -> its configurations as S3 will hold them (what the engine's s3_config holds)."""
    out = {}
    for bucket in plan.of_type(BUCKET):
        name = known(bucket.props.get("bucket"), f"bucket {bucket.name}: its name")
        out[name] = {kind: known(c.props, f"{c.type.split(':')[-1]} {c.name}")
                     for kind, type_token in BUCKET_CONFIGS.items() for c in plan.of_type(type_token)
                     if refers_to(plan, c, "bucket", bucket, "bucket")}
    return out


@stack_rule("alb-access-logs", "Every ALB Ingress drops invalid header names, and its access logs go to a bucket "
                               "of the stack, SSE-S3 encrypted, that Elastic Load Balancing may write to",
            level=MANDATORY, config=REGION,
            why="A bucket ELB cannot write (or encrypted with anything but SSE-S3) fails the controller's "
                "ModifyLoadBalancerAttributes ('Access Denied for bucket'): the Ingress never settles. Dropping "
                "invalid headers is always on (request smuggling). Mandatory.")
def check_access_logs(plan: Plan, config: dict):
    ingresses = plan.known_objects([o for o in plan.registered_objects() if o.get("kind") == "Ingress"])
    if not ingresses:
        return
    region = plan.region(configured_region(config))
    partition, _ = partition_of(region)
    with plan.checking("the access-log buckets"):
        known_buckets = buckets(plan)
        uses_bucket = any("access_logs.s3.enabled=true" in ((i["metadata"].get("annotations") or {}).get(
            "alb.ingress.kubernetes.io/load-balancer-attributes") or "") for i in ingresses)
        account = plan.account() if uses_bucket else ""
        yield from security.access_log_bucket_problems(ingresses, known_buckets, account, partition, region)


@stack_rule("eks-deletion-protection", "The EKS cluster has deletion protection on",
            level=ADVISORY,
            why="With it, `pulumi destroy` or a replacement cannot delete the cluster until a deliberate update "
                "turns it off (EKS InvalidRequestException). On by default; a dev stack that is destroyed often "
                "turns it off (deletionProtection: false; ours does). Advisory.")
def check_deletion_protection(plan: Plan, config: dict):
    for cluster in plan.of_type(CLUSTER):
        with plan.checking(f"cluster {cluster.name}: deletionProtection"):
            if known(cluster.props.get("deletionProtection"), "deletionProtection") is not True:
                yield Violation(f"cluster {cluster.name}: deletion protection is off", cluster.urn)
