"""ExampleApp: the documents' webapp + MySQL with Services of every type and NetworkPolicies.

The objects themselves are built by the pure functions in k8snet/app/manifests.py; this component
registers them with the Kubernetes provider given in ``opts``. docs/app.md explains what is deployed and why.
"""

from typing import NotRequired, Optional, TypedDict

import pulumi
import pulumi_random as random

from ..shared.args import checked
from ..shared import options
from ..shared.kube import kube_resource, resource_name
from . import load_balancer
from . import manifests as m
from .tls import database_tls

def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


# What `pulumi destroy` leaves in place while retainData is on. The namespace too: deleting it would
# garbage-collect the StatefulSet's claim, and the claim is what a later `pulumi up` re-attaches.
_RETAINED = {("v1", "Namespace"), ("apps/v1", "StatefulSet"), ("storage.k8s.io/v1", "StorageClass")}


class LoadBalancerArgs(TypedDict):
    public: NotRequired[bool]
    """Internet-facing NLB (default false: internal, reachable from the VPC)."""
    certificate_arn: NotRequired[str]
    """ACM certificate in the stack's region: TLS on 443."""
    source_ranges: NotRequired[list[str]]
    """CIDRs allowed to connect (default: the VPC when internal, 0.0.0.0/0 when public)."""
    allow_http: NotRequired[bool]
    """Accept a public NLB without certificate_arn (plain HTTP)."""


class ExampleAppArgs(TypedDict):
    namespace: NotRequired[str]
    """Namespace of the app (default webapp); a DNS label of its own."""
    vpc_cidr: NotRequired[str]
    """Sources allowed to reach the webapp on port 80: nodes and load balancers (default 192.168.0.0/16)."""
    node_port: NotRequired[int]
    """NodePort of the webapp's NodePort Service (default 30080)."""
    external_names: NotRequired[dict[str, str]]
    """Service name -> external DNS name: one ExternalName Service each."""
    network_policy: NotRequired[bool]
    """Default-deny NetworkPolicies with the app's flows allowed (default true)."""
    retain_data: NotRequired[bool]
    """Keep MySQL's StatefulSet, claim, StorageClass and namespace on destroy (default true)."""
    kubernetes_version: NotRequired[str]
    """The cluster's minor version: the namespace's Pod Security Admission version (default 1.35)."""
    replicas: NotRequired[int]
    """Webapp replicas (default 2)."""
    await_load_balancer: NotRequired[bool]
    """Wait for the NLB's address (default true); false while no load balancer controller runs."""
    dns_ips: NotRequired[list[str]]
    """Extra DNS destinations for the policies (node-local-dns's addresses; docs/dns.md)."""
    forwarded_from: NotRequired[list[str]]
    """CIDRs kube-proxy's forwarded web traffic comes from besides the VPC: the pod CIDR with an overlay
    (the sending node's tunnel address; docs/data-path.md). Default none."""
    load_balancer: NotRequired[LoadBalancerArgs]
    """The webapp's NLB (default: internal, from the VPC only)."""


class ExampleApp(pulumi.ComponentResource):
    """Pass the cluster's Kubernetes provider and what to wait for (the EBS CSI add-on, the load balancer
    controller) in ``opts``.

    Outputs: namespace, services (Service type -> name, "ExternalName:<name>" for each external
    name), node_port, load_balancer_hostname, mysql_host, storage_class."""

    namespace: pulumi.Output[str]
    """The app's namespace."""
    services: dict[str, str]
    """Service type -> Service name (ExternalName:<name> for each external name)."""
    node_port: pulumi.Output[int]
    """The webapp's NodePort."""
    load_balancer_hostname: pulumi.Output[str]
    """The NLB's DNS name (empty until it exists)."""
    mysql_host: str
    """MySQL's name as the webapp reaches it (the headless Service)."""
    storage_class: str
    """The StorageClass of MySQL's volume."""

    def __init__(self, name: str, args: ExampleAppArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = checked(args, ExampleAppArgs)
        given = {k: v for k, v in args.items() if v is not None}
        problems: list[str] = []
        lb = load_balancer.parse({_camel(k): v for k, v in (given.get("load_balancer") or {}).items()},
                                 lambda key, why: problems.append(f"{key}: {why}"))
        if problems:
            raise ValueError("invalid ExampleApp load_balancer:" + "".join(f"\n  - {p}" for p in problems))
        settings = m.AppSettings(**{**given, "external_names": dict(given.get("external_names") or {}),
                                    "dns_ips": tuple(given.get("dns_ips") or ()),
                                    "forwarded_from": tuple(given.get("forwarded_from") or ()), "load_balancer": lb})
        super().__init__("k8snet:index:ExampleApp", name, None, opts)
        after = options.dependencies(opts)
        # Alphanumeric only: the mysql image's entrypoint splices the passwords into SQL quotes.
        passwords = {
            key: random.RandomPassword(f"{name}-{key}", length=32, special=False, min_lower=1, min_upper=1,
                                       min_numeric=1, opts=pulumi.ResourceOptions(parent=self))
            for key in ("mysql-root-password", "mysql-password")
        }
        db_tls = database_tls(f"{name}-mysql-tls", settings.namespace, settings.mysql_tls_names, self)
        objects = m.all_objects(settings, passwords["mysql-root-password"].result, passwords["mysql-password"].result,
                                (db_tls.ca_cert, db_tls.cert, db_tls.key, db_tls.fingerprint))
        created: dict[tuple[str, str], pulumi.CustomResource] = {}
        ns = None
        for obj in objects:
            # The API server refuses objects in a namespace that does not exist yet.
            wait = [*after, ns] if ns is not None else after
            retain = settings.retain_data and (obj["apiVersion"], obj["kind"]) in _RETAINED
            resource = kube_resource(f"{name}-{resource_name(obj)}", obj,
                                     options.child(self, wait, retain_on_delete=retain or None))
            created[(obj["kind"], obj["metadata"]["name"])] = resource
            if obj["kind"] == "Namespace":
                ns = resource

        names = m.SERVICE_NAMES
        self.namespace = ns.metadata.name
        self.services = {**names, **{f"ExternalName:{n}": n for n in sorted(settings.external_names)}}
        self.node_port = created[("Service", names["NodePort"])].spec.ports[0].node_port
        # Empty until a controller has given the NLB an address (see await_load_balancer).
        self.load_balancer_hostname = created[("Service", names["LoadBalancer"])].status.apply(
            lambda st: st.load_balancer.ingress[0].hostname
            if st and st.load_balancer and st.load_balancer.ingress else "")
        self.mysql_host = settings.mysql_host
        self.storage_class = settings.storage_class
        self.register_outputs({"namespace": self.namespace, "services": self.services, "nodePort": self.node_port,
                               "loadBalancerHostname": self.load_balancer_hostname, "mysqlHost": self.mysql_host,
                               "storageClass": self.storage_class})
