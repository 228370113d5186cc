"""The offline preview command: what a new user runs first.

The dev preview's whole text is a golden file, tests/fixtures/preview-dev.txt. A change to the preview that is
meant (a new section, a new resource) regenerates it from the repository root with

    venv/bin/python -m offline --stack dev > tests/fixtures/preview-dev.txt

and the diff shows in review what users will see differently.
"""

import difflib

from offline.__main__ import main
from offline.harness.project import SECRET_PLACEHOLDER, resolve_config
from tests.conftest import ROOT, probe_project

GOLDEN = ROOT / "tests" / "fixtures" / "preview-dev.txt"


def test_dev_preview_prints_tree_and_node_table(dev_preview):
    status, out = dev_preview  # `main(["--cwd", str(ROOT)])`, its stdout (tests/test_flows.py reads it too)
    assert status == 0
    golden = GOLDEN.read_text()
    assert out == golden, "the dev preview changed; if meant, regenerate (module docstring):\n" + "".join(
        difflib.unified_diff(golden.splitlines(True), out.splitlines(True), str(GOLDEN.name), "python -m offline"))
    assert "k8snet:index:Network" in out and "└─ aws:ec2/route:Route" in out
    created = sum(1 for line in out.splitlines() if line.startswith(" +   ") and ":" in line)
    assert f"+ {created} to create" in out and created > 35
    assert "kubeconfig: [secret]" in out
    assert "k8snet-dev  Kubernetes 1.35  auth API  bootstrap add-ons off" in out
    assert any(line.split()[:2] == ["kube-proxy", "v1.35.3-eksbuild.13"] for line in out.splitlines())
    nodes_section = out.split("\nNodes:\n", 1)[1].split("\n\n", 1)[0]
    node_rows = [line.split() for line in nodes_section.splitlines()]
    assert node_rows[0][:4] == ["node", "zone", "private", "IP"]
    rows = {r[0]: r for r in node_rows[1:]}
    assert rows["node1"][1] == "us-east-1a" and rows["node1"][3] == "10.1.1.0/24"
    assert rows["node2"][3] == "10.1.2.0/24"
    assert all("k8snet-dev-private-us-east-1a," in r and "k8snet-dev-private-us-east-1b" in r for r in rows.values())
    cni_section = out.split("\nCNI:\n", 1)[1].split("\n\n", 1)[0]
    assert "node1  IPPool k8snet-node1 10.1.1.0/24  10.1.1.0/24  no encapsulation  9001" in cni_section
    # The CoreDNS section: the dev stack's Corefile, shown once (tests/test_dns_stack.py has the ipvs preview).
    section = out.split("\nCoreDNS:\n", 1)[1]
    assert "        hosts {\n            192.168.0.123 myapp.local\n            fallthrough\n        }\n" in section
    assert "    mydomain.com:53 {\n        errors\n        cache 30\n        forward . 10.0.0.1\n    }\n" in section
    assert '{"corefile": "<27 lines, see CoreDNS below>"}' in out  # the add-on table does not repeat it
    assert "DNS checks:" in out
    assert "node-local-dns: off" in section


def test_bad_config_exits_2_with_the_clear_error(capsys):
    assert main(["--cwd", str(ROOT), "--config", "cni=weave", "--config", "nodes={a: {index: 0}}"]) == 2
    err = capsys.readouterr().err
    assert "cni: 'weave' is not one of calico, flannel" in err
    assert "nodes.a.index: 0 is below 1" in err
    assert "0 resources were registered" in err


def test_aws_rejection_exits_1(capsys, tmp_path):
    # What only AWS refuses: a security-group rule description outside EC2's alphabet (issue 11).
    program = ("import pulumi_aws as aws\n"
               "vpc = aws.ec2.Vpc('vpc', cidr_block='192.168.0.0/16')\n"
               "aws.ec2.SecurityGroup('nodes', vpc_id=vpc.id, description='nodes -> pods')\n")
    assert main(["--cwd", str(probe_project(tmp_path, program)), "--stack", "test"]) == 1
    err = capsys.readouterr().err
    assert "AWS rejected aws:ec2/securityGroup:SecurityGroup nodes: InvalidParameterValue: description" in err


def test_unknown_instance_type_exits_2_before_any_resource(capsys):
    assert main(["--cwd", str(ROOT), "--config", "instanceType=t3.colossal"]) == 2
    err = capsys.readouterr().err
    assert "instanceType: 't3.colossal' is not an EC2 instance type offered in us-east-1" in err
    assert "0 resources were registered" in err


def test_secure_values_stay_secret_offline(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text("name: p\nruntime: python\nconfig:\n  token:\n    type: string\n    secret: true\n    default: x\n")
    (tmp_path / "Pulumi.s.yaml").write_text("config:\n  p:password:\n    secure: v1:abcdef\n")
    config = resolve_config(tmp_path, "s")
    assert config.values["p:password"] == SECRET_PLACEHOLDER
    assert config.secret_keys == ["p:password", "p:token"]


def test_outputs_render_secrets_masked():
    from pulumi.runtime import rpc

    from offline.report import render_value

    assert render_value({"user": "admin", "password": rpc.wrap_rpc_secret("hunter2")}) == "{password: [secret], user: admin}"
    assert render_value([30080.0, 0.5]) == "[30080, 0.5]"  # whole numbers as `pulumi up` shows them
