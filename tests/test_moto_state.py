"""Every engine reads back its own AWS, whichever engine ran last (offline/aws/moto_state.py): what lets the
suite share one run per configuration. Running an engine twice continues its AWS; a new engine starts empty."""

import boto3
from moto import mock_aws

from offline import OfflineEngine, checks, flows
from offline.checks import alb as alb_checks
from offline.checks import security
from k8snet.shared import tags
from tests.conftest import probe_project


def _project(directory, cidr):
    directory.mkdir()
    return probe_project(directory, "import pulumi, pulumi_aws as aws\n"
                                    f"cidr = pulumi.Config().get('cidr') or '{cidr}'\n"
                                    "aws.ec2.Vpc('vpc-' + cidr.split('.')[1], cidr_block=cidr)\n")


def _cidrs(reader_or_client) -> list[str]:
    return sorted(v["CidrBlock"] for v in reader_or_client.describe_vpcs()["Vpcs"] if not v.get("IsDefault"))


def test_two_engines_each_read_their_own_aws(tmp_path):
    with OfflineEngine(_project(tmp_path / "a", "10.10.0.0/16"), "test") as a, \
            OfflineEngine(_project(tmp_path / "b", "10.20.0.0/16"), "test") as b:
        assert a.run().ok
        client_a = a.client("ec2")  # made while a is live, used after b ran
        assert b.run().ok
        assert _cidrs(client_a) == ["10.10.0.0/16"]
        assert _cidrs(b.client("ec2")) == ["10.20.0.0/16"]
        assert _cidrs(a.ec2_reader()) == ["10.10.0.0/16"]
        reader_b = b.ec2_reader()
        assert _cidrs(a.client("ec2")) == ["10.10.0.0/16"]
        assert _cidrs(reader_b) == ["10.20.0.0/16"]  # a reader stays bound to its engine's AWS


def test_a_second_run_continues_the_engines_aws_and_a_new_engine_starts_empty(tmp_path):
    project = _project(tmp_path / "a", "10.10.0.0/16")
    with OfflineEngine(project, "test") as engine:
        assert engine.run().ok
        engine.overrides = {"cidr": "10.30.0.0/16"}  # the next run's config; the first run's VPC stays
        assert engine.run().ok
        assert _cidrs(engine.client("ec2")) == ["10.10.0.0/16", "10.30.0.0/16"]
    with OfflineEngine(project, "test") as engine:
        assert engine.run().ok
        assert _cidrs(engine.client("ec2")) == ["10.10.0.0/16"]
    with mock_aws():  # nothing leaks to moto's own users either
        assert _cidrs(boto3.client("ec2", region_name="us-east-1")) == []


def test_a_fork_is_a_copy_independent_of_its_engine(run_copy):
    """OfflineEngine.fork (the `run_copy` fixture): the copy holds what the run left, and changing one leaves
    the other as it was -- moto's backends, the account state moto does not keep, the API server."""
    result, first = run_copy()  # a copy of the shared dev run: the shared one is never changed
    second = first.fork()
    try:
        subnet = result.exports["publicSubnetIds"]["us-east-1a"]
        key = next(iter(first.kube.objects))
        principal = (result.exports["clusterName"], first.aws.caller_principal)
        assert _subnet_tags(first, subnet) == _subnet_tags(second, subnet) and "Name" in _subnet_tags(first, subnet)
        assert second.kube.objects == first.kube.objects and second.aws.eks_access_policies == first.aws.eks_access_policies
        assert second.aws.ec2 is not first.aws.ec2 and second.kube.objects[key] is not first.kube.objects[key]
        second.client("ec2").delete_tags(Resources=[subnet], Tags=[{"Key": "Name"}])
        del second.kube.objects[key]
        second.aws.eks_access_policies.pop(principal)
        assert "Name" in _subnet_tags(first, subnet) and key in first.kube.objects
        assert principal in first.aws.eks_access_policies
        first.client("ec2").create_tags(Resources=[subnet], Tags=[{"Key": "only-first", "Value": "1"}])
        assert "only-first" not in _subnet_tags(second, subnet) and "Name" not in _subnet_tags(second, subnet)
        # moto's other services too: the roles are copies, and a role made in one is not in the other.
        roles = {r["RoleName"] for r in first.client("iam").list_roles()["Roles"]}
        assert roles and roles == {r["RoleName"] for r in second.client("iam").list_roles()["Roles"]}
        second.client("iam").create_role(RoleName="only-second", AssumeRolePolicyDocument="{}")
        assert "only-second" not in {r["RoleName"] for r in first.client("iam").list_roles()["Roles"]}
    finally:
        second.__exit__(None, None, None)


def _subnet_tags(engine, subnet_id: str) -> dict:
    (subnet,) = engine.client("ec2").describe_subnets(SubnetIds=[subnet_id])["Subnets"]
    return {t["Key"]: t["Value"] for t in subnet.get("Tags", [])}


def _checks(result, engine) -> list[str]:
    return checks.run_all(result, engine, flows.verify(flows.from_engine(result, engine)))


def test_checks_on_a_copy_find_what_they_find_on_a_fresh_run(run_copy, run_stack):
    """A test that changes a copy sees what it would see on a run of its own: the checks agree, whole and after
    the same breakage (an ALB discovery tag off a public subnet, the flow log role's policies deleted)."""
    copied, twin = run_copy()
    fresh, engine = run_stack()  # a new engine, the program run again
    assert copied.ok and fresh.ok
    assert _checks(copied, twin) == _checks(fresh, engine) == []
    problems = []
    for result, run_engine in ((copied, twin), (fresh, engine)):
        ec2, iam = run_engine.client("ec2"), run_engine.client("iam")
        subnet = result.exports["publicSubnetIds"]["us-east-1a"]
        ec2.delete_tags(Resources=[subnet], Tags=[{"Key": tags.ELB_ROLE}])
        (flow,) = result.of_type("aws:ec2/flowLog:FlowLog")
        role = flow.inputs["iamRoleArn"].rsplit("/", 1)[1]
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
            iam.delete_role_policy(RoleName=role, PolicyName=name)
        problems.append((alb_checks.subnet_problems("x", "internet-facing", ec2),
                         security.flow_log_problems(result.records.values(), run_engine)))
    assert problems[0] == problems[1] and all(problems[0])
