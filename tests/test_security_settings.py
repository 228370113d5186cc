"""Exposure, access, detection and retention (issue 13 items 1-3, 9; issue 11 item 8): each setting validated
before any resource, its safe default, what the program registers for it, and the engine rules behind it."""

from __future__ import annotations

import json

import boto3
import pytest

from k8snet.app import load_balancer
from k8snet.app import manifests as m
from k8snet.cluster import access
from k8snet.cluster.kubeconfig import kubeconfig
from k8snet.config import ConfigError, parse_config, plan
from k8snet.config import security as config_security
from k8snet.shared import log_groups
from offline import OfflineEngine
from offline.aws import logs as aws_logs
from offline.aws.context import AwsContext
from offline.aws.iam import kms_key
from offline.aws.rules import AwsRejection
from offline.checks import security
from offline.kube.api_server import unwrap_secrets
from tests.conftest import ROOT

ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]
CERT = "arn:aws:acm:us-east-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
WAF = "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/shop/12345678-1234-1234-1234-123456789012"
ROLE = "arn:aws:iam::123456789012:role/ci-deployer"


def _problems(raw: dict, aws_settings: dict | None = None) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_config(raw, "dev", aws_settings)
    return err.value.problems


def _warnings(raw: dict, caller: str | None = None) -> list[str]:
    return list(plan(parse_config(raw, "dev"), "us-east-1", ZONES, caller_arn=caller).warnings)


# --- item 2: the API endpoint --------------------------------------------------------------------------

def test_the_api_endpoint_is_private_unless_a_stack_lists_addresses():
    assert parse_config({}, "dev").api_public_access_cidrs == ()
    assert any("private" in w and "workstation" in w for w in _warnings({}))
    assert any("0.0.0.0/0" in w for w in _warnings({"apiPublicAccessCidrs": ["0.0.0.0/0"]}))
    assert not any("apiPublicAccessCidrs" in w for w in _warnings({"apiPublicAccessCidrs": ["203.0.113.7/32"]}))


def test_the_dev_stack_opens_the_endpoint_explicitly_and_the_preview_says_so(variant_records):
    (eks,) = [r for r in variant_records["dev"] if r.type == "aws:eks/cluster:Cluster"]
    assert eks.inputs["vpcConfig"]["publicAccessCidrs"] == ["0.0.0.0/0"]  # Pulumi.dev.yaml says so


# --- item 1: the NLB and the ALB -------------------------------------------------------------------------

def _nlb(settings: load_balancer.LoadBalancerSettings) -> dict:
    return next(s for s in m.services(m.AppSettings(load_balancer=settings)) if s["spec"]["type"] == "LoadBalancer")


def test_the_nlb_is_internal_and_reachable_from_the_vpc_only_by_default():
    svc = _nlb(load_balancer.LoadBalancerSettings())
    ann = svc["metadata"]["annotations"]
    assert ann["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internal"
    assert svc["spec"]["loadBalancerSourceRanges"] == ["192.168.0.0/16"]
    assert [p["port"] for p in svc["spec"]["ports"]] == [80]


def test_a_public_nlb_needs_tls_or_an_explicit_allow_http():
    assert any(p.startswith("appLoadBalancer: a public NLB") for p in _problems({"appLoadBalancer": {"public": True}}))
    cfg = parse_config({"appLoadBalancer": {"public": True, "certificateArn": CERT,
                                            "sourceRanges": ["203.0.113.0/24"]}}, "dev")
    svc = _nlb(cfg.app_load_balancer)
    ann = svc["metadata"]["annotations"]
    assert ann["service.beta.kubernetes.io/aws-load-balancer-scheme"] == "internet-facing"
    assert ann["service.beta.kubernetes.io/aws-load-balancer-ssl-cert"] == CERT
    assert ann["service.beta.kubernetes.io/aws-load-balancer-ssl-ports"] == "https"
    assert svc["spec"]["ports"] == [{"name": "https", "port": 443, "targetPort": "http", "protocol": "TCP"}]
    assert svc["spec"]["loadBalancerSourceRanges"] == ["203.0.113.0/24"]
    http = parse_config({"appLoadBalancer": {"public": True, "allowHttp": True}}, "dev")
    assert _nlb(http.app_load_balancer)["spec"]["loadBalancerSourceRanges"] == ["0.0.0.0/0"]
    assert any("appLoadBalancer.allowHttp" in w for w in _warnings({"appLoadBalancer": {"public": True,
                                                                                         "allowHttp": True}}))


def test_nlb_settings_are_validated_naming_the_key():
    problems = _problems({"appLoadBalancer": {"public": "yes", "sourceRanges": ["10.0.0.0/33", "::/0"],
                                              "certificateArn": "arn:aws:acm:x", "scheme": "internal"}})
    for key in ("appLoadBalancer.public", "appLoadBalancer.sourceRanges[0]", "appLoadBalancer.sourceRanges[1]",
                "appLoadBalancer.certificateArn", "appLoadBalancer.scheme"):
        assert any(p.startswith(key + ":") for p in problems), key
    other_region = CERT.replace("us-east-1", "eu-west-1")
    with pytest.raises(ConfigError, match="appLoadBalancer.certificateArn: the certificate is in eu-west-1"):
        plan(parse_config({"appLoadBalancer": {"certificateArn": other_region}}, "dev"), "us-east-1", ZONES)


def test_the_alb_is_public_only_with_https_or_an_explicit_allow_http():
    assert not parse_config({}, "dev").ingress.internet_facing
    assert any("the webapp's ALB is internal" in w for w in _warnings({}))
    assert parse_config({"ingress": {"certificateArn": CERT}}, "dev").ingress.internet_facing
    assert parse_config({"ingress": {"allowHttp": True}}, "dev").ingress.internet_facing
    assert any(w.startswith("ingress.allowHttp:") for w in _warnings({"ingress": {"allowHttp": True}}))
    problems = _problems({"ingress": {"allowHttp": "true", "accessLogs": 1, "wafAclArn": "arn:aws:wafv2:x"}})
    assert {p.split(":")[0] for p in problems} == {"ingress.allowHttp", "ingress.accessLogs", "ingress.wafAclArn"}
    with pytest.raises(ConfigError, match="ingress.wafAclArn: the web ACL is in eu-west-1"):
        plan(parse_config({"ingress": {"wafAclArn": WAF.replace("us-east-1", "eu-west-1")}}, "dev"), "us-east-1",
             ZONES)


def test_the_dev_albs_attributes_logs_and_waf(run_stack):
    result, engine = run_stack({"ingress": {"allowHttp": True, "wafAclArn": WAF}})
    assert result.ok, result.error
    (ingress,) = [o for o in engine.kube.objects.values() if o["kind"] == "Ingress"]
    ann = ingress["metadata"]["annotations"]
    assert ann["alb.ingress.kubernetes.io/wafv2-acl-arn"] == WAF
    attrs = dict(kv.split("=") for kv in ann["alb.ingress.kubernetes.io/load-balancer-attributes"].split(","))
    assert attrs["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attrs["access_logs.s3.enabled"] == "true" and attrs["access_logs.s3.prefix"] == "alb"
    bucket = engine.aws.s3_config[attrs["access_logs.s3.bucket"]]
    assert bucket["public_access_block"]["restrictPublicBuckets"] is True
    assert security.access_log_problems([ingress], engine) == []
    # The checks catch a bucket ELB cannot write to: KMS instead of SSE-S3, a policy for the wrong path.
    rule = bucket["encryption"]["rules"][0]["applyServerSideEncryptionByDefault"]
    rule["sseAlgorithm"] = "aws:kms"
    policy = json.loads(bucket["policy"]["policy"])
    policy["Statement"][0]["Resource"] = policy["Statement"][0]["Resource"].replace("/alb/", "/other/")
    bucket["policy"]["policy"] = json.dumps(policy)
    problems = security.access_log_problems([ingress], engine)
    assert any("SSE-S3" in p for p in problems) and any("put objects under alb/AWSLogs" in p for p in problems)


# --- items 3 and issue 11.8: who administers the cluster, and as whom pulumi talks to it ------------------

def test_admin_principals_and_the_kubeconfig_identity_are_validated():
    problems = _problems({"adminPrincipalArns": ["arn:aws:sts::123456789012:assumed-role/ci/session", "nope",
                                                 ROLE, ROLE]})
    assert any(p.startswith("adminPrincipalArns[0]: ") and "role's ARN" in p for p in problems)
    assert any(p.startswith("adminPrincipalArns[1]: ") for p in problems)
    assert any(p.startswith("adminPrincipalArns[3]: ") and "twice" in p for p in problems)
    chain = json.dumps([{"roleArn": ROLE}, {"roleArn": ROLE + "2"}])
    assert any(p.startswith("aws:assumeRoles:") and "chain" in p for p in _problems({}, {"aws:assumeRoles": chain}))
    external = json.dumps([{"roleArn": ROLE, "externalId": "x"}])
    assert any(p.startswith("aws:assumeRoles[0].externalId") for p in _problems({}, {"aws:assumeRoles": external}))
    cfg = parse_config({}, "dev", {"aws:profile": "ci", "aws:assumeRoles": json.dumps([{"roleArn": ROLE}])})
    assert cfg.kubeconfig_identity == access.KubeconfigIdentity("ci", ROLE)


def test_the_kubeconfig_runs_get_token_as_the_stacks_identity():
    doc = json.loads(kubeconfig("c", "https://x", "Q0E=", "us-east-1", access.KubeconfigIdentity("ci", ROLE)))
    exec_config = doc["users"][0]["user"]["exec"]
    assert exec_config["args"][-2:] == ["--role-arn", ROLE] and "--region" in exec_config["args"]
    assert exec_config["env"] == [{"name": "AWS_PROFILE", "value": "ci"}]
    plain = json.loads(kubeconfig("c", "https://x", "Q0E=", "us-east-1"))["users"][0]["user"]["exec"]
    assert "--role-arn" not in plain["args"] and "env" not in plain


def test_an_admin_list_without_the_caller_is_warned_about():
    assert access.is_admin("arn:aws:sts::123456789012:assumed-role/ci-deployer/pulumi", [ROLE])
    assert access.is_admin("arn:aws:sts::123456789012:assumed-role/ci-deployer/x",
                           ["arn:aws:iam::123456789012:role/team/ci-deployer"])  # sessions carry no path
    assert not access.is_admin("arn:aws:iam::123456789012:user/alice", [ROLE])
    warnings = _warnings({"adminPrincipalArns": [ROLE]}, "arn:aws:iam::123456789012:user/alice")
    assert any("does not list the identity running pulumi" in w for w in warnings)


def _run_as(config: dict, assumed: bool, tmp_roles=(ROLE,)):
    engine = OfflineEngine(ROOT, "dev", {**config, **({"aws:assumeRoles": [{"roleArn": ROLE}]} if assumed else {})})
    engine.__enter__()
    iam = boto3.client("iam", region_name="us-east-1")
    for arn in tmp_roles:
        iam.create_role(RoleName=arn.rsplit("/", 1)[1], AssumeRolePolicyDocument="{}")
    return engine, engine.run()


def test_admin_principals_get_access_entries_and_the_creator_no_bootstrap_admin():
    engine, result = _run_as({"adminPrincipalArns": [ROLE]}, assumed=True)
    try:
        assert result.ok, result.error
        (eks,) = result.of_type("aws:eks/cluster:Cluster")
        assert eks.inputs["accessConfig"]["bootstrapClusterCreatorAdminPermissions"] is False
        assert eks.options["ignoreChanges"] == ["accessConfig.bootstrapClusterCreatorAdminPermissions"]
        (entry,) = [r for r in result.of_type("aws:eks/accessEntry:AccessEntry") if r.inputs["type"] == "STANDARD"]
        (grant,) = result.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
        assert entry.inputs["principalArn"] == grant.inputs["principalArn"] == ROLE
        assert grant.inputs["policyArn"].endswith("cluster-access-policy/AmazonEKSClusterAdminPolicy")
        assert grant.inputs["accessScope"] == {"type": "cluster"}
        provider = next(r for r in result.resources if r.type == "pulumi:providers:kubernetes")
        assert grant.urn in provider.dependencies  # nothing talks to the cluster before the grant exists
        exec_args = json.loads(unwrap_secrets(result.exports["kubeconfig"]))["users"][0]["user"]["exec"]["args"]
        assert exec_args[-2:] == ["--role-arn", ROLE]
    finally:
        engine.__exit__(None, None, None)


def test_pulumi_is_unauthorized_when_its_identity_is_no_admin_of_a_cluster_without_bootstrap_admin():
    engine, result = _run_as({"adminPrincipalArns": [ROLE]}, assumed=False)
    try:
        assert result.error_kind == "kubernetes" and "Unauthorized" in result.error
        assert any("does not list the identity running pulumi" in msg for _, msg in result.logs)
    finally:
        engine.__exit__(None, None, None)


def test_the_creators_own_entry_exists_on_a_bootstrap_cluster(dev_stack):
    """EKS made an entry (and the admin policy) for the creator: what an existing stack's cluster keeps."""
    result, engine = dev_stack  # the dev stack (bootstrap admin on): only read
    assert result.ok, result.error
    assert engine.aws.eks_access_policies[("k8snet-dev", engine.aws.caller_principal)] == {
        "AmazonEKSClusterAdminPolicy": "cluster"}


# --- item 9: detection and retention ------------------------------------------------------------------------

def test_retention_deletion_protection_and_flow_logs_settings():
    cfg = parse_config({}, "dev")
    assert (cfg.log_retention_days, cfg.deletion_protection, cfg.vpc_flow_logs) == (365, True, True)
    problems = _problems({"logRetentionDays": 100, "deletionProtection": "no", "vpcFlowLogs": "maybe"})
    assert {p.split(":")[0] for p in problems} == {"logRetentionDays", "deletionProtection", "vpcFlowLogs"}
    assert parse_config({"logRetentionDays": 0}, "dev").log_retention_days == 0  # never expire


def test_logs_are_encrypted_kept_and_flow_logs_delivered(dev_stack):
    result, engine = dev_stack
    groups = {r.inputs["name"]: r for r in result.of_type("aws:cloudwatch/logGroup:LogGroup")}
    assert set(groups) == {"/aws/eks/k8snet-dev/cluster", "/k8snet/k8snet-dev/vpc-flow-logs"}
    for group in groups.values():
        assert group.inputs["retentionInDays"] == 365 and group.inputs["kmsKeyId"]
    (eks,) = result.of_type("aws:eks/cluster:Cluster")
    assert eks.inputs["deletionProtection"] is False  # the dev stack's choice; the default is true
    (flow,) = result.of_type("aws:ec2/flowLog:FlowLog")
    assert flow.inputs["trafficType"] == "ALL" and flow.inputs["vpcId"] == result.exports["vpcId"]
    assert security.flow_log_problems(result.records.values(), engine) == []


def test_flow_log_delivery_problems_are_caught(run_copy):
    result, engine = run_copy()  # a copy of its own: the test breaks its AWS state
    assert result.ok, result.error
    (flow,) = result.of_type("aws:ec2/flowLog:FlowLog")
    role = flow.inputs["iamRoleArn"].rsplit("/", 1)[1]
    iam = engine.client("iam")
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
                                                "Action": "sts:AssumeRole"}]}))
    for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        iam.delete_role_policy(RoleName=role, PolicyName=name)
    problems = security.flow_log_problems(result.records.values(), engine)
    assert any("does not let vpc-flow-logs.amazonaws.com assume it" in p for p in problems)
    assert any("may not logs:PutLogEvents" in p for p in problems)


def test_aws_refuses_a_log_key_cloudwatch_may_not_use_and_a_key_policy_that_locks_out():
    ctx = AwsContext(region="us-east-1")
    with OfflineEngine(ROOT, "dev", {}):  # moto running
        account_only = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ctx.account_id}:root"}, "Action": "kms:*",
             "Resource": "*"}]})
        _, key = kms_key(ctx, "k", {"policy": account_only})
        with pytest.raises(AwsRejection, match="not allowed to be used with Arn"):
            aws_logs.log_group(ctx, "g", {"name": "/x", "kmsKeyId": key["arn"], "retentionInDays": 365})
        good = json.dumps(log_groups.key_policy("aws", "us-east-1", ctx.account_id, ["/y"]))
        _, key = kms_key(ctx, "k2", {"policy": good})
        aws_logs.log_group(ctx, "g", {"name": "/y", "kmsKeyId": key["arn"], "retentionInDays": 365})
        with pytest.raises(AwsRejection, match="not allowed to be used with Arn"):  # another group: no
            aws_logs.log_group(ctx, "g", {"name": "/z", "kmsKeyId": key["arn"]})
        with pytest.raises(AwsRejection, match="retentionInDays"):
            aws_logs.log_group(ctx, "g", {"name": "/w", "retentionInDays": 100})
        lockout = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "logs.us-east-1.amazonaws.com"}, "Action": "kms:*",
             "Resource": "*"}]})
        with pytest.raises(AwsRejection, match="will not allow you to update the key policy"):
            kms_key(ctx, "k3", {"policy": lockout})


def test_security_warnings_name_the_setting():
    cfg = parse_config({"ingress": {"allowHttp": True, "accessLogs": False}}, "dev")
    warnings = config_security.warnings(cfg)
    assert any(w.startswith("ingress.accessLogs is false") for w in warnings)
