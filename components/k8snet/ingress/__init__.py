"""Ingress: the AWS Load Balancer Controller (IRSA role, its published IAM policy in ``policies/``, Helm
release, IngressClass), an ALB Ingress in front of a NodePort Service and the S3 bucket its access logs go
to; ``settings`` validates the stack's ``ingress`` setting."""

from typing import TYPE_CHECKING

from ..shared import lazy

if TYPE_CHECKING:
    from .access_logs import AlbAccessLogs, AlbAccessLogsArgs
    from .alb_ingress import AlbIngress, AlbIngressArgs
    from .lb_controller import LoadBalancerController, LoadBalancerControllerArgs

__getattr__, __all__ = lazy.exports(__name__, {
    "AlbAccessLogs": "access_logs",
    "AlbAccessLogsArgs": "access_logs",
    "AlbIngress": "alb_ingress",
    "AlbIngressArgs": "alb_ingress",
    "LoadBalancerController": "lb_controller",
    "LoadBalancerControllerArgs": "lb_controller",
})
