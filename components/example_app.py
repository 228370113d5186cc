"""ExampleApp: the documents' webapp + MySQL with Services of every type and NetworkPolicies.

The objects themselves are built by the pure functions in components/app_manifests.py; this component
registers them with the given Kubernetes provider. docs/app.md explains what is deployed and why.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from . import app_manifests as m

# (apiVersion, kind) -> the pulumi-kubernetes resource class that manages it.
_CLASSES = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "ConfigMap"): k8s.core.v1.ConfigMap,
    ("v1", "Secret"): k8s.core.v1.Secret,
    ("v1", "Service"): k8s.core.v1.Service,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("apps/v1", "StatefulSet"): k8s.apps.v1.StatefulSet,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("storage.k8s.io/v1", "StorageClass"): k8s.storage.v1.StorageClass,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
}
# What `pulumi destroy` leaves in place while retainData is on. The namespace too: deleting it would
# garbage-collect the StatefulSet's claim, and the claim is what a later `pulumi up` re-attaches.
_RETAINED = {("v1", "Namespace"), ("apps/v1", "StatefulSet"), ("storage.k8s.io/v1", "StorageClass")}


@dataclass
class ExampleAppArgs:
    namespace: str = "webapp"
    vpc_cidr: str = "192.168.0.0/16"  # sources allowed to reach the webapp on port 80 (nodes, NLB)
    node_port: int = 30080
    external_names: Mapping[str, str] = field(default_factory=dict)  # Service name -> external DNS name
    network_policy: bool = True
    retain_data: bool = True
    kubernetes_version: str = "1.35"
    replicas: int = 2
    await_load_balancer: bool = True  # False while no load balancer controller is installed
    dns_ips: Sequence[str] = ()  # extra DNS destinations for the policies (node-local-dns; docs/dns.md)
    provider: k8s.Provider | None = None  # the cluster's; None means the ambient kubeconfig
    depends_on: Sequence[pulumi.Resource] = ()  # e.g. the EBS CSI add-on and the load balancer controller


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower()


def _resource_name(obj: Mapping) -> str:
    kind = re.sub(r"(?<!^)([A-Z])", r"-\1", obj["kind"]).lower()
    return f"{kind}-{obj['metadata']['name']}"


class ExampleApp(pulumi.ComponentResource):
    """Outputs: namespace, services (Service type -> name, "ExternalName:<name>" for each external
    name), node_port, load_balancer_hostname, mysql_host, storage_class."""

    namespace: pulumi.Output[str]
    services: dict[str, str]
    node_port: pulumi.Output[int]
    load_balancer_hostname: pulumi.Output[str]
    mysql_host: str
    storage_class: str

    def __init__(self, name: str, args: ExampleAppArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("k8snet:index:ExampleApp", name, None, opts)
        settings = m.AppSettings(namespace=args.namespace, vpc_cidr=args.vpc_cidr, node_port=args.node_port,
                                 external_names=dict(args.external_names), network_policy=args.network_policy,
                                 retain_data=args.retain_data, kubernetes_version=args.kubernetes_version,
                                 replicas=args.replicas, await_load_balancer=args.await_load_balancer,
                                 dns_ips=tuple(args.dns_ips))
        child = pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=list(args.depends_on))
        # Alphanumeric only: the mysql image's entrypoint splices the passwords into SQL quotes.
        passwords = {
            key: random.RandomPassword(f"{name}-{key}", length=32, special=False, min_lower=1, min_upper=1,
                                       min_numeric=1, opts=pulumi.ResourceOptions(parent=self))
            for key in ("mysql-root-password", "mysql-password")
        }
        objects = m.all_objects(settings, passwords["mysql-root-password"].result, passwords["mysql-password"].result)
        created: dict[tuple[str, str], pulumi.CustomResource] = {}
        ns = None
        for obj in objects:
            key = (obj["apiVersion"], obj["kind"])
            opts_ = child
            if ns is not None:  # the API server refuses objects in a namespace that does not exist yet
                opts_ = pulumi.ResourceOptions.merge(opts_, pulumi.ResourceOptions(depends_on=[ns]))
            if args.retain_data and key in _RETAINED:
                opts_ = pulumi.ResourceOptions.merge(opts_, pulumi.ResourceOptions(retain_on_delete=True))
            fields = {_snake(k): v for k, v in obj.items() if k not in ("apiVersion", "kind")}
            resource = _CLASSES[key](f"{name}-{_resource_name(obj)}", **fields, opts=opts_)
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
