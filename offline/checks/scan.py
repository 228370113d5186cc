"""checkov over what a run registered: every Kubernetes object and every AWS resource's inputs.

checkov cannot share the project's venv (it pins boto3 1.35 and packaging<24; pulumi needs packaging>=26), so
it lives in its own pinned venv (``.ci/checkov-venv``, made by ``.ci/run`` from requirements-checkov.txt) and
runs as one subprocess over a directory holding:

- ``kubernetes.yaml``: the objects exactly as the Kubernetes provider sends them (secrets unwrapped);
- ``<label>.tfplan.json``: the AWS resources as a terraform plan (``planned_values.root_module.resources``,
  the shape checkov's terraform_plan runner reads: checkov/terraform/plan_parser.py), each Pulumi type token
  mapped to its terraform type (``TF_TYPES``; pulumi-aws is bridged from terraform-provider-aws, so attribute
  names are the camelCase of the terraform ones and nested blocks become one-element lists).

Findings are ``(check id, resource)`` pairs; ``ALLOWLIST`` (offline/checks/checkov-allowlist.yaml) names each
accepted one with its reason. Nothing here reaches the network (``--skip-download``, no API key).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..kube.api_server import _whole_numbers, is_api_object, unwrap_secrets

ROOT = Path(__file__).resolve().parents[2]
CHECKOV = ROOT / ".ci" / "checkov-venv" / "bin" / "checkov"
ALLOWLIST = Path(__file__).parent / "checkov-allowlist.yaml"

# Pulumi type token -> terraform resource type, for every AWS type the program registers
# (tests/test_security_scan.py fails on an AWS type missing here, so a new one cannot go unscanned).
TF_TYPES = {
    "aws:cloudwatch/logGroup:LogGroup": "aws_cloudwatch_log_group",
    "aws:ec2/eip:Eip": "aws_eip",
    "aws:ec2/flowLog:FlowLog": "aws_flow_log",
    "aws:ec2/instance:Instance": "aws_instance",
    "aws:ec2/internetGateway:InternetGateway": "aws_internet_gateway",
    "aws:ec2/natGateway:NatGateway": "aws_nat_gateway",
    "aws:ec2/route:Route": "aws_route",
    "aws:ec2/routeTable:RouteTable": "aws_route_table",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "aws_route_table_association",
    "aws:ec2/securityGroup:SecurityGroup": "aws_security_group",
    "aws:ec2/subnet:Subnet": "aws_subnet",
    "aws:ec2/vpc:Vpc": "aws_vpc",
    "aws:eks/accessEntry:AccessEntry": "aws_eks_access_entry",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": "aws_eks_access_policy_association",
    "aws:eks/addon:Addon": "aws_eks_addon",
    "aws:eks/cluster:Cluster": "aws_eks_cluster",
    "aws:iam/instanceProfile:InstanceProfile": "aws_iam_instance_profile",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": "aws_iam_openid_connect_provider",
    "aws:iam/policy:Policy": "aws_iam_policy",
    "aws:iam/role:Role": "aws_iam_role",
    "aws:iam/rolePolicy:RolePolicy": "aws_iam_role_policy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "aws_iam_role_policy_attachment",
    "aws:kms/alias:Alias": "aws_kms_alias",
    "aws:kms/key:Key": "aws_kms_key",
    "aws:s3/bucket:Bucket": "aws_s3_bucket",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": "aws_s3_bucket_lifecycle_configuration",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "aws_s3_bucket_ownership_controls",
    "aws:s3/bucketPolicy:BucketPolicy": "aws_s3_bucket_policy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "aws_s3_bucket_public_access_block",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
        "aws_s3_bucket_server_side_encryption_configuration",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "aws_vpc_security_group_egress_rule",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "aws_vpc_security_group_ingress_rule",
}
# Attributes that are maps in terraform (keys are data, not attribute names; values not blocks).
_MAP_ATTRIBUTES = {"tags", "tags_all"}
# Repeated blocks pulumi-aws names in the plural (the bridge pluralizes them), terraform in the singular.
_PLURAL_BLOCKS = {"rules": "rule", "routes": "route", "ebs_block_devices": "ebs_block_device",
                  "network_interfaces": "network_interface", "inline_policies": "inline_policy"}


@dataclass(frozen=True, order=True)
class Finding:
    check: str  # CKV_K8S_43, CKV_AWS_38, ...
    resource: str  # checkov's resource id: "Deployment.webapp.webapp", "aws_eks_cluster.cluster-eks"
    name: str = ""  # the check's title

    @property
    def key(self) -> str:
        return f"{self.check} {self.resource}"


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def tf_values(value: Any, attribute: str = "") -> Any:
    """Pulumi inputs (camelCase, nested objects) as terraform plan values (snake_case, blocks as lists)."""
    if attribute in _MAP_ATTRIBUTES:
        return value
    if isinstance(value, dict):
        names = {k: _PLURAL_BLOCKS.get(_snake(k), _snake(k)) for k in value}
        return {names[k]: _block(v, names[k]) for k, v in value.items()}
    if isinstance(value, list):
        return [tf_values(v) for v in value]
    return value


def _block(value: Any, attribute: str) -> Any:
    converted = tf_values(value, attribute)
    return [converted] if isinstance(value, dict) and attribute not in _MAP_ATTRIBUTES else converted


def kubernetes_objects(records: Iterable) -> list[dict]:
    """The Kubernetes objects a run registered, as sent to the API server (Helm releases are not objects)."""
    out = []
    for r in records:
        if is_api_object(r.type) and not r.type.endswith("Patch"):
            obj = _whole_numbers(unwrap_secrets(r.inputs))  # the wire carries every number as a float
            out.append({k: v for k, v in obj.items() if k not in ("__defaults",)})
    return out


def terraform_plan(records: Iterable) -> dict:
    """The run's AWS resources as a terraform plan document (what checkov's terraform_plan runner reads).

    ``configuration`` carries each input's references (Pulumi's property dependencies: the resources whose
    outputs the input was built from), so checkov's connection checks (a flow log's VPC, a security group's
    attachments, a bucket's public access block) see the edges terraform would record."""
    records = list(records)
    unknown = sorted({r.type for r in records if r.type.startswith("aws:") and r.custom and r.type not in TF_TYPES})
    if unknown:
        raise KeyError(f"no terraform type for {', '.join(unknown)}: add it to offline/checks/scan.py TF_TYPES")
    addresses = {r.urn: f"{TF_TYPES[r.type]}.{re.sub(r'[^A-Za-z0-9_-]', '_', r.name)}"
                 for r in records if r.type in TF_TYPES}
    resources, configuration = [], []
    for r in records:
        if r.urn not in addresses:
            continue
        address = addresses[r.urn]
        tf_type, name = address.split(".", 1)
        resources.append({"address": address, "mode": "managed", "type": tf_type, "name": name,
                          "provider_name": "registry.terraform.io/hashicorp/aws",
                          "values": tf_values(_whole_numbers(unwrap_secrets(r.inputs)))})
        expressions = {_snake(prop): {"references": [ref for urn in urns if urn in addresses
                                                     for ref in (f"{addresses[urn]}.id", addresses[urn])]}
                       for prop, urns in r.property_dependencies.items()}
        configuration.append({"address": address, "mode": "managed", "type": tf_type, "name": name,
                              "expressions": {k: v for k, v in expressions.items() if v["references"]}})
    return {"format_version": "1.2", "terraform_version": "1.9.0",
            "planned_values": {"root_module": {"resources": resources}}, "resource_changes": [],
            "configuration": {"root_module": {"resources": configuration}}}


def write_inputs(directory: Path, label: str, records: Iterable) -> None:
    """One run's objects into ``directory/<label>/`` (one subdirectory per run: one checkov process for all)."""
    records = list(records)
    target = directory / label
    target.mkdir(parents=True, exist_ok=True)
    (target / "kubernetes.yaml").write_text(yaml.safe_dump_all(kubernetes_objects(records), sort_keys=True))
    (target / f"{label}.tfplan.json").write_text(plan_text(terraform_plan(records)))


def plan_text(plan: dict) -> str:
    """The plan as JSON that checkov's Kubernetes runner passes over at once.

    That runner reads every ``.json`` file as a candidate manifest. checkov 3.3.30 skips a file whose text lacks
    "apiVersion" or "kind" (kubernetes/parser/k8_json.py ``load``) and parses any other with pure-Python YAML:
    ~0.2 s per plan here, ~1 s of the suite's one checkov process, for no finding (a plan is no manifest). The
    plan has both words because the instances' user data carries nodeadm's NodeConfig. JSON lets any character of
    a string be written as a \\uXXXX escape, so the word's "a" is written ``\\u0061``: the same document for
    every JSON reader, which is checked; where it would not be, the plain text is written."""
    text = json.dumps(plan, indent=1, sort_keys=True)
    escaped = text.replace("apiVersion", "\\u0061piVersion")
    try:
        same = json.loads(escaped) == json.loads(text)
    except ValueError:  # the word right after a \uXXXa escape ("ê" is \u00ea): that "a" was its last digit
        same = False
    return escaped if same else text


def run_checkov(directory: Path, checkov: Path = CHECKOV, timeout: int = 300) -> dict[str, list[Finding]]:
    """Run checkov once over ``directory``; the failed checks per run label (its subdirectory)."""
    # CHECKOV_PARALLELIZATION_TYPE=none (checkov 3.3.30's ParallelizationType.NONE, read by its ParallelRunner): the
    # frameworks run one after the other in this process instead of in forked workers, the same findings for ~0.8 s
    # less CPU (the workers' start-up), where a test suite keeps every core busy anyway.
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false",
           "LOG_LEVEL": "ERROR", "CHECKOV_PARALLELIZATION_TYPE": "none"}
    proc = subprocess.run([str(checkov), "--directory", str(directory), "--framework", "kubernetes",
                           "terraform_plan", "--output", "json", "--quiet", "--compact", "--skip-download"],
                          capture_output=True, text=True, timeout=timeout, env=env)
    if proc.returncode not in (0, 1):  # 1: some check failed
        raise RuntimeError(f"checkov exited {proc.returncode}: {proc.stderr[-2000:]}")
    reports = json.loads(proc.stdout or "[]")
    found: dict[str, list[Finding]] = {}
    for report in reports if isinstance(reports, list) else [reports]:
        for failed in (report.get("results") or {}).get("failed_checks") or []:
            label = Path(failed["file_path"].lstrip("/")).parts[0]
            found.setdefault(label, []).append(Finding(failed["check_id"], failed["resource"],
                                                       failed.get("check_name") or ""))
    return {label: sorted(set(fs)) for label, fs in found.items()}


def load_allowlist(path: Path = ALLOWLIST) -> dict[str, str]:
    """``"<check> <resource>"`` -> why the finding is accepted."""
    data = yaml.safe_load(path.read_text()) or {}
    return {f"{entry['check']} {entry['resource']}": entry["reason"] for entry in data.get("accepted") or []}
