"""AlbIngress: an ALB in front of a NodePort Service, through the AWS Load Balancer Controller; internet-facing
with a certificate (HTTPS) or an explicit ``allow_http``, internal otherwise.

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


def load_balancer_attributes(access_logs_bucket: Any = None, prefix: str = "alb") -> Any:
    """The ALB's attributes (annotation ``load-balancer-attributes``, a stringMap): invalid HTTP header
    fields dropped, not forwarded (RFC 7230 names only: request smuggling via odd headers; ELB user guide,
    "Application Load Balancer attributes"); access logs to the bucket, or explicitly off (the controller
    only updates attributes that are listed)."""
    fixed = "routing.http.drop_invalid_header_fields.enabled=true"
    if access_logs_bucket is None:
        return f"access_logs.s3.enabled=false,{fixed}"
    return pulumi.Output.concat("access_logs.s3.bucket=", access_logs_bucket, ",access_logs.s3.enabled=true,"
                                f"access_logs.s3.prefix={prefix},{fixed}")


def annotations(settings: IngressSettings, access_logs_bucket: Any = None, prefix: str = "alb") -> dict[str, Any]:
    listen = [{"HTTP": 80}, {"HTTPS": 443}] if settings.https else [{"HTTP": 80}]
    out = {
        # Public (subnets tagged kubernetes.io/role/elb) only with HTTPS or an explicit allow_http; otherwise
        # internal (private subnets, kubernetes.io/role/internal-elb): plain HTTP stays inside the VPC.
        "scheme": "internet-facing" if settings.internet_facing else "internal",
        "target-type": "instance",  # the NodePort on every node; pod IPs are not VPC addresses here
        "healthcheck-path": settings.health_check_path,
        "healthcheck-port": "traffic-port",  # the NodePort the target group sends to
        "success-codes": "200",
        "listen-ports": json.dumps(listen, separators=(",", ":"), sort_keys=True),
    }
    if settings.https:
        out.update({"certificate-arn": settings.certificate_arn, "ssl-redirect": "443", "ssl-policy": SSL_POLICY})
    out["load-balancer-attributes"] = load_balancer_attributes(access_logs_bucket, prefix)
    if settings.waf_acl_arn:
        # Regional WAFv2 only; removing the setting leaves the ACL attached (the controller changes it only
        # when the annotation names one, or `none`): see docs/ingress.md.
        out["wafv2-acl-arn"] = settings.waf_acl_arn
    return {PREFIX + k: v for k, v in sorted(out.items())}


def ingress(name: str, namespace: Any, service: str, port_name: str, settings: IngressSettings,
            ingress_class: Any = lb_controller.INGRESS_CLASS, access_logs_bucket: Any = None,
            access_logs_prefix: str = "alb") -> dict:
    paths = [{"path": p, "pathType": "Prefix",
              "backend": {"service": {"name": service, "port": {"name": port_name}}}} for p in settings.paths]
    rule: dict[str, Any] = {"http": {"paths": paths}}
    if settings.host:
        rule = {"host": settings.host, **rule}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace,
                     "annotations": annotations(settings, access_logs_bucket, access_logs_prefix),
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
    allow_http: NotRequired[bool]
    """Accept an internet-facing ALB without certificate_arn (plain HTTP); default false: refused."""
    access_logs_bucket: NotRequired[pulumi.Input[str]]
    """S3 bucket for the ALB's access logs (AlbAccessLogs makes one); absent: access logs off."""
    access_logs_prefix: NotRequired[str]
    """Key prefix of the access logs in that bucket (default alb)."""
    waf_acl_arn: NotRequired[str]
    """A regional WAFv2 web ACL (same region) to associate with the ALB."""


def settings_of(args: AlbIngressArgs) -> IngressSettings:
    """The args as IngressSettings, validated like the stack's ``ingress`` setting (ValueError lists every problem)."""
    raw = {"host": args.get("host"), "paths": args.get("paths", ["/"]), "certificateArn": args.get("certificate_arn"),
           "healthCheckPath": args.get("health_check_path", "/healthz"), "allowHttp": args.get("allow_http", False),
           "accessLogs": args.get("access_logs_bucket") is not None, "wafAclArn": args.get("waf_acl_arn")}
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
                      args.get("ingress_class", lb_controller.INGRESS_CLASS), args.get("access_logs_bucket"),
                      args.get("access_logs_prefix", "alb"))
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
