"""AlbIngress: an internet-facing ALB in front of a NodePort Service, through the AWS Load Balancer Controller.

Instance targets: the ALB sends to every node's NodePort and kube-proxy forwards to a pod (the path the
documents draw: client -> ALB -> node -> NodePort -> pod), so it works whatever the CNI. Annotation names
and values are those of controller v3.5.0 (docs/guide/ingress/annotations.md; checked against
offline/checks/charts/aws-load-balancer-controller-3.5.0.yaml). With a certificate the ALB listens on 80 and 443
and 80 only redirects (``ssl-redirect``: "every HTTP listener will be configured with a default action
which redirects to HTTPS").

``ingress`` builds the object (settings: k8snet/ingress/settings.py); the component registers it.
"""

import json
from typing import Any, NotRequired, Optional, TypedDict

import pulumi

from ..shared.args import checked
from ..shared import options
from ..shared.kube import kube_resource
from . import lb_controller
from .settings import IngressSettings, parse_settings

PREFIX = "alb.ingress.kubernetes.io/"
# AWS's recommended ALB policy (TLS 1.3 and 1.2, forward secrecy), instead of the controller's default
# ELBSecurityPolicy-2016-08 (Elastic Load Balancing user guide, "Security policies for your ALB").
SSL_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"


def annotations(settings: IngressSettings) -> dict[str, str]:
    listen = [{"HTTP": 80}, {"HTTPS": 443}] if settings.https else [{"HTTP": 80}]
    out = {
        "scheme": "internet-facing",  # public subnets (kubernetes.io/role/elb), default would be internal
        "target-type": "instance",  # the NodePort on every node; pod IPs are not VPC addresses here
        "healthcheck-path": settings.health_check_path,
        "healthcheck-port": "traffic-port",  # the NodePort the target group sends to
        "success-codes": "200",
        "listen-ports": json.dumps(listen, separators=(",", ":"), sort_keys=True),
    }
    if settings.https:
        out.update({"certificate-arn": settings.certificate_arn, "ssl-redirect": "443", "ssl-policy": SSL_POLICY})
    return {PREFIX + k: v for k, v in sorted(out.items())}


def ingress(name: str, namespace: Any, service: str, port_name: str, settings: IngressSettings,
            ingress_class: Any = lb_controller.INGRESS_CLASS) -> dict:
    paths = [{"path": p, "pathType": "Prefix",
              "backend": {"service": {"name": service, "port": {"name": port_name}}}} for p in settings.paths]
    rule: dict[str, Any] = {"http": {"paths": paths}}
    if settings.host:
        rule = {"host": settings.host, **rule}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace, "annotations": annotations(settings),
                     "labels": {"app.kubernetes.io/managed-by": "pulumi"}},
        "spec": {"ingressClassName": ingress_class, "rules": [rule]},
    }


class AlbIngressArgs(TypedDict):
    namespace: pulumi.Input[str]
    """Namespace of the Ingress and its backend Service."""
    service_name: str
    """A NodePort (or LoadBalancer) Service: instance targets need its nodePort."""
    service_port_name: str
    """The Service port (by name) the ALB sends to."""
    host: NotRequired[str]
    """Host header to match (default: any)."""
    paths: NotRequired[list[str]]
    """Path prefixes routed to the Service (default ["/"]); ALB path characters, no wildcards."""
    certificate_arn: NotRequired[str]
    """ACM certificate in the stack's region: HTTPS on 443, 80 redirects (default: HTTP only)."""
    health_check_path: NotRequired[str]
    """The target group's health check path (default /healthz)."""
    ingress_class: NotRequired[pulumi.Input[str]]
    """IngressClass of the AWS Load Balancer Controller (default alb)."""


def settings_of(args: AlbIngressArgs) -> IngressSettings:
    """The args as IngressSettings, validated like the stack's ``ingress`` setting (ValueError lists every problem)."""
    raw = {"host": args.get("host"), "paths": args.get("paths", ["/"]), "certificateArn": args.get("certificate_arn"),
           "healthCheckPath": args.get("health_check_path", "/healthz")}
    problems: list[str] = []
    settings = parse_settings({k: v for k, v in raw.items() if v is not None},
                              lambda key, why: problems.append(f"{key}: {why}"))
    if problems:
        raise ValueError("invalid AlbIngress settings:" + "".join(f"\n  - {p}" for p in problems))
    return settings


class AlbIngress(pulumi.ComponentResource):
    """One Ingress: Kubernetes name ``<name>``, Pulumi name ``<name>-ingress``. Pass the cluster's
    Kubernetes provider and what to wait for (the controller's release, the Service) in ``opts``.

    Outputs: hostname (the ALB's DNS name, from the Ingress status), url."""

    hostname: pulumi.Output[str]
    """The ALB's DNS name, from the Ingress status."""
    url: pulumi.Output[str]
    """The app's URL through the ALB."""

    def __init__(self, name: str, args: AlbIngressArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = checked(args, AlbIngressArgs)
        settings = settings_of(args)
        obj = ingress(name, args["namespace"], args["service_name"], args["service_port_name"], settings,
                      args.get("ingress_class", lb_controller.INGRESS_CLASS))
        super().__init__("k8snet:index:AlbIngress", name, None, opts)
        created = kube_resource(f"{name}-ingress", obj, options.child(self, options.dependencies(opts)))
        # The controller writes the ALB's DNS name into the status once the ALB exists; pulumi-kubernetes
        # waits for it, as the documents' frontend.status.loadBalancer.ingress[0] export assumes.
        self.hostname = created.status.apply(
            lambda st: st.load_balancer.ingress[0].hostname or ""
            if st and st.load_balancer and st.load_balancer.ingress else "")
        scheme = "https" if settings.https else "http"
        self.url = self.hostname.apply(lambda h: f"{scheme}://{settings.host or h}/" if h else "")
        self.register_outputs({"hostname": self.hostname, "url": self.url})
