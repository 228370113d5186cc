"""The whole stack: ``deploy`` wires every domain's components from a plan (the project's ``__main__.py``
uses it), ``KubernetesNetworking`` is the same as one component."""

from typing import TYPE_CHECKING

from ..shared import lazy

if TYPE_CHECKING:
    from .component import KubernetesNetworking, KubernetesNetworkingArgs
    from .wiring import Deployment, deploy

__getattr__, __all__ = lazy.exports(__name__, {
    "Deployment": "wiring",
    "KubernetesNetworking": "component",
    "KubernetesNetworkingArgs": "component",
    "deploy": "wiring",
})
