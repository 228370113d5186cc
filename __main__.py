"""k8s-networking: config -> components -> exports. All logic lives in components/."""

import pulumi

from components import Network, NetworkArgs, PodRoutes, PodRoutesArgs, WorkerNode, WorkerNodes, WorkerNodesArgs
from components.config import load_stack_config
from components.zones import assign_zones, lookup_zones

# Everything is validated (config, then zones) before the first resource is registered.
cfg = load_stack_config()
zones = lookup_zones(cfg.availability_zones)
node_zones = assign_zones(cfg.nodes, zones)
blocks = cfg.pod_blocks

network = Network(
    "network",
    NetworkArgs(cluster_name=cfg.cluster_name, vpc_cidr=cfg.vpc_cidr, zones=zones, nat_gateways=cfg.nat_gateways),
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

pulumi.export("clusterName", cfg.cluster_name)
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
        }
        for n in cfg.nodes
    },
)
