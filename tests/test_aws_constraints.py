"""The field-constraint table (offline/aws/constraints.py): every row bites, agrees with the AWS service
model where it cites one, is what docs/offline-engine.md lists, and catches the `->` rule descriptions
that passed every offline check before issue 11."""

from __future__ import annotations

import functools
import re

import botocore.session
import pytest

from k8snet.nodes import security
from offline.aws import constraints as c
from offline.aws.rules import AwsRejection
from tests.conftest import ROOT, probe_project

OLD_DESCRIPTION = "control plane -> kubelet (logs, exec)"  # what nodes/security.py sent before issue 11

LONG = "x" * 300
TRUST = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole","Sid":"%s"}]}'

# (type, inputs with one bad field): each fires exactly the row whose rule it breaks.
BAD = [
    (c.SG, {"name": LONG}),
    (c.SG, {"name": "sg-nodes"}),
    (c.SG, {"name": "nodes>"}),
    (c.SG, {"name": "nodes", "description": LONG}),
    (c.SG, {"name": "nodes", "description": "nodes of “dev”"}),
    (c.SG_INGRESS, {"description": LONG}),
    (c.SG_INGRESS, {"description": OLD_DESCRIPTION}),
    (c.SG_EGRESS, {"ipProtocol": "gre"}),
    (c.SG_INGRESS, {"ipProtocol": "tcp", "fromPort": 70000.0}),
    (c.SG_INGRESS, {"ipProtocol": "tcp", "fromPort": 1.0, "toPort": -2.0}),
    (c.SG_INGRESS, {"ipProtocol": "-1", "cidrIpv4": "10.1.2.3/16"}),
    (c.EIP, {"domain": "ec2-classic"}),
    (c.NAT, {"connectivityType": "internet"}),
    (c.INSTANCE, {"userData": "#!/bin/bash\n" + "echo hi\n" * 2100}),
    (c.INSTANCE, {"metadataOptions": {"httpTokens": "yes"}}),
    (c.INSTANCE, {"metadataOptions": {"httpPutResponseHopLimit": 65.0}}),
    (c.INSTANCE, {"rootBlockDevice": {"volumeType": "gp3", "volumeSize": 70000.0}}),
    (c.VPC, {"tags": {f"k{i}": "v" for i in range(51)}}),
    (c.SUBNET, {"tags": {"aws:cloudformation:stack-name": "x"}}),
    (c.ROLE, {"name": "r" * 65}),
    (c.ROLE, {"name": "nodes role"}),
    (c.ROLE, {"name": "r", "path": "/" + "p" * 512 + "/"}),
    (c.PROFILE, {"name": "p", "path": "nodes"}),
    (c.ROLE, {"name": "r", "description": LONG * 4}),
    (c.ROLE, {"name": "r", "description": "control plane → nodes"}),
    (c.ROLE, {"name": "r", "assumeRolePolicy": TRUST % ("s" * 2000)}),
    (c.POLICY, {"name": "p", "policy": '{"Sid": "→"}'}),
    (c.ROLE, {"name": "r", "maxSessionDuration": 60.0}),
    (c.POLICY, {"name": "p" * 129}),
    (c.POLICY, {"name": "lb controller"}),
    (c.POLICY, {"name": "p", "path": "/no trailing slash"}),
    (c.POLICY, {"name": "p", "description": LONG * 4}),
    (c.POLICY, {"name": "p", "policy": TRUST % ("s" * 6200)}),
    (c.PROFILE, {"name": "p" * 129}),
    (c.PROFILE, {"name": "node profile"}),
    (c.ATTACHMENT, {"policyArn": "arn:aws:iam::x"}),
    (c.OIDC, {"url": "https://" + LONG}),
    (c.OIDC, {"url": "http://oidc.example.com"}),
    (c.OIDC, {"url": "https://o", "clientIdLists": ["sts.amazonaws.com"] * 101}),
    (c.OIDC, {"url": "https://o", "clientIdLists": [""]}),
    (c.OIDC, {"url": "https://o", "thumbprintLists": ["a" * 40] * 6}),
    (c.OIDC, {"url": "https://o", "thumbprintLists": ["abc"]}),
    (c.ROLE, {"name": "r", "tags": {"team": "platform (core)"}}),
    (c.KMS_KEY, {"description": "d" * 8193}),
    (c.KMS_KEY, {"policy": "p" * 32769}),
    (c.KMS_KEY, {"deletionWindowInDays": 3.0}),
    (c.KMS_KEY, {"tags": {"k" * 129: "v"}}),
    (c.KMS_ALIAS, {"name": "alias/" + LONG}),
    (c.KMS_ALIAS, {"name": "alias/eks secrets"}),
    (c.KMS_ALIAS, {"name": "eks/secrets"}),
    (c.KMS_ALIAS, {"name": "alias/aws/eks"}),
    (c.LOG_GROUP, {"name": "/" + "l" * 512}),
    (c.LOG_GROUP, {"name": "/aws/eks/dev cluster/cluster"}),
    (c.LOG_GROUP, {"name": "aws/eks/dev/cluster"}),
    (c.LOG_GROUP, {"name": "/l", "retentionInDays": 45.0}),
    (c.LOG_GROUP, {"name": "/l", "tags": {"team": "a|b"}}),
    (c.CLUSTER, {"name": "c" * 101}),
    (c.CLUSTER, {"name": "-dev"}),
    (c.CLUSTER, {"name": "dev", "kubernetesNetworkConfig": {"serviceIpv4Cidr": "10.100.0.0/25"}}),
    (c.CLUSTER, {"name": "dev", "enabledClusterLogTypes": ["api", "kubelet"]}),
    (c.CLUSTER, {"name": "dev", "accessConfig": {"authenticationMode": "IAM"}}),
    (c.ACCESS_ENTRY, {"type": "EC2_MAC"}),
    (c.ACCESS_ENTRY, {"type": "EC2_LINUX", "kubernetesGroups": ["admins"]}),
    (c.ACCESS_ENTRY, {"type": "EC2_LINUX", "userName": "node"}),
    (c.ADDON, {"addonName": "kube-proxy", "configurationValues": '{"mode": "nftables"}'}),
    (c.ADDON, {"resolveConflictsOnCreate": "PRESERVE"}),
    (c.ADDON, {"resolveConflictsOnUpdate": "KEEP"}),
    (c.ACCESS_POLICY, {"policyArn": "arn:aws:iam::aws:policy/AmazonEKSClusterAdminPolicy"}),
    (c.ACCESS_POLICY, {"accessScope": {"type": "namespace"}}),
    (c.ADDON, {"tags": {"owner": "aws:eks"}}),
    (c.ATTACHMENT, {"policyArn": "arn:aws-cn:iam::aws:policy/AmazonEKSWorkerNodePolicy"}),
]


def _fired(type_token: str, inputs: dict, partition: str = "aws") -> AwsRejection:
    with pytest.raises(AwsRejection) as info:
        c.check(type_token, inputs, partition)
    return info.value


@pytest.mark.parametrize("type_token,inputs", BAD, ids=[f"{t.rsplit(':', 1)[-1]}-{sorted(i)[-1]}-{n}"
                                                         for n, (t, i) in enumerate(BAD)])
def test_each_bad_value_is_refused_with_the_rows_code_and_field(type_token, inputs):
    rejection = _fired(type_token, inputs)
    row = rejection.constraint
    assert rejection.code == row.code
    shown_field = row.field.split(".")[-1].removesuffix("[]").lstrip("*")
    assert shown_field.lower() in rejection.message.lower() or row.field == "*"


def test_every_row_has_a_case_that_fires_it():
    fired = {id(_fired(t, i).constraint) for t, i in BAD}
    missing = [f"{r.types[0]} {r.field}: {r.rule.text}" for r in c.TABLE if id(r) not in fired]
    assert not missing


def test_the_old_arrow_description_is_refused_and_the_new_ones_pass():
    rejection = _fired(c.SG_INGRESS, {"description": OLD_DESCRIPTION, "ipProtocol": "tcp"})
    assert rejection.code == "InvalidParameterValue" and "Invalid rule description" in str(rejection)
    for cni in ("calico", "flannel"):
        for encapsulation in ("none", "vxlan", "ipip") if cni == "calico" else ("none", "vxlan"):
            for rule in (*security.node_ingress_rules(cni, encapsulation), *security.control_plane_ingress_rules()):
                c.check(c.SG_INGRESS, {"description": rule.description, "ipProtocol": rule.protocol})


def test_the_engine_stops_a_run_on_the_old_description(run_stack, tmp_path):
    program = (
        "import pulumi_aws as aws\n"
        "vpc = aws.ec2.Vpc('vpc', cidr_block='192.168.0.0/16')\n"
        "sg = aws.ec2.SecurityGroup('nodes', vpc_id=vpc.id, description='nodes')\n"
        f"aws.vpc.SecurityGroupIngressRule('cp-kubelet', security_group_id=sg.id, ip_protocol='tcp', from_port=10250,"
        f" to_port=10250, referenced_security_group_id=sg.id, description={OLD_DESCRIPTION!r})\n"
    )
    result, engine = run_stack(project_dir=probe_project(tmp_path, program), stack="test")
    assert result.error_kind == "aws"
    assert result.error.startswith("AWS rejected aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule "
                                   "cp-kubelet: InvalidParameterValue: description")
    rules = engine.ec2_reader().describe_security_group_rules()["SecurityGroupRules"]
    assert [r for r in rules if not r["IsEgress"]] == []  # never created


def test_the_dev_stack_sends_only_what_the_table_accepts(dev_stack):
    result, _ = dev_stack
    types = {r.type for r in result.resources if r.type.startswith("aws:")}
    assert {c.SG_INGRESS, c.SG, c.INSTANCE, c.ROLE, c.POLICY, c.CLUSTER, c.ADDON, c.LOG_GROUP, c.KMS_ALIAS} <= types
    for record in result.resources:
        if record.type.startswith("aws:"):
            name = {"name": record.outputs["name"]} if record.outputs.get("name") else {}
            c.check(record.type, {**record.inputs, **name})  # what AWS got: inputs and the provider's names


def test_auto_names_are_the_providers_and_too_long_ones_fail_like_it():
    named = c.autonamed(c.ROLE, "cluster-role", {})
    assert re.fullmatch(r"cluster-role-[0-9a-f]{7}", named["name"])
    assert len(c.autonamed(c.SG, "sg", {"namePrefix": "nodes-dev-"})["name"]) == len("nodes-dev-") + 26
    assert c.autonamed(c.ROLE, "x", {"name": "given"}) == {"name": "given"}
    with pytest.raises(AwsRejection, match="plus 7 random chars is longer than maximum length 64"):
        c.autonamed(c.ROLE, "r" * 57, {})


@functools.lru_cache(maxsize=None)
def _service_model(service: str):
    return botocore.session.get_session().get_service_model(service)  # a new session loads the model anew


# Rows citing a botocore shape with min/max: the table's bounds are the model's.
def _shape_bounds(source: str):
    match = re.match(r"BC:(\w+) (\w+)(?:\.(\w+))?", source)
    if not match:
        return None
    service, shape, member = match.groups()
    model = _service_model(service)
    found = model.shape_for(shape)
    if member:
        found = found.members[member]
    meta = found.metadata
    return (meta.get("min", 0), meta["max"]) if "max" in meta else None


@pytest.mark.parametrize("row", [r for r in c.TABLE if r.rule.bounds and _shape_bounds(r.source)],
                         ids=lambda r: f"{r.types[0].rsplit(':', 1)[-1]}.{r.field}")
def test_length_rules_match_the_aws_service_model(row):
    assert row.rule.bounds == _shape_bounds(row.source)


def test_docs_list_the_table_as_it_is():
    assert c.markdown() in (ROOT / "docs" / "offline-engine.md").read_text()
