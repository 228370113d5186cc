"""k8s-networking: config -> components -> exports. All logic lives in components/."""

import pulumi

from components import Network, NetworkArgs, PodRoutes, PodRoutesArgs, WorkerNode, WorkerNodes, WorkerNodesArgs
from components import ExampleApp, ExampleAppArgs, addon_versions, app_manifests, cni_plugins
from components.calico import Calico, CalicoArgs
from components.cluster import Cluster, ClusterArgs
from components.cluster_addons import ClusterAddons, ClusterAddonsArgs
from components.alb_ingress import AlbIngress, AlbIngressArgs
from components.config import load_stack_config
from components.errors import ConfigError
from components.ingress_settings import region_problem
from components.lb_controller import LoadBalancerController, LoadBalancerControllerArgs
from components.corefile import addon_configuration as coredns_configuration
from components.node_local_dns import NodeLocalDns, NodeLocalDnsArgs
from components.node_local_dns_manifests import kubelet_cluster_dns
from components.flannel import Flannel, FlannelArgs
from components.zones import assign_zones, lookup_zones

# Everything is validated (config, then zones) before the first resource is registered.
cfg = load_stack_config()
zones = lookup_zones(cfg.availability_zones)
node_zones = assign_zones(cfg.nodes, zones)
blocks = cfg.pod_blocks
region = pulumi.Config("aws").require("region")
if (problem := region_problem(cfg.ingress, region)) is not None:
    raise ConfigError(f"ingress.certificateArn: {problem}")

network = Network(
    "network",
    NetworkArgs(cluster_name=cfg.cluster_name, vpc_cidr=cfg.vpc_cidr, zones=zones, nat_gateways=cfg.nat_gateways),
)
cluster = Cluster(
    "cluster",
    ClusterArgs(
        cluster_name=cfg.cluster_name,
        kubernetes_version=cfg.kubernetes_version,
        vpc_id=network.vpc_id,
        subnet_ids=[network.private_subnet_ids[z] for z in zones],
        service_cidr=str(cfg.service_cidr),
        region=region,
        node_blocks=blocks,
        public_access_cidrs=cfg.api_public_access_cidrs,
        kube_proxy_mode=cfg.kube_proxy_mode,
        cluster_dns=kubelet_cluster_dns(cfg.node_local_dns, cfg.kube_proxy_mode),  # ipvs + node-local-dns only
        # flannel's CNI config chains to the reference plugins, which the AMI does not ship.
        # Installed whatever the CNI, so switching CNI never changes the instances' user data.
        node_boot_scripts=(cni_plugins.install_script(),),
    ),
)
workers = WorkerNodes(
    "workers",
    WorkerNodesArgs(
        cluster_name=cfg.cluster_name,
        kubernetes_version=cfg.kubernetes_version,
        vpc_id=network.vpc_id,
        pod_cidr=str(cfg.pod_cidr),
        nodes=[WorkerNode(n.name, node_zones[n.name], n.instance_type, str(blocks[n.name])) for n in cfg.nodes],
        subnet_ids=network.private_subnet_ids,
        user_data=cluster.user_data,
        iam_instance_profile=cluster.node_instance_profile,
        control_plane_security_group_id=cluster.security_group_id,
        vpc_cidr=str(cfg.vpc_cidr),
        cni=cfg.cni,
        encapsulation=cfg.encapsulation,
    ),
)
if cfg.pod_routes:
    PodRoutes(
        "pod-routes",
        PodRoutesArgs(
            node_pod_cidrs={name: str(block) for name, block in blocks.items()},
            node_eni_ids=workers.primary_eni_ids,
            route_table_ids=network.pod_route_table_ids,
        ),
    )

# The CNI installs without waiting for nodes to be Ready (they cannot be before it runs).
node_blocks = {name: str(block) for name, block in blocks.items()}
if cfg.cni == "calico":
    cni = Calico("calico", CalicoArgs(node_blocks=node_blocks, encapsulation=cfg.encapsulation,
                                      provider=cluster.provider))
else:
    cni = Flannel("flannel", FlannelArgs(node_blocks=node_blocks, pod_cidr=str(cfg.pod_cidr),
                                         encapsulation=cfg.encapsulation, network_policy=cfg.network_policy,
                                         provider=cluster.provider))

# CoreDNS and the EBS CSI driver become ACTIVE only on running nodes with pod networking.
addons = ClusterAddons(
    "addons",
    ClusterAddonsArgs(
        cluster_name=cluster.name,
        oidc_provider_arn=cluster.oidc_provider_arn,
        oidc_issuer=cluster.oidc_issuer,
        versions=addon_versions.for_kubernetes(cfg.kubernetes_version),
        coredns_configuration=coredns_configuration(cfg.coredns),  # our Corefile (docs/dns.md)
    ),
    opts=pulumi.ResourceOptions(depends_on=[workers, cni]),
)

# The AWS Load Balancer Controller gives the NLB Service and the ALB Ingress their load balancers.
# hostNetwork: Calico and Flannel pod IPs are not reachable from the EKS control plane, which must
# call the controller's webhooks. One replica per node at most (hostNetwork ports), two at most.
lb_controller = LoadBalancerController(
    "lb-controller",
    LoadBalancerControllerArgs(
        cluster_name=cluster.name,
        region=region,
        vpc_id=network.vpc_id,
        oidc_provider_arn=cluster.oidc_provider_arn,
        oidc_issuer=cluster.oidc_issuer,
        provider=cluster.provider,
        replicas=min(2, len(cfg.nodes)),
        host_network=True,
        depends_on=[addons],
    ),
)

# NodeLocal DNSCache in front of CoreDNS on every node (off by default; docs/dns.md). Its
# kube-dns-upstream Service waits for the controller, whose Service webhook fails closed.
node_local_dns = None
if cfg.node_local_dns:
    node_local_dns = NodeLocalDns("node-local-dns", NodeLocalDnsArgs(
        service_cidr=str(cfg.service_cidr), kube_proxy_mode=cfg.kube_proxy_mode,
        cache_seconds=cfg.coredns.cache_seconds, provider=cluster.provider,
        depends_on=[addons, lb_controller.release]))

# The documents' example app. Its volume needs the EBS CSI driver; its Services need the controller
# (whose webhook admits every new Service), which also gives the NLB its address.
app = ExampleApp(
    "app",
    ExampleAppArgs(
        namespace=cfg.app_namespace,
        vpc_cidr=str(cfg.vpc_cidr),
        node_port=cfg.app_node_port,
        external_names=cfg.external_names,
        network_policy=cfg.network_policy,
        retain_data=cfg.retain_data,
        kubernetes_version=cfg.kubernetes_version,
        await_load_balancer=True,
        dns_ips=node_local_dns.policy_ips if node_local_dns else (),  # its addresses, for the DNS policy
        provider=cluster.provider,
        depends_on=[addons, lb_controller.release],
    ),
)

# The documents' L7 path: client -> ALB -> every node's NodePort -> kube-proxy -> webapp pod.
if cfg.ingress.enabled:
    ingress = AlbIngress(
        "webapp",
        AlbIngressArgs(
            namespace=app.namespace,
            service_name=app_manifests.SERVICE_NAMES["NodePort"],
            service_port_name=app_manifests.WEB_PORT_NAME,
            settings=cfg.ingress,
            ingress_class=lb_controller.ingress_class,
            provider=cluster.provider,
            depends_on=[app, lb_controller.release],
        ),
    )

pulumi.export("clusterName", cluster.name)
pulumi.export("clusterEndpoint", cluster.endpoint)
pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("oidcProviderArn", cluster.oidc_provider_arn)
pulumi.export("availabilityZones", zones)
pulumi.export("vpcId", network.vpc_id)
pulumi.export("privateSubnetIds", network.private_subnet_ids)
pulumi.export("publicSubnetIds", network.public_subnet_ids)
pulumi.export("podRouteTableIds", network.pod_route_table_ids)
pulumi.export(
    "nodes",
    {
        n.name: {
            "zone": node_zones[n.name],
            "podCidr": str(blocks[n.name]),
            "instanceId": workers.instance_ids[n.name],
            "privateIp": workers.private_ips[n.name],
            "nodeName": workers.private_dns_names[n.name],
        }
        for n in cfg.nodes
    },
)
pulumi.export("appNamespace", app.namespace)
pulumi.export("appServices", app.services)
pulumi.export("appNodePort", app.node_port)
pulumi.export("appLoadBalancerHostname", app.load_balancer_hostname)
pulumi.export("lbControllerRoleArn", lb_controller.role_arn)
# The documents export the load balancer's address (frontend.status.loadBalancer.ingress[0]); on AWS
# that is a DNS name.
pulumi.export("albHostname", ingress.hostname if cfg.ingress.enabled else "")
pulumi.export("appUrl", ingress.url if cfg.ingress.enabled else "")
