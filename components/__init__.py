"""Reusable Pulumi components for a Kubernetes network on AWS whose pod routes live in the VPC."""

from .config import StackConfig, load_stack_config, parse_config
from .errors import ConfigError
from .example_app import ExampleApp, ExampleAppArgs
from .network import Network, NetworkArgs
from .pod_routes import PodRoutes, PodRoutesArgs
from .worker_nodes import WorkerNode, WorkerNodes, WorkerNodesArgs

__all__ = [
    "ConfigError",
    "ExampleApp",
    "ExampleAppArgs",
    "Network",
    "NetworkArgs",
    "PodRoutes",
    "PodRoutesArgs",
    "StackConfig",
    "WorkerNode",
    "WorkerNodes",
    "WorkerNodesArgs",
    "load_stack_config",
    "parse_config",
]
