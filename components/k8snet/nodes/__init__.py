"""Worker nodes: EC2 instances, their security group (node_ingress_rules in ``security``), the EKS AMI
(``ami``) and their join (``nodeadm`` user data)."""

from typing import TYPE_CHECKING

from ..shared import lazy

if TYPE_CHECKING:
    from .worker_nodes import WorkerNodeArgs, WorkerNodes, WorkerNodesArgs

__getattr__, __all__ = lazy.exports(__name__, {
    "WorkerNodeArgs": "worker_nodes",
    "WorkerNodes": "worker_nodes",
    "WorkerNodesArgs": "worker_nodes",
})
