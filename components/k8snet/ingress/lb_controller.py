"""LoadBalancerController: the AWS Load Balancer Controller (chart 3.5.0) with its own IRSA role.

It provisions the ALB behind Ingresses of class ``alb`` and the NLB behind Services with
``loadBalancerClass: service.k8s.aws/nlb``. Sources (kubernetes-sigs/aws-load-balancer-controller,
tag v3.5.0): helm/aws-load-balancer-controller/values.yaml and templates/, docs/deploy/installation.md,
docs/install/iam_policy.json (restated in k8snet/ingress/policies/). docs/ingress.md has the long form.

Choices that differ from the chart's defaults, and why:
- ``hostNetwork``: the EKS control plane cannot reach pod IPs outside the VPC (docs/control-plane-to-pods.md),
  and the controller's webhooks (the Ingress validator, Pod mutators) must be reachable from it. On
  the node's network the webhook listens on the node IP, port 9443, which the node security group opens to
  the control plane (k8snet/nodes/security.py).
- ``region`` and ``vpcId`` given: the controller never needs the instance metadata service
  (installation.md, "Using the Amazon EC2 instance metadata server version 2").
- Rolling updates surge no pod: with hostNetwork every replica holds ports 9443/61779/metrics on its node,
  so a surge pod has nowhere to go when replicas == nodes and the rollout would never finish.
- Metrics on 127.0.0.1:61780 instead of :8080: NodeLocal DNSCache binds its health check to
  169.254.20.10:8080 on every node, and a hostNetwork controller binding :8080 would take that port first;
  on the loopback address no pod or other node reaches them (the chart renders ``--metrics-bind-addr``
  and takes the containerPort from the value's port). The health probe port (61779) has no chart value
  and stays on every address: the kubelet probes it on the node's IP.
- ``enableServiceMutatorWebhook: false``: the mutator (failurePolicy Fail, every Service CREATE in every
  namespace) only sets ``loadBalancerClass`` on LoadBalancer Services that lack one; while no replica serves
  it no Service can be created anywhere. Our LoadBalancer Service names its class (the engine checks every one
  does). The Ingress validator stays: it fails closed too, so Ingresses wait for the release.
- ``keepTLSSecret``: the chart generates the webhook certificate at render time; without this every
  ``helm upgrade`` mints a new CA in the webhook configuration while running pods still serve the old
  certificate (templates/_helpers.tpl, webhookCerts).
- The IngressClass is ours (created here, checked by the engine), not the chart's.
"""

from functools import lru_cache
from pathlib import Path
from typing import Any, NotRequired, Optional, TypedDict

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import yaml

from ..shared.args import checked
from ..shared import iam_documents, options, partition
from ..shared.partition import Partition
from ..shared.iam_roles import role_with_policies
from ..shared.kube import kube_resource

CHART = "aws-load-balancer-controller"
CHART_VERSION = "3.5.0"  # appVersion v3.5.0 (2026-08-03); published in the eks-charts repository's index
CHART_REPO = "https://aws.github.io/eks-charts"
NAMESPACE = "kube-system"
SERVICE_ACCOUNT = "aws-load-balancer-controller"
RELEASE_NAME = "aws-load-balancer-controller"
INGRESS_CLASS = "alb"
INGRESS_CONTROLLER = "ingress.k8s.aws/alb"  # IngressClass spec.controller the controller claims
WEBHOOK_PORT = 9443  # the chart's default webhookBindPort, set explicitly: the node security group opens it
HEALTH_PORT = 61779  # the chart's liveness/readiness probe port (values.yaml)
METRICS_PORT = 61780
METRICS_ADDRESS = f"127.0.0.1:{METRICS_PORT}"  # loopback: no pod or other node can scrape it
POLICY_FILE = Path(__file__).with_name("policies") / f"aws-load-balancer-controller-v{CHART_VERSION}.yaml"
IRSA_ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"  # read by EKS's pod identity webhook


@lru_cache(maxsize=1)
def _policy_data() -> dict:
    # libyaml's safe loader where PyYAML has it (the same data; the pure-Python one takes ~10 ms for this file)
    return yaml.load(POLICY_FILE.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def policy_document(aws_partition: Partition = Partition()) -> dict[str, Any]:
    """The controller's IAM policy for the pinned version (every action, resource and tag condition), its
    resource ARNs in ``aws_partition`` (how the project's iam_policy_cn.json and iam_policy_us-gov.json at
    v3.5.0 differ from iam_policy.json, apart from the order of two statements)."""
    data = _policy_data()
    if data["version"] != f"v{CHART_VERSION}":
        raise ValueError(f"{POLICY_FILE.name} is for {data['version']}, the chart is {CHART_VERSION}")
    statements = []
    for st in data["statements"]:
        statement = {"Effect": "Allow", "Action": list(st["actions"]),
                     "Resource": [aws_partition.arns(r) for r in st["resources"]]}
        if st.get("conditions"):
            statement["Condition"] = st["conditions"]
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


def chart_values(cluster_name: str, region: str, vpc_id: Any, role_arn: Any, replicas: int,
                 host_network: bool = True) -> dict[str, Any]:
    """Helm values (every key exists in the chart's values.yaml: tests/test_lb_controller.py)."""
    if replicas < 1:
        raise ValueError(f"replicas must be at least 1, got {replicas}")
    values: dict[str, Any] = {
        "clusterName": cluster_name,
        "region": region,
        "vpcId": vpc_id,
        "replicaCount": replicas,
        "serviceAccount": {"create": True, "name": SERVICE_ACCOUNT,
                           "annotations": {IRSA_ROLE_ANNOTATION: role_arn}},
        "hostNetwork": host_network,
        "webhookBindPort": WEBHOOK_PORT,
        "metricsBindAddr": METRICS_ADDRESS,
        "enableServiceMutatorWebhook": False,
        "keepTLSSecret": True,
        "createIngressClassResource": False,
        "ingressClassParams": {"create": False},
        "podDisruptionBudget": {"maxUnavailable": 1},
    }
    if host_network:
        values["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    return values


def ingress_class() -> dict:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass",
            "metadata": {"name": INGRESS_CLASS, "labels": {"app.kubernetes.io/managed-by": "pulumi"}},
            "spec": {"controller": INGRESS_CONTROLLER}}


class LoadBalancerControllerArgs(TypedDict):
    cluster_name: pulumi.Input[str]
    """The EKS cluster the controller manages load balancers for."""
    region: str
    """AWS region, given so the controller never needs the instance metadata service."""
    vpc_id: pulumi.Input[str]
    """The cluster's VPC, given for the same reason."""
    oidc_provider_arn: pulumi.Input[str]
    """The cluster's IAM OIDC provider (the controller's IRSA role trusts it)."""
    oidc_issuer: pulumi.Input[str]
    """The cluster's OIDC issuer URL."""
    replicas: NotRequired[int]
    """Replicas (default 2); at most the node count with host_network (one replica per node)."""
    host_network: NotRequired[bool]
    """Run on the node's network (default true) unless pods get VPC addresses the control plane can reach."""
    tags: NotRequired[dict[str, str]]
    """Tags added to every AWS resource."""


class LoadBalancerController(pulumi.ComponentResource):
    """IAM policy + IRSA role + Helm release + IngressClass ``alb``. Pass the cluster's Kubernetes provider
    and what the release must wait for (nodes, CNI, add-ons) in ``opts``.

    Outputs: role_arn, policy_arn, release_name, namespace, service_account, ingress_class.
    Depend on ``release`` (an attribute) for objects the controller's webhooks admit or it serves.
    """

    role_arn: pulumi.Output[str]
    """The controller's IRSA role."""
    policy_arn: pulumi.Output[str]
    """The controller's IAM policy (the published one for the pinned version)."""
    release_name: pulumi.Output[str]
    """The Helm release's name."""
    namespace: pulumi.Output[str]
    """The controller's namespace."""
    service_account: pulumi.Output[str]
    """The controller's service account."""
    ingress_class: pulumi.Output[str]
    """The IngressClass it serves (alb)."""

    def __init__(self, name: str, args: LoadBalancerControllerArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = checked(args, LoadBalancerControllerArgs)
        replicas, host_network = args.get("replicas", 2), args.get("host_network", True)
        if replicas < 1:
            raise ValueError(f"replicas must be at least 1, got {replicas}")
        super().__init__("k8snet:index:LoadBalancerController", name, None, opts)
        aws_opts = pulumi.ResourceOptions(parent=self)
        extra_tags = dict(args.get("tags") or {})
        aws_partition = partition.lookup(self)
        policy = aws.iam.Policy(
            f"{name}-policy",
            description=f"AWS Load Balancer Controller v{CHART_VERSION} (published policy, tag conditions intact)",
            policy=iam_documents.dumps(policy_document(aws_partition)),
            tags=extra_tags,
            opts=aws_opts,
        )
        # IRSA: only the controller's service account, only for STS web-identity tokens.
        trust = pulumi.Output.all(args["oidc_provider_arn"], args["oidc_issuer"]).apply(
            lambda a: iam_documents.dumps(iam_documents.irsa_trust(a[0], a[1], NAMESPACE, SERVICE_ACCOUNT)))
        role, _ = role_with_policies(f"{name}-role", trust, (), "AWS Load Balancer Controller (IRSA)",
                                     extra_tags, self, aws_partition)
        attachment = aws.iam.RolePolicyAttachment(f"{name}-role-policy", role=role.name, policy_arn=policy.arn,
                                                  opts=aws_opts)

        # Waits (helm --wait) for the Deployment: its Ingress validating webhook fails closed, so an
        # Ingress created before a replica is ready would be refused.
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name=RELEASE_NAME,
            chart=CHART,
            version=CHART_VERSION,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=CHART_REPO),
            namespace=NAMESPACE,
            values=chart_values(args["cluster_name"], args["region"], args["vpc_id"], role.arn, replicas,
                                host_network),
            timeout=600,
            opts=options.child(self, [attachment, *options.dependencies(opts)]),
        )
        ingress_cls = kube_resource(f"{name}-ingress-class", ingress_class(), options.child(self))

        self.role_arn = role.arn
        self.policy_arn = policy.arn
        self.release_name = self.release.name
        self.namespace = pulumi.Output.from_input(NAMESPACE)
        self.service_account = pulumi.Output.from_input(SERVICE_ACCOUNT)
        self.ingress_class = ingress_cls.metadata.name
        self.register_outputs({"roleArn": self.role_arn, "policyArn": self.policy_arn,
                               "releaseName": self.release_name, "namespace": self.namespace,
                               "serviceAccount": self.service_account, "ingressClass": self.ingress_class})
