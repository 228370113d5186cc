"""Partitions (issue 11, item 12): ARNs and service principals come from aws.get_partition(), and the engine
simulates aws-cn (cn-north-1): its field table refuses another partition's ARN anywhere in an AWS input,
IAM refuses principals that do not exist there, and a node role EC2 cannot assume is a failed check."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest

from k8snet.ingress import lb_controller
from k8snet.shared.partition import Partition
from offline.aws import constraints
from offline.aws.rules import AwsRejection
from offline.checks import nodes as node_checks
from offline.policy import run_pack
from tests.conftest import ROOT, probe_project

CHINA = Partition("aws-cn", "amazonaws.com.cn")


def test_principals_and_arns_per_partition():
    assert CHINA.service_principal("ec2") == "ec2.amazonaws.com.cn"
    assert CHINA.service_principal("eks") == "eks.amazonaws.com"  # IAM refuses eks.amazonaws.com.cn
    assert Partition().service_principal("ec2") == "ec2.amazonaws.com"
    assert CHINA.managed_policy_arn("service-role/AmazonEBSCSIDriverPolicy") == \
        "arn:aws-cn:iam::aws:policy/service-role/AmazonEBSCSIDriverPolicy"


def test_the_lb_controller_policy_names_the_partition_in_every_resource():
    aws_doc, cn_doc = lb_controller.policy_document(), lb_controller.policy_document(CHINA)
    assert "arn:aws:" not in json.dumps(cn_doc) and "arn:aws-cn:elasticloadbalancing" in json.dumps(cn_doc)
    assert json.loads(json.dumps(aws_doc).replace("arn:aws:", "arn:aws-cn:")) == cn_doc


def test_the_table_refuses_a_commercial_arn_in_china():
    # What the program sent before issue 12, whatever the region.
    with pytest.raises(AwsRejection, match="names an ARN of partition 'aws'; this region is in 'aws-cn'"):
        constraints.check(constraints.ATTACHMENT, {"policyArn": "arn:aws:iam::aws:policy/AmazonEKSClusterPolicy"},
                          "aws-cn")


def test_the_dev_stack_deploys_to_china_with_its_partition(run_stack):
    result, _ = run_stack({"aws:region": "cn-north-1"})
    assert result.ok, result.error
    aws_inputs = [r.inputs for r in result.resources if r.type.startswith("aws:")]
    assert "arn:aws:" not in json.dumps(aws_inputs)
    arns = {r.inputs["policyArn"] for r in result.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")}
    assert "arn:aws-cn:iam::aws:policy/AmazonEKSWorkerNodePolicy" in arns
    trusts = {r.name: json.loads(r.inputs["assumeRolePolicy"]) for r in result.of_type("aws:iam/role:Role")}
    assert trusts["cluster-node-role"]["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com.cn"}
    assert trusts["cluster-role"]["Statement"][0]["Principal"] == {"Service": "eks.amazonaws.com"}
    assert result.exports["oidcIssuer"].startswith("https://oidc.eks.cn-north-1.amazonaws.com.cn/id/")
    assert result.named("cluster-oidc").inputs["clientIdLists"] == ["sts.amazonaws.com"]
    assert node_checks.check_run(result) == []
    # The policy pack's stack rules take the region from the subnets' zones (the log keys name
    # logs.cn-north-1.amazonaws.com, the node role ec2.amazonaws.com.cn); the resource rule from the stack's
    # aws:region, which the CLI hands the pack (no pack setting needed).
    report = run_pack(ROOT / "policypack", result)
    assert report.mandatory == [] and report.unknown == [], report.text()
    # A China resource read with the commercial partition is what the rule exists to refuse: an explicit
    # setting still wins over the stack's config.
    wrong = run_pack(ROOT / "policypack", result, config={"aws-field-constraints": {"region": "us-east-1"}})
    assert any("partition 'aws-cn'" in v.message and v.policy == "aws-field-constraints" for v in wrong.mandatory)

    # The node role as it was before issue 12 (ec2.amazonaws.com): IAM takes it, EC2 in China cannot use it.
    role = result.named("cluster-node-role")
    commercial = copy.deepcopy(role.inputs)
    commercial["assumeRolePolicy"] = commercial["assumeRolePolicy"].replace("ec2.amazonaws.com.cn", "ec2.amazonaws.com")
    records = {urn: (dataclasses.replace(r, inputs=commercial) if r is role else r) for urn, r in result.records.items()}
    problems = node_checks.node_role_problems(dataclasses.replace(result, records=records))
    assert len(problems) == 3 and "not ec2.amazonaws.com.cn; EC2 cannot give the node credentials" in problems[0]


def test_iam_refuses_principals_the_partition_does_not_have(run_stack, tmp_path):
    program = ("import json, pulumi_aws as aws\n"
               "aws.iam.Role('r', assume_role_policy=json.dumps({'Version': '2012-10-17', 'Statement': [{'Effect': "
               "'Allow', 'Principal': {'Service': 'eks.amazonaws.com.cn'}, 'Action': 'sts:AssumeRole'}]}))\n")
    project = probe_project(tmp_path, program)
    (project / "Pulumi.test.yaml").write_text("config:\n  aws:region: cn-north-1\n")
    result, _ = run_stack(project_dir=project, stack="test")
    assert result.error_kind == "aws"
    assert 'MalformedPolicyDocument: Invalid principal in policy: "SERVICE":"eks.amazonaws.com.cn"' in result.error


def test_a_china_certificate_arn_is_accepted_for_a_china_region():
    from k8snet.ingress.settings import parse_settings, region_problem

    problems = []
    arn = "arn:aws-cn:acm:cn-north-1:123456789012:certificate/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
    settings = parse_settings({"certificateArn": arn}, lambda key, message: problems.append(key))
    assert problems == [] and region_problem(settings, "cn-north-1") is None
