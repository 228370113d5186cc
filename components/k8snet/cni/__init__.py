"""Pod networking: Calico (one IPPool per node) or Flannel (each node's podCIDR), and what either implies
for the network around it (``dataplane``: MTU per encapsulation, the ports nodes and control plane need),
plus the reference CNI plugins every node installs (``cni_plugins``)."""

from typing import TYPE_CHECKING

from ..shared import lazy

if TYPE_CHECKING:
    from .calico import Calico, CalicoArgs
    from .flannel import Flannel, FlannelArgs

__getattr__, __all__ = lazy.exports(__name__, {
    "Calico": "calico",
    "CalicoArgs": "calico",
    "Flannel": "flannel",
    "FlannelArgs": "flannel",
})
