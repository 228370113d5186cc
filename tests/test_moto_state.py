"""Every engine reads back its own AWS, whichever engine ran last (offline/aws/moto_state.py): what lets the
suite share one run per configuration. Running an engine twice continues its AWS; a new engine starts empty."""

import boto3
from moto import mock_aws

from offline import OfflineEngine
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
