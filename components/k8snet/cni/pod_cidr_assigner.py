"""Sets each node's ``spec.podCIDR`` once, from inside the cluster, after the node registers.

Why not a Pulumi ``NodePatch``: on a first ``pulumi up`` the Node object does not exist until
kubelet registers, minutes after the instance boots. A Patch resource is a server-side apply,
and apply creates a missing object (pulumi-kubernetes provider/pkg/await/await.go sends an
ApplyPatch for Patch resources; pulumi/pulumi-kubernetes#2194: a NamespacePatch for a missing
namespace creates it). The patch would either create a bare Node before kubelet (which then
finds it "previously registered" and skips its registration labels, taints and providerID) or
land after it: a race. A replaced instance also registers a new Node that a finished patch never
revisits.

Here each node gets a one-pod DaemonSet (``podcidr-<node>``) selecting it by the
``k8snet.io/node`` label kubelet sets at registration. The pod only exists once the node does;
its init container patches ``spec.podCIDR``/``podCIDRs`` to the node's block; a pause container
keeps the pod alive so the DaemonSet does not restart it. The API allows podCIDR to go from ""
to a value once: re-running (a reboot) writes the same value and is a no-op, a different value is
refused and the pod shows the error. hostNetwork: it must run before the CNI exists.
"""

from __future__ import annotations

import json
from ipaddress import IPv4Network

from .dataplane import node_label_selector

NAME = "podcidr-assigner"
# registry.k8s.io/kubectl: official image since Kubernetes 1.28 (kubernetes/kubernetes#116672),
# ENTRYPOINT /bin/kubectl (build/server-image/kubectl/Dockerfile). A node merge-patch is core v1.
KUBECTL_IMAGE = "registry.k8s.io/kubectl:v1.35.3"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10.1"
APP_LABEL = "app.kubernetes.io/name"


def daemonset_name(node: str) -> str:
    return f"podcidr-{node}"


def pod_cidr_patch(block: IPv4Network) -> str:
    """The merge patch kubectl sends: podCIDR and podCIDRs (kept consistent, IPv4 only)."""
    return json.dumps({"spec": {"podCIDR": str(block), "podCIDRs": [str(block)]}}, sort_keys=True)


def rbac(namespace: str) -> dict[str, dict]:
    """ServiceAccount, ClusterRole (get/patch nodes) and its binding, by kind."""
    return {
        "ServiceAccount": {"apiVersion": "v1", "kind": "ServiceAccount",
                           "metadata": {"name": NAME, "namespace": namespace}},
        "ClusterRole": {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": f"k8snet:{NAME}"},
            # Node names (EC2 private DNS names) are not known in advance: no resourceNames.
            "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "patch"]}],
        },
        "ClusterRoleBinding": {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": f"k8snet:{NAME}"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": f"k8snet:{NAME}"},
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}],
        },
    }


def daemonset(node: str, block: IPv4Network, namespace: str, kubectl_image: str = KUBECTL_IMAGE) -> dict:
    """The DaemonSet that assigns ``block`` to the node named ``node``."""
    labels = {APP_LABEL: NAME, "k8snet.io/node": node}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {
            "name": daemonset_name(node),
            "namespace": namespace,
            "labels": labels,
            # Its pod cannot run before the node registers; a first `up` must not wait for that.
            "annotations": {"pulumi.com/skipAwait": "true"},
        },
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "nodeSelector": node_label_selector(node),
                    "hostNetwork": True,
                    "priorityClassName": "system-node-critical",
                    "serviceAccountName": NAME,
                    # Runs on a NotReady, still-uninitialized node (that is the point).
                    "tolerations": [{"operator": "Exists", "effect": "NoSchedule"},
                                    {"operator": "Exists", "effect": "NoExecute"}],
                    "terminationGracePeriodSeconds": 5,
                    "initContainers": [{
                        "name": "assign",
                        "image": kubectl_image,
                        # $(NODE_NAME) is expanded by kubelet; no shell needed.
                        "args": ["patch", "node", "$(NODE_NAME)", "--type=merge", f"--patch={pod_cidr_patch(block)}"],
                        "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}},
                        "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                                            "runAsUser": 65534, "capabilities": {"drop": ["ALL"]}},
                    }],
                    "containers": [{
                        "name": "pause",
                        "image": PAUSE_IMAGE,
                        "resources": {"requests": {"cpu": "1m", "memory": "8Mi"}},
                        "securityContext": {"allowPrivilegeEscalation": False, "runAsNonRoot": True,
                                            "runAsUser": 65534, "capabilities": {"drop": ["ALL"]}},
                    }],
                },
            },
        },
    }
