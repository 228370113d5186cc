"""Kubernetes objects an EKS add-on installs that the stack's own objects refer to (the simulated API server
installs them when the add-on is created; the policy pack adds them to a plan's objects)."""

from __future__ import annotations

import ipaddress


def addon_objects(inputs: dict, service_cidr: str, region: str | None = None) -> list[dict]:
    """The CoreDNS add-on: the ``kube-dns`` Service on the service CIDR's 10th address (where nodeadm points
    kubelet) and the ``coredns`` Deployment whose pods carry ``k8s-app: kube-dns`` (the EKS user guide's image
    path is ``<account>.dkr.ecr.<region>.amazonaws.com/eks/coredns:<add-on version>``). Only what selectors,
    ports and addresses need is modelled."""
    if inputs.get("addonName") != "coredns":
        return []
    svc = ipaddress.ip_network(service_cidr)
    labels = {"k8s-app": "kube-dns", "eks.amazonaws.com/component": "coredns"}
    meta = {"namespace": "kube-system", "labels": labels}
    ports = [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")]
    image = f"602401143452.dkr.ecr.{region or '<region>'}.amazonaws.com/eks/coredns:{inputs.get('addonVersion')}"
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {**meta, "name": "kube-dns"},
               "spec": {"clusterIP": str(svc.network_address + 10), "selector": {"k8s-app": "kube-dns"},
                        "ports": [{"name": n, "port": p, "protocol": proto, "targetPort": p} for n, p, proto in ports]}}
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {**meta, "name": "coredns"},
                  "spec": {"replicas": 2, "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
                           "template": {"metadata": {"labels": labels}, "spec": {
                               "serviceAccountName": "coredns", "priorityClassName": "system-cluster-critical",
                               "containers": [{"name": "coredns", "image": image,
                                               "args": ["-conf", "/etc/coredns/Corefile"],
                                               "ports": [{"name": n, "containerPort": p, "protocol": proto}
                                                         for n, p, proto in ports]}]}}}}
    return [service, deployment]
