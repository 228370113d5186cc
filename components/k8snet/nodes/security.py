"""Which ports the worker nodes' security group opens, and to whom. Pure.

Nothing is open to 0.0.0.0/0: sources are the control plane's security group, the nodes' own
group, the pod CIDR (routed pod traffic only), or the VPC CIDR (NodePorts behind load balancers).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..cni import dataplane as cni

# Webhook servers that run with hostNetwork because the control plane may not reach pod IPs
# (docs/control-plane-to-pods.md): 443 is the conventional webhook port, 9443 the AWS Load
# Balancer Controller's (chart value webhookBindPort).
WEBHOOK_PORTS = (443, 9443)
NODE_PORTS = (30000, 32767)  # kube-apiserver --service-node-port-range default


@dataclass(frozen=True)
class IngressRule:
    key: str  # stable: the rule's resource is named after it
    source: str  # "control-plane" | "nodes" | "pod-cidr" | "vpc-cidr"
    protocol: str  # "tcp" | "udp" | "-1" (all) | an IP protocol number
    from_port: int | None
    to_port: int | None
    description: str


def node_ingress_rules(cni_name: str, encapsulation: str, forwarded_ports=()) -> tuple[IngressRule, ...]:
    """Ingress to the nodes for a CNI and encapsulation (EKS user guide, "Security group
    requirements": the control plane needs 10250 and any webhook ports on the nodes).

    ``forwarded_ports``: the pod ports (TCP) kube-proxy forwards NodePort / load-balancer traffic to
    (Services with externalTrafficPolicy Cluster). Unencapsulated, the node that received it sends it on
    from its own address to the pod on another node, so the nodes admit these ports from each other (and
    only these: a security group cannot tell a pod's address from its node's, so the same rule opens the
    port on the nodes themselves; docs/data-path.md). With an overlay the traffic travels in the tunnel."""
    rules = [
        IngressRule("cp-kubelet", "control-plane", "tcp", 10250, 10250, "control plane to kubelet (logs, exec)"),
        *(IngressRule(f"cp-webhook-{p}", "control-plane", "tcp", p, p, f"control plane to hostNetwork webhook :{p}")
          for p in WEBHOOK_PORTS),
        *(IngressRule(f"cp-{r.key}", "control-plane", r.protocol, r.from_port, r.to_port, r.description)
          for r in cni.control_plane_ports(cni_name)),
        IngressRule("nodes-kubelet", "nodes", "tcp", 10250, 10250, "node to kubelet (metrics)"),
        # hostNetwork pods (e.g. the load balancer controller) resolve names through CoreDNS pods.
        IngressRule("nodes-dns-udp", "nodes", "udp", 53, 53, "hostNetwork pods to CoreDNS"),
        IngressRule("nodes-dns-tcp", "nodes", "tcp", 53, 53, "hostNetwork pods to CoreDNS"),
        *(IngressRule(f"cni-{r.key}", "nodes", r.protocol, r.from_port, r.to_port, r.description)
          for r in cni.dataplane_ports(cni_name, encapsulation)),
        IngressRule("vpc-nodeports", "vpc-cidr", "tcp", *NODE_PORTS, "NodePort Services (load balancer targets)"),
    ]
    if encapsulation == "none":
        # Unencapsulated pod-to-pod packets keep their pod source address. With an overlay they
        # arrive inside the CNI's tunnel (allowed above); pod traffic to anything outside the pod
        # CIDR is SNATed to the node (natOutgoing / ipMasq).
        rules.append(IngressRule("cni-pods", "pod-cidr", "-1", None, None, "pod to pod across nodes (VPC-routed)"))
        rules += [IngressRule(f"cni-forwarded-{p}", "nodes", "tcp", p, p,
                              f"node to pod port {p} on other nodes (kube-proxy forwarding, SNAT to the node)")
                  for p in sorted(set(forwarded_ports))]
    return tuple(rules)


def control_plane_ingress_rules() -> tuple[IngressRule, ...]:
    """Ingress to the control plane's security group from the nodes: the API server only."""
    return (IngressRule("nodes-api", "nodes", "tcp", 443, 443, "kubelets and pods to Kubernetes API"),)
