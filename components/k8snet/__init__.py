"""k8snet: reusable Pulumi components for the Kubernetes network the classic tutorials describe, on AWS.

One folder per concept; imports run one way (stack -> config -> domains -> shared):

- ``config``: the stack's settings parsed and validated, zones, the plan (nothing registered);
- ``network``, ``nodes``, ``cluster``, ``cni``, ``dns``, ``app``, ``ingress``: the domains, each with its
  components and their pure helpers;
- ``shared``: tags, IAM documents and roles, the node-name label, manifests as resources, child options;
- ``stack``: everything wired from a plan, and the all-in-one ``KubernetesNetworking`` component.

The components are served to other languages by the plugin in this folder's parent (``__main__.py``).
"""

from typing import TYPE_CHECKING

from .shared import lazy

if TYPE_CHECKING:
    from .app import ExampleApp, ExampleAppArgs
    from .cluster import Cluster, ClusterAddons, ClusterAddonsArgs, ClusterArgs
    from .cni import Calico, CalicoArgs, Flannel, FlannelArgs
    from .config import ConfigError, Plan, StackConfig, load_plan, parse_config
    from .dns import NodeLocalDns, NodeLocalDnsArgs
    from .ingress import (AlbAccessLogs, AlbAccessLogsArgs, AlbIngress, AlbIngressArgs, LoadBalancerController,
                          LoadBalancerControllerArgs)
    from .network import Network, NetworkArgs, PodRoutes, PodRoutesArgs, VpcFlowLogs, VpcFlowLogsArgs
    from .nodes import WorkerNodeArgs, WorkerNodes, WorkerNodesArgs
    from .stack import KubernetesNetworking, KubernetesNetworkingArgs, deploy

COMPONENTS = {
    # name -> the concept (subpackage) that defines it; the plugin serves every component listed here.
    "Network": "network", "PodRoutes": "network", "WorkerNodes": "nodes", "Cluster": "cluster",
    "ClusterAddons": "cluster", "Calico": "cni", "Flannel": "cni", "NodeLocalDns": "dns", "ExampleApp": "app",
    "LoadBalancerController": "ingress", "AlbIngress": "ingress", "KubernetesNetworking": "stack",
    "VpcFlowLogs": "network", "AlbAccessLogs": "ingress",
}
__getattr__, __all__ = lazy.exports(__name__, {
    **COMPONENTS,
    **{f"{name}Args": concept for name, concept in COMPONENTS.items()},
    "WorkerNodeArgs": "nodes",
    "ConfigError": "config", "Plan": "config", "StackConfig": "config", "load_plan": "config", "parse_config": "config",
    "deploy": "stack",
})
__all__ = [*__all__, "COMPONENTS"]
