"""What EKS and IAM refuse that moto accepts (or lacks): each rule of offline/aws/eks.py and
offline/aws/iam.py gets AWS's error from a small probe program."""

from __future__ import annotations

import textwrap

import pytest

from tests.conftest import probe_project

SETUP = textwrap.dedent('''
    import json
    import pulumi, pulumi_aws as aws
    from k8snet.shared import iam_documents as docs
    from k8snet.shared.partition import Partition

    vpc = aws.ec2.Vpc("vpc", cidr_block="192.168.0.0/16")
    a = aws.ec2.Subnet("a", vpc_id=vpc.id, cidr_block="192.168.1.0/24", availability_zone="us-east-1a")
    b = aws.ec2.Subnet("b", vpc_id=vpc.id, cidr_block="192.168.2.0/24", availability_zone="us-east-1b")
    role = aws.iam.Role("role", assume_role_policy=docs.dumps(docs.service_trust("eks.amazonaws.com")))
    def cluster(subnets=None, mode="API", **extra):
        return aws.eks.Cluster("eks", name="c", role_arn=role.arn, version="1.35",
            access_config={"authentication_mode": mode},
            vpc_config={"subnet_ids": subnets or [a.id, b.id]}, **extra)
''')

CASES = {
    "one-zone": ("cluster(subnets=[a.id])", "Subnets specified must be in at least two different AZs"),
    "service-cidr-overlaps-vpc": (
        'cluster(kubernetes_network_config={"service_ipv4_cidr": "192.168.128.0/17"})', "overlaps the VPC CIDR"),
    "access-entry-needs-api-mode": (
        'c = cluster(mode="CONFIG_MAP")\n'
        'aws.eks.AccessEntry("e", cluster_name=c.name, principal_arn=role.arn, type="EC2_LINUX")',
        "authentication mode must be set to one of [API, API_AND_CONFIG_MAP]"),
    "ec2-linux-entry-takes-no-groups": (
        'c = cluster()\naws.eks.AccessEntry("e", cluster_name=c.name, principal_arn=role.arn, type="EC2_LINUX",'
        ' kubernetes_groups=["admins"])', "cannot be set for type EC2_LINUX"),
    "addon-version-not-offered": (
        'c = cluster()\naws.eks.Addon("p", cluster_name=c.name, addon_name="kube-proxy",'
        ' addon_version="v1.29.0-eksbuild.1")', "is not supported for kube-proxy on Kubernetes 1.35"),
    "addon-configuration-schema": (
        'c = cluster()\naws.eks.Addon("p", cluster_name=c.name, addon_name="kube-proxy",'
        ' configuration_values=json.dumps({"mode": "nftables"}))', "Json schema validation failed"),
    "managed-policy-typo": (
        'aws.iam.RolePolicyAttachment("x", role=role.name, policy_arn=Partition().managed_policy_arn("AmazonEBSCSIDriverPolicy"))',
        "NoSuchEntity"),  # it lives under service-role/
    "eleventh-managed-policy-on-a-role": (
        "for name in ['AmazonEKSClusterPolicy', 'AmazonEKSWorkerNodePolicy', 'AmazonEC2ContainerRegistryPullOnly',"
        " 'AmazonEKSServicePolicy', 'AmazonEKSVPCResourceController', 'AmazonSSMManagedInstanceCore',"
        " 'AmazonEC2ContainerRegistryReadOnly', 'CloudWatchAgentServerPolicy', 'AmazonS3ReadOnlyAccess',"
        " 'AmazonEC2ReadOnlyAccess', 'AmazonVPCReadOnlyAccess']:\n"
        "    aws.iam.RolePolicyAttachment(name, role=role.name, policy_arn=Partition().managed_policy_arn(name))",
        "LimitExceeded: Cannot exceed quota for PoliciesPerRole: 10"),
    "trust-names-unknown-oidc-provider": (
        'aws.iam.Role("irsa", assume_role_policy=docs.dumps(docs.irsa_trust('
        '"arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X",'
        ' "https://oidc.eks.us-east-1.amazonaws.com/id/X", "kube-system", "sa")))', "Invalid principal in policy"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_eks_and_iam_refusals(run_stack, tmp_path, case):
    body, expected = CASES[case]
    result, _ = run_stack(project_dir=probe_project(tmp_path, SETUP + body + "\n"), stack="test")
    assert result.error_kind == "aws", result.error
    assert expected in result.error


def test_valid_probe_cluster_is_accepted(run_stack, tmp_path):
    result, engine = run_stack(project_dir=probe_project(tmp_path, SETUP + "cluster()\n"), stack="test")
    assert result.ok, result.error
    assert engine.client("eks").describe_cluster(name="c")["cluster"]["status"] == "ACTIVE"
