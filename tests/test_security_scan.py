"""checkov (issue 13, "In the test suite") over every Kubernetes object and every AWS resource input the engine
records, for the dev stack and its flannel, vxlan and ipvs + node-local-dns variants: one checkov process for
all four runs (and a bad manifest it must flag). Every finding must be on the committed allow-list (offline/checks/checkov-allowlist.yaml, each
with its reason), and every allow-listed finding must still occur.

checkov lives in its own venv (.ci/checkov-venv, made by .ci/run from requirements-checkov.txt); without it
these tests are skipped, saying how to make it.
"""

from __future__ import annotations

import json

import pytest
import yaml

from offline.checks import scan

needs_checkov = pytest.mark.skipif(not scan.CHECKOV.exists(), reason=(
    f"{scan.CHECKOV} is missing: python3 -m venv .ci/checkov-venv && .ci/checkov-venv/bin/pip install "
    "-r requirements-checkov.txt (.ci/run does)"))


OLD = "old"  # a tag-only, privileged-looking DaemonSet: what the pipeline must flag (the last test)


def _write_old(directory) -> None:
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "x", "namespace": "kube-system"},
          "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {
              "containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10.1"}]}}}}
    directory.mkdir()
    (directory / "kubernetes.yaml").write_text(yaml.safe_dump(ds))
    (directory / f"{OLD}.tfplan.json").write_text(json.dumps(scan.terraform_plan([])))


@pytest.fixture(scope="module")
def scanned(variant_records, tmp_path_factory):
    """One checkov process (its start-up is most of its cost) over the four runs and the old manifest."""
    directory = tmp_path_factory.mktemp("checkov")
    for label, records in variant_records.items():
        scan.write_inputs(directory, label, records)
    _write_old(directory / OLD)
    return scan.run_checkov(directory)


@pytest.fixture(scope="module")
def findings(scanned):
    return {label: fs for label, fs in scanned.items() if label != OLD}


@needs_checkov
def test_every_finding_is_accepted_with_a_reason_and_every_accepted_one_occurs(findings, variant_records):
    assert set(findings) == set(variant_records), "a variant produced no findings at all: did checkov read it?"
    found = {f.key: f for fs in findings.values() for f in fs}
    accepted = scan.load_allowlist()
    new = sorted(f"{f.key} ({f.name})" for key, f in found.items() if key not in accepted)
    assert new == [], "new checkov findings: fix them or accept them with a reason in offline/checks/checkov-allowlist.yaml"
    assert sorted(set(accepted) - set(found)) == [], "accepted findings that no longer occur: remove them"


@needs_checkov
def test_what_issue_13_fixed_stays_fixed(findings):
    checks = {f.check for fs in findings.values() for f in fs}
    # digests, seccomp, read-only roots, privilege escalation, limits, capabilities, tokens, flow logs, log
    # encryption and retention, key policies
    fixed = {"CKV_K8S_43", "CKV_K8S_31", "CKV_K8S_22", "CKV_K8S_20", "CKV_K8S_11", "CKV_K8S_13", "CKV_K8S_28",
             "CKV_K8S_37", "CKV_K8S_38", "CKV2_AWS_11", "CKV_AWS_158", "CKV_AWS_338", "CKV2_AWS_64"}
    assert checks & fixed == set()


def test_the_allowlist_gives_a_reason_for_each_entry():
    data = yaml.safe_load(scan.ALLOWLIST.read_text())
    keys = [f"{e['check']} {e['resource']}" for e in data["accepted"]]
    assert len(keys) == len(set(keys))
    assert all(isinstance(e["reason"], str) and len(e["reason"]) >= 10 for e in data["accepted"])


def test_every_aws_type_the_runs_register_maps_to_a_terraform_type(variant_records):
    for records in variant_records.values():
        plan = scan.terraform_plan(records)  # KeyError names a type missing from TF_TYPES
        types = {r["type"] for r in plan["planned_values"]["root_module"]["resources"]}
        assert {"aws_eks_cluster", "aws_flow_log", "aws_kms_key", "aws_cloudwatch_log_group"} <= types


def test_pulumi_inputs_become_terraform_attributes():
    values = scan.tf_values({"vpcConfig": {"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]},
                             "tags": {"k8snet/cluster": "x", "Name": "y"},
                             "rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]})
    assert values == {"vpc_config": [{"endpoint_public_access": True, "public_access_cidrs": ["0.0.0.0/0"]}],
                      "tags": {"k8snet/cluster": "x", "Name": "y"},  # a map: keys are data
                      "rule": [{"apply_server_side_encryption_by_default": [{"sse_algorithm": "AES256"}]}]}
    with pytest.raises(KeyError, match="no terraform type"):
        from offline.harness.monitor import Registration
        scan.terraform_plan([Registration("urn", "aws:sqs/queue:Queue", "q", True, "", inputs={})])


def test_the_plans_are_no_candidate_manifests_and_read_back_the_same(variant_records, tmp_path):
    """checkov's Kubernetes runner YAML-parses every .json file that mentions apiVersion and kind (~1 s of the
    suite's checkov process for the four plans): the written plans do not, and mean exactly the plan."""
    scan.write_inputs(tmp_path, "dev", variant_records["dev"])
    text = (tmp_path / "dev" / "dev.tfplan.json").read_text()
    plain = json.dumps(scan.terraform_plan(variant_records["dev"]), indent=1, sort_keys=True)
    assert "apiVersion" in plain and "kind" in plain  # the NodeConfig in the instances' user data
    assert "apiVersion" not in text
    assert json.loads(text) == json.loads(plain)


def test_a_plan_text_that_escaping_would_change_is_written_plain():
    plan = {"a": "\x1apiVersion", "b": "apiVersion: node.eks.aws/v1alpha1\\apiVersion"}  # \u001a, then the word
    assert "\\u001apiVersion" in json.dumps(plan)
    assert scan.plan_text(plan) == json.dumps(plan, indent=1, sort_keys=True)
    assert json.loads(scan.plan_text({"b": plan["b"]})) == {"b": plan["b"]}
    assert "apiVersion" not in scan.plan_text({"b": plan["b"]})


@needs_checkov
def test_checkov_flags_what_the_old_manifests_had(scanned):
    """The same pipeline on a tag-only, privileged-looking DaemonSet finds what it should: the test can fail."""
    checks = {f.check for f in scanned[OLD]}
    assert {"CKV_K8S_43", "CKV_K8S_31", "CKV_K8S_22", "CKV_K8S_20"} <= checks
