"""The network: VPC, subnets per zone, NAT egress, route tables, and the per-node pod routes.

Pure planning lives beside the components: ``addressing`` (pod blocks, subnets, zones, the kube-dns
address) and ``routing`` (which tables carry pod routes and why, route counts and quotas).
"""

from typing import TYPE_CHECKING

from ..shared import lazy

if TYPE_CHECKING:
    from .network import Network, NetworkArgs
    from .flow_logs import VpcFlowLogs, VpcFlowLogsArgs
    from .pod_routes import PodRoutes, PodRoutesArgs

__getattr__, __all__ = lazy.exports(__name__, {
    "Network": "network",
    "NetworkArgs": "network",
    "PodRoutes": "pod_routes",
    "PodRoutesArgs": "pod_routes",
    "VpcFlowLogs": "flow_logs",
    "VpcFlowLogsArgs": "flow_logs",
})
