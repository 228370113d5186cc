"""The whole stack from a plan: the story the documents tell, in the order it has to happen.

network -> control plane -> worker nodes (and their pod routes) -> CNI -> the add-ons that need running
nodes -> the load balancer controller -> NodeLocal DNSCache -> the example app -> its ALB Ingress.

``deploy`` registers it all. The project's ``__main__.py`` calls it at the stack's root (resource names
``network``, ``cluster``, ...: the URNs users' state holds); the ``KubernetesNetworking`` component calls
it with its own name as prefix and itself as parent.
"""

from dataclasses import dataclass
from typing import Any, Optional

import pulumi

from ..app import ExampleApp
from ..app.manifests import WEB_CONTAINER_PORT, WEB_PORT_NAME
from ..cluster import Cluster, ClusterAddons
from ..cni import Calico, Flannel, cni_plugins
from ..cni.dataplane import forwarded_source_cidrs
from ..config import Plan
from ..dns import NodeLocalDns
from ..dns.corefile import coredns_corefile
from ..dns.node_local_dns_manifests import kubelet_cluster_dns
from ..ingress import AlbIngress, LoadBalancerController
from ..ingress.access_logs import AlbAccessLogs
from ..network import Network, PodRoutes
from ..network.flow_logs import VpcFlowLogs
from ..nodes import WorkerNodes


@dataclass
class Deployment:
    """The components ``deploy`` registered (``node_local_dns``/``ingress`` are None when off)."""

    plan: Plan
    network: Network
    cluster: Cluster
    workers: WorkerNodes
    cni: pulumi.ComponentResource
    addons: ClusterAddons
    lb_controller: LoadBalancerController
    node_local_dns: Optional[NodeLocalDns]
    app: ExampleApp
    ingress: Optional[AlbIngress]

    def outputs(self) -> dict[str, Any]:
        """What the stack exports (and the all-in-one component outputs), keyed by export name."""
        cfg, blocks = self.plan.config, self.plan.node_blocks
        return {
            "region": self.plan.region,
            "clusterName": self.cluster.name,
            "clusterEndpoint": self.cluster.endpoint,
            "clusterCertificateAuthority": self.cluster.certificate_authority,
            "kubeconfig": self.cluster.kubeconfig,
            "oidcProviderArn": self.cluster.oidc_provider_arn,
            "oidcIssuer": self.cluster.oidc_issuer,
            "clusterSecurityGroupId": self.cluster.cluster_security_group_id,
            "controlPlaneSecurityGroupId": self.cluster.security_group_id,
            "nodeRoleArn": self.cluster.node_role_arn,
            "nodeSecurityGroupId": self.workers.security_group_id,
            "availabilityZones": list(self.plan.zones),
            "vpcId": self.network.vpc_id,
            "privateSubnetIds": self.network.private_subnet_ids,
            "publicSubnetIds": self.network.public_subnet_ids,
            "podRouteTableIds": self.network.pod_route_table_ids,
            "nodes": {
                n.name: {
                    "zone": self.plan.node_zones[n.name],
                    "podCidr": blocks[n.name],
                    "instanceId": self.workers.instance_ids[n.name],
                    "privateIp": self.workers.private_ips[n.name],
                    "nodeName": self.workers.private_dns_names[n.name],
                }
                for n in cfg.nodes
            },
            "appNamespace": self.app.namespace,
            "appServices": self.app.services,
            "appNodePort": self.app.node_port,
            "appLoadBalancerHostname": self.app.load_balancer_hostname,
            "lbControllerRoleArn": self.lb_controller.role_arn,
            # The documents export the load balancer's address (frontend.status.loadBalancer.ingress[0]);
            # on AWS that is a DNS name.
            "albHostname": self.ingress.hostname if self.ingress else "",
            "appUrl": self.ingress.url if self.ingress else "",
        }


def _load_balancer_args(lb) -> dict:
    """LoadBalancerSettings as ExampleApp's ``load_balancer`` args."""
    return {"public": lb.public, "source_ranges": list(lb.source_ranges), "allow_http": lb.allow_http,
            **({"certificate_arn": lb.certificate_arn} if lb.certificate_arn else {})}


def deploy(plan: Plan, prefix: str = "", parent: Optional[pulumi.Resource] = None) -> Deployment:
    """Register the stack described by ``plan``; every component is named ``<prefix><name>``."""
    cfg, blocks = plan.config, plan.node_blocks
    for warning in plan.warnings:  # accepted, weaker choices: every preview says so (docs/security.md)
        pulumi.log.warn(warning)

    def opts(*after: pulumi.Resource, provider: Optional[pulumi.ProviderResource] = None) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=list(after) or None)

    network = Network(f"{prefix}network", {
        "cluster_name": cfg.cluster_name, "vpc_cidr": str(cfg.vpc_cidr), "zones": list(plan.zones),
        "nat_gateways": cfg.nat_gateways,
    }, opts())
    if cfg.vpc_flow_logs:
        VpcFlowLogs(f"{prefix}flow-logs", {
            "vpc_id": network.vpc_id, "log_group_name": f"/k8snet/{cfg.cluster_name}/vpc-flow-logs",
            "region": plan.region, "retention_days": cfg.log_retention_days,
        }, opts())
    identity = cfg.kubeconfig_identity
    cluster = Cluster(f"{prefix}cluster", {
        "cluster_name": cfg.cluster_name, "kubernetes_version": cfg.kubernetes_version,
        "vpc_id": network.vpc_id, "subnet_ids": [network.private_subnet_ids[z] for z in plan.zones],
        "service_cidr": str(cfg.service_cidr), "region": plan.region,
        "public_access_cidrs": list(cfg.api_public_access_cidrs), "kube_proxy_mode": cfg.kube_proxy_mode,
        "log_retention_days": cfg.log_retention_days, "deletion_protection": cfg.deletion_protection,
        "admin_principal_arns": list(cfg.admin_principal_arns),
        **({"kubeconfig_profile": identity.profile} if identity.profile else {}),
        **({"kubeconfig_role_arn": identity.role_arn} if identity.role_arn else {}),
    }, opts())
    k8s = cluster.provider
    workers = WorkerNodes(f"{prefix}workers", {
        "cluster_name": cfg.cluster_name, "kubernetes_version": cfg.kubernetes_version,
        "cluster_endpoint": cluster.endpoint, "certificate_authority": cluster.certificate_authority,
        "service_cidr": str(cfg.service_cidr),
        "vpc_id": network.vpc_id, "vpc_cidr": str(cfg.vpc_cidr), "pod_cidr": str(cfg.pod_cidr),
        "nodes": {n.name: {"zone": plan.node_zones[n.name], "instance_type": n.instance_type,
                           "pod_cidr": blocks[n.name]} for n in cfg.nodes},
        "subnet_ids": network.private_subnet_ids,
        "iam_instance_profile": cluster.node_instance_profile,
        "control_plane_security_group_id": cluster.security_group_id,
        "cni": cfg.cni, "encapsulation": cfg.encapsulation,
        # kube-proxy forwards the webapp's NodePort/NLB/ALB traffic across nodes (docs/data-path.md).
        "forwarded_ports": [WEB_CONTAINER_PORT],
        "cluster_dns": list(kubelet_cluster_dns(cfg.node_local_dns, cfg.kube_proxy_mode)),  # ipvs + node-local-dns
        # flannel's CNI config chains to the reference plugins, which the AMI does not ship. Installed
        # whatever the CNI, so switching CNI never changes the instances' user data.
        "boot_scripts": [cni_plugins.install_script()],
    }, opts())
    if cfg.pod_routes:
        PodRoutes(f"{prefix}pod-routes", {
            "node_pod_cidrs": blocks, "node_eni_ids": workers.primary_eni_ids,
            "route_table_ids": network.pod_route_table_ids,
        }, opts())

    # The CNI waits for the worker instances to exist, not to be Ready (they cannot be before it runs).
    # On destroy that keeps the nodes until its release is gone: the tigera-operator chart's pre-delete
    # hook is a Job that needs a node (offline/checks/destroy.py).
    if cfg.cni == "calico":
        # Pods may not connect to the nodes' own addresses (host protection, docs/data-path.md).
        cni = Calico(f"{prefix}calico", {"node_blocks": blocks, "encapsulation": cfg.encapsulation,
                                         "node_ips": workers.private_ips}, opts(workers, provider=k8s))
    else:
        cni = Flannel(f"{prefix}flannel", {"node_blocks": blocks, "pod_cidr": str(cfg.pod_cidr),
                                           "encapsulation": cfg.encapsulation, "network_policy": cfg.network_policy,
                                           "node_names": workers.private_dns_names},
                      opts(workers, provider=k8s))

    # CoreDNS and the EBS CSI driver become ACTIVE only on running nodes with pod networking.
    addons = ClusterAddons(f"{prefix}addons", {
        "cluster_name": cluster.name, "kubernetes_version": cfg.kubernetes_version,
        "oidc_provider_arn": cluster.oidc_provider_arn, "oidc_issuer": cluster.oidc_issuer,
        "corefile": coredns_corefile(cfg.coredns),  # our Corefile (docs/dns.md)
    }, opts(workers, cni))

    # The AWS Load Balancer Controller gives the NLB Service and the ALB Ingress their load balancers.
    # hostNetwork: Calico and Flannel pod IPs are not reachable from the EKS control plane, which must
    # call the controller's webhooks. One replica per node at most (hostNetwork ports), two at most.
    # It waits for the whole network too: on destroy it must still reach the ELB and EC2 APIs (through
    # the NAT gateways) to delete the load balancers of the Services and Ingresses it finalizes.
    lb_controller = LoadBalancerController(f"{prefix}lb-controller", {
        "cluster_name": cluster.name, "region": plan.region, "vpc_id": network.vpc_id,
        "oidc_provider_arn": cluster.oidc_provider_arn, "oidc_issuer": cluster.oidc_issuer,
        "replicas": min(2, len(cfg.nodes)), "host_network": True,
    }, opts(addons, network, provider=k8s))

    # NodeLocal DNSCache in front of CoreDNS on every node (off by default; docs/dns.md).
    node_local_dns = None
    if cfg.node_local_dns:
        node_local_dns = NodeLocalDns(f"{prefix}node-local-dns", {
            "service_cidr": str(cfg.service_cidr), "kube_proxy_mode": cfg.kube_proxy_mode,
            "cache_seconds": cfg.coredns.cache_seconds,
        }, opts(addons, provider=k8s))

    # The documents' example app. Its volume needs the EBS CSI driver; its NLB Service needs the controller,
    # which gives it its address (and, on destroy, must outlive it to delete the NLB: its finalizer).
    app = ExampleApp(f"{prefix}app", {
        "namespace": cfg.app_namespace, "vpc_cidr": str(cfg.vpc_cidr), "node_port": cfg.app_node_port,
        "external_names": dict(cfg.external_names), "network_policy": cfg.network_policy,
        "retain_data": cfg.retain_data, "kubernetes_version": cfg.kubernetes_version, "await_load_balancer": True,
        "dns_ips": node_local_dns.policy_ips if node_local_dns else [],  # its addresses, for the DNS policy
        "forwarded_from": list(forwarded_source_cidrs(cfg.encapsulation, str(cfg.pod_cidr))),
        "load_balancer": _load_balancer_args(cfg.app_load_balancer),
    }, opts(addons, lb_controller.release, provider=k8s))

    # The documents' L7 path: client -> ALB -> every node's NodePort -> kube-proxy -> webapp pod.
    ingress = None
    if cfg.ingress.enabled:
        settings = cfg.ingress
        logs = None
        if settings.access_logs:
            logs = AlbAccessLogs(f"{prefix}alb-logs", {"bucket_prefix": cfg.cluster_name,
                                                       "retention_days": cfg.log_retention_days}, opts())
        ingress = AlbIngress(f"{prefix}webapp", {
            "namespace": app.namespace, "service_name": app.services["NodePort"], "service_port_name": WEB_PORT_NAME,
            **({"host": settings.host} if settings.host else {}), "paths": list(settings.paths),
            **({"certificate_arn": settings.certificate_arn} if settings.certificate_arn else {}),
            "health_check_path": settings.health_check_path, "ingress_class": lb_controller.ingress_class,
            "allow_http": settings.allow_http,
            **({"access_logs_bucket": logs.bucket, "access_logs_prefix": "alb"} if logs else {}),
            **({"waf_acl_arn": settings.waf_acl_arn} if settings.waf_acl_arn else {}),
        }, opts(app, lb_controller.release, provider=k8s))

    return Deployment(plan, network, cluster, workers, cni, addons, lb_controller, node_local_dns, app, ingress)
