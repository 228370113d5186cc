"""The AWS Load Balancer Controller: its IAM policy against the published one, its IRSA trust, its chart
values against the pinned chart's facts, and what the engine catches when any of them is wrong."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest

from k8snet.shared import iam_documents
from k8snet.ingress import lb_controller
from k8snet.nodes import security as node_security
from conftest import nodes_config, probe_project
from offline.checks import alb as alb_checks
from offline.checks.chart_facts import key_paths
from offline.checks.chart_facts import load as chart_facts
from offline.kube.schemas import KubeSchemas

FACTS = chart_facts(f"{lb_controller.CHART}-{lb_controller.CHART_VERSION}")
GRANTS = Path(__file__).with_name("fixtures") / f"lb-controller-policy-v{lb_controller.CHART_VERSION}.grants"


def _grants(document: dict) -> set[str]:
    """One line per (action, resource, condition), the fixture's form."""
    out = set()
    for st in document["Statement"]:
        assert st["Effect"] == "Allow"
        condition = json.dumps(st.get("Condition", {}), sort_keys=True, separators=(",", ":"))
        for action in st["Action"]:
            for resource in st["Resource"]:
                out.add(f"{action} {resource} {condition}")
    return out


def test_policy_grants_exactly_what_the_published_policy_grants():
    published = {line for line in GRANTS.read_text().splitlines() if line and not line.startswith("#")}
    ours = _grants(lb_controller.policy_document())
    assert ours - published == set(), "grants the published policy does not"
    assert published - ours == set(), "published grants (actions, resources or conditions) we dropped"


def test_policy_keeps_the_tag_conditions_on_every_write():
    doc = lb_controller.policy_document()
    by_action: dict[str, list[dict]] = {}
    for st in doc["Statement"]:
        for action in st["Action"]:
            by_action.setdefault(action, []).append(st.get("Condition") or {})
    tag = "elbv2.k8s.aws/cluster"
    # Deleting a load balancer, target group or security group: only ones the controller tagged.
    for action in ("elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:DeleteTargetGroup",
                   "ec2:DeleteSecurityGroup"):
        assert by_action[action] == [{"Null": {f"aws:ResourceTag/{tag}": "false"}}], action
    # Creating one: only with the tag in the request.
    assert by_action["elasticloadbalancing:CreateLoadBalancer"] == [{"Null": {f"aws:RequestTag/{tag}": "false"}}]
    assert all(c for c in by_action["ec2:CreateTags"])  # never unconditional
    # Recent controllers read listener attributes; an older policy would break them (REFERENCE.md).
    assert "elasticloadbalancing:DescribeListenerAttributes" in by_action


def test_policy_is_serialised_deterministically_and_fits_a_managed_policy(dev_stack):
    result, engine = dev_stack
    (policy,) = [p for p in result.of_type("aws:iam/policy:Policy") if p.name == "lb-controller-policy"]
    text = policy.inputs["policy"]
    assert text == iam_documents.dumps(lb_controller.policy_document())
    assert text == json.dumps(json.loads(text), sort_keys=True, separators=(",", ":"))
    assert len("".join(text.split())) <= 6144  # IAM's managed-policy size quota
    # The role holds exactly this policy, nothing AWS-managed.
    iam = engine.client("iam")
    role_name = result.exports["lbControllerRoleArn"].rsplit("/", 1)[1]
    attached = iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
    assert [a["PolicyArn"] for a in attached] == [policy.outputs["arn"]]


def test_trust_is_pinned_to_the_controllers_service_account(dev_stack):
    result, engine = dev_stack
    role_name = result.exports["lbControllerRoleArn"].rsplit("/", 1)[1]
    trust = engine.client("iam").get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"]["Federated"] == result.exports["oidcProviderArn"]
    conditions = statement["Condition"]["StringEquals"]
    issuer = result.exports["oidcProviderArn"].split("oidc-provider/", 1)[1]
    assert conditions == {f"{issuer}:sub": "system:serviceaccount:kube-system:aws-load-balancer-controller",
                          f"{issuer}:aud": "sts.amazonaws.com"}
    # ... and the chart's service account is that one, annotated with this role.
    (release,) = alb_checks.controller_releases(result.records.values())
    sa = release["values"]["serviceAccount"]
    assert (release["namespace"], sa["name"]) == ("kube-system", "aws-load-balancer-controller")
    assert sa["annotations"] == {"eks.amazonaws.com/role-arn": result.exports["lbControllerRoleArn"]}


def test_pinned_chart_matches_the_facts_file():
    assert (lb_controller.CHART, lb_controller.CHART_VERSION, lb_controller.CHART_REPO) == \
        (FACTS["chart"], FACTS["version"], FACTS["repo"])
    assert lb_controller.ingress_class()["spec"]["controller"] == FACTS["ingressClassController"]


@pytest.mark.parametrize("host_network", [True, False])
def test_every_value_we_set_exists_in_the_chart(host_network):
    values = lb_controller.chart_values("c", "us-east-1", "vpc-1", "arn:aws:iam::1:role/r", 2, host_network)
    passthrough = FACTS["passThrough"]
    unknown = [p for p in key_paths(values) if p not in FACTS["valuesKeys"]
               and not any(p.startswith(k + ".") for k in passthrough)]
    assert unknown == []
    schemas = KubeSchemas("1.35")
    for key, definition in passthrough.items():
        if definition != "map" and key in values:
            assert schemas.definition_errors(definition, values[key]) == [], key


def test_values_never_need_imds_and_serve_webhooks_on_the_node():
    values = lb_controller.chart_values("k8snet-dev", "eu-west-1", "vpc-123", "arn", 2)
    assert (values["clusterName"], values["region"], values["vpcId"]) == ("k8snet-dev", "eu-west-1", "vpc-123")
    assert values["replicaCount"] == 2 and values["hostNetwork"] is True
    # hostNetwork: a surge pod could never schedule when every node already runs a replica.
    assert values["updateStrategy"]["rollingUpdate"] == {"maxSurge": 0, "maxUnavailable": 1}
    # The control plane reaches the webhook on the node: the node security group must open it.
    assert values["webhookBindPort"] in node_security.WEBHOOK_PORTS
    # Metrics stay off 8080 (NodeLocal DNSCache's health port on the node's link-local address).
    assert values["metricsBindAddr"].endswith(f":{lb_controller.METRICS_PORT}") and lb_controller.METRICS_PORT != 8080
    assert values["createIngressClassResource"] is False and values["keepTLSSecret"] is True
    with pytest.raises(ValueError, match="at least 1"):
        lb_controller.chart_values("c", "r", "v", "a", 0)


def test_node_security_group_admits_the_webhook_from_the_control_plane(dev_stack):
    result, engine = dev_stack
    ec2 = engine.ec2_reader()
    node_sg = result.named("workers-sg").id
    control_plane_sg = result.named("cluster-control-plane").id
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [node_sg]}])["SecurityGroupRules"]
    assert any(not r["IsEgress"] and r["IpProtocol"] == "tcp" and r["FromPort"] <= lb_controller.WEBHOOK_PORT
               <= r["ToPort"] and (r.get("ReferencedGroupInfo") or {}).get("GroupId") == control_plane_sg
               for r in rules)


def test_release_waits_for_its_pods_after_the_role_and_the_addons(dev_stack):
    result, _ = dev_stack
    release = result.named("lb-controller-release")
    assert release.inputs.get("skipAwait") in (None, False)  # Ingress webhook must be serving before Ingresses
    assert release.inputs["version"] == lb_controller.CHART_VERSION
    assert result.named("lb-controller-role-policy").urn in release.dependencies
    assert result.named("addons").urn in release.dependencies or any(
        a.urn in release.dependencies for a in result.of_type("aws:eks/addon:Addon"))
    # The IngressClass is ours, with the controller the chart's would have named.
    (cls,) = result.of_type("kubernetes:networking.k8s.io/v1:IngressClass")
    assert cls.inputs["metadata"]["name"] == "alb"
    assert cls.inputs["spec"]["controller"] == "ingress.k8s.aws/alb"


def test_one_node_gets_one_replica(stack_run):
    result, _ = stack_run({"nodes": nodes_config(1)})
    assert result.ok, result.error
    (release,) = alb_checks.controller_releases(result.records.values())
    assert release["values"]["replicaCount"] == 1


def test_engine_checks_the_release_and_its_trust(dev_stack):
    result, engine = dev_stack
    aws = alb_checks.AwsView(engine.ec2_reader())
    records = list(result.records.values())
    assert alb_checks.release_problems(records, engine.kube.schemas, aws) == []
    release = next(r for r in records if r.name == "lb-controller-release")
    good = release.inputs
    values = json.loads(json.dumps(good["values"]))
    values["hostNetwrk"] = True
    values["updateStrategy"] = {"rollingUpdate": {"maxSurg": 0}}
    values["clusterName"] = "other"
    values["serviceAccount"]["name"] = "default"
    # A copy of the release with these values (the shared run stays as it was).
    records = [dataclasses.replace(r, inputs={**good, "values": values}) if r is release else r for r in records]
    problems = alb_checks.release_problems(records, engine.kube.schemas, aws)
    assert any("value hostNetwrk does not exist" in p for p in problems), problems
    assert any("updateStrategy.rollingUpdate: unknown field(s): 'maxSurg'" in p for p in problems), problems
    assert any("clusterName 'other' is no EKS cluster" in p for p in problems), problems
    assert any("not the chart's service account system:serviceaccount:kube-system:default" in p for p in problems)
    del values["serviceAccount"]["annotations"]
    problems = alb_checks.release_problems(records, engine.kube.schemas, aws)
    assert any("node's role" in p for p in problems), problems


def test_engine_refuses_a_managed_policy_over_the_size_quota(run_stack, tmp_path):
    program = (
        "import json, pulumi_aws as aws\n"
        "doc = {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': ['s3:GetObject'],\n"
        "       'Resource': [f'arn:aws:s3:::bucket-{i:05d}/*' for i in range(300)]}]}\n"
        "aws.iam.Policy('big', policy=json.dumps(doc))\n"
    )
    result, _ = run_stack(stack="test", project_dir=probe_project(tmp_path, program))
    assert not result.ok and result.error_kind == "aws"
    assert "PolicySize: 6144" in result.error


def test_fail_closed_webhooks_order_what_they_intercept(stack_run):
    shared, _ = stack_run({"nodeLocalDns": True})  # the node-local-dns tests' run
    assert shared.ok, shared.error
    result = copy.deepcopy(shared)  # the test changes records
    records = list(result.records.values())
    assert alb_checks.webhook_order_problems(records) == []
    release = result.named("lb-controller-release")
    # The ALB Ingress, if it did not wait for the release, would race the Ingress validator (failurePolicy Fail).
    ingress = next(r for r in records if r.type == "kubernetes:networking.k8s.io/v1:Ingress")
    assert release.urn in ingress.dependencies
    ingress.dependencies = []  # (it also waits for the app, which waits for the release)
    problems = alb_checks.webhook_order_problems(records)
    assert problems == [f"Ingress {ingress.name}: may be created while the load balancer controller's webhook "
                        f"vingress.elbv2.k8s.aws (failurePolicy Fail) has no ready replica; make it depend on "
                        f"{release.name}"], problems
    # With the Service mutator off, Services need no ordering (the node-local-dns one does not wait) ...
    upstream = next(r for r in records if r.type == "kubernetes:core/v1:Service" and "upstream" in r.name)
    assert release.urn not in upstream.dependencies
    # ... and with the chart default (mutator on) the same Service would race it.
    release.inputs = {**release.inputs, "values": {**release.inputs["values"], "enableServiceMutatorWebhook": True}}
    problems = alb_checks.webhook_order_problems(records)
    assert any(p.startswith(f"Service {upstream.name}: may be created while") and "mservice" in p for p in problems)


def test_the_service_mutator_is_off_and_every_load_balancer_service_names_its_class(dev_stack):
    result, engine = dev_stack
    records = list(result.records.values())
    objects = list(engine.kube.objects.values())
    assert alb_checks.load_balancer_class_problems(records, objects) == []
    (release,) = alb_checks.controller_releases(records)
    assert release["values"]["enableServiceMutatorWebhook"] is False
    assert "mservice.elbv2.k8s.aws" not in {h["name"] for h in alb_checks.active_webhooks(release["values"])}
    # The chart's default (what the stack shipped before) is caught: a fail-closed webhook on every Service.
    # (on copies: the shared dev run is read by other tests)
    rel = next(r for r in records if r.name == "lb-controller-release")
    values = {k: v for k, v in rel.inputs["values"].items() if k != "enableServiceMutatorWebhook"}
    records = [dataclasses.replace(r, inputs={**rel.inputs, "values": values}) if r is rel else r for r in records]
    (problem,) = alb_checks.load_balancer_class_problems(records, objects)
    assert "fails closed on every Service CREATE cluster-wide" in problem
    # A LoadBalancer Service without a class would be left to EKS's cloud provider.
    lb = next(o for o in objects if o["kind"] == "Service" and o["spec"].get("type") == "LoadBalancer")
    bare = {**lb, "spec": {k: v for k, v in lb["spec"].items() if k != "loadBalancerClass"}}
    problems = alb_checks.load_balancer_class_problems(records, [bare])
    assert any("without loadBalancerClass" in p for p in problems), problems


def test_metrics_listen_on_loopback_only():
    values = lb_controller.chart_values("c", "us-east-1", "vpc-1", "arn", 2)
    assert values["metricsBindAddr"] == "127.0.0.1:61780"
