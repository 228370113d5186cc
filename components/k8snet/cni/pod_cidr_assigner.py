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

Least privilege (issue 13): RBAC lets the assigner get and patch only this stack's Nodes (by name, once
known); a ValidatingAdmissionPolicy bound to its service account lets those patches change nothing but
``spec.podCIDR``/``podCIDRs``, and only to the block of the node the ``k8snet.io/node`` label names. The
token is projected into the patch step alone; both containers run as nobody on a read-only root with no
capability and the runtime's default seccomp profile.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from ipaddress import IPv4Network
from typing import Any

from ..shared import images
from ..shared.node_labels import NODE_NAME_LABEL
from .dataplane import node_label_selector

NAME = "podcidr-assigner"
# registry.k8s.io/kubectl: official image since Kubernetes 1.28 (kubernetes/kubernetes#116672),
# ENTRYPOINT /bin/kubectl (build/server-image/kubectl/Dockerfile). A node merge-patch is core v1.
# Tags and digests (and why kubectl is v1.34.0): k8snet/shared/images.py.
KUBECTL_IMAGE = images.KUBECTL
PAUSE_IMAGE = images.PAUSE
APP_LABEL = "app.kubernetes.io/name"


def daemonset_name(node: str) -> str:
    return f"podcidr-{node}"


def pod_cidr_patch(block: IPv4Network) -> str:
    """The merge patch kubectl sends: podCIDR and podCIDRs (kept consistent, IPv4 only)."""
    return json.dumps({"spec": {"podCIDR": str(block), "podCIDRs": [str(block)]}}, sort_keys=True)


def service_account_user(namespace: str) -> str:
    """The username the API server sees for the assigner's token (what the admission policy matches)."""
    return f"system:serviceaccount:{namespace}:{NAME}"


def rbac(namespace: str, node_names: list[Any] | None = None) -> dict[str, dict]:
    """ServiceAccount, ClusterRole (get/patch nodes) and its binding, by kind.

    ``node_names``: the Kubernetes names of this stack's nodes (EC2 private DNS names, known once the
    instances exist): the role then names them in ``resourceNames``. Which fields the patch may touch is
    the admission policy's job (RBAC cannot restrict fields)."""
    rule: dict[str, Any] = {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "patch"]}
    if node_names:
        rule["resourceNames"] = list(node_names)
    return {
        "ServiceAccount": {"apiVersion": "v1", "kind": "ServiceAccount",
                           "metadata": {"name": NAME, "namespace": namespace},
                           "automountServiceAccountToken": False},  # projected only into the patch step
        "ClusterRole": {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": f"k8snet:{NAME}"},
            "rules": [rule],
        },
        "ClusterRoleBinding": {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": f"k8snet:{NAME}"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": f"k8snet:{NAME}"},
            "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}],
        },
    }


def _unchanged(parent: str, field: str) -> str:
    """CEL: ``<parent>.<field>`` is the same before and after (both absent, or both present and equal)."""
    new, old = f"object.{parent}.{field}", f"oldObject.{parent}.{field}"
    return f"(has({new}) == has({old}) && (!has({new}) || {new} == {old}))"


# What the assigner's patch may not change. Node spec fields (core/v1 NodeSpec): podCIDR(s), providerID,
# unschedulable, taints, configSource, externalID; metadata a patch can reach: labels, annotations,
# ownerReferences, finalizers.
KEPT = (("metadata", "labels"), ("metadata", "annotations"), ("metadata", "ownerReferences"),
        ("metadata", "finalizers"), ("spec", "providerID"), ("spec", "unschedulable"), ("spec", "taints"),
        ("spec", "configSource"), ("spec", "externalID"))


def admission_policy(namespace: str, blocks: Mapping[str, IPv4Network]) -> dict:
    """A ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1, GA since Kubernetes 1.30) that lets the
    assigner's service account change a Node only by setting ``spec.podCIDR``/``podCIDRs`` to the block of
    the node its ``k8snet.io/node`` label names. Every other Node update by that account is denied."""
    table = ", ".join(f"'{node}': '{block}'" for node, block in sorted(blocks.items()))
    label = f"oldObject.metadata.labels['{NODE_NAME_LABEL}']"
    return {
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": f"k8snet-{NAME}"},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{"apiGroups": [""], "apiVersions": ["v1"],
                                                    "operations": ["UPDATE"], "resources": ["nodes"]}]},
            # Only the assigner's requests: kubelet, the node controller and people are not affected.
            "matchConditions": [{"name": "podcidr-assigner",
                                 "expression": f"request.userInfo.username == '{service_account_user(namespace)}'"}],
            "variables": [{"name": "blocks", "expression": "{" + table + "}"}],
            "validations": [
                {"expression": " && ".join(_unchanged(parent, field) for parent, field in KEPT),
                 "message": "the podCIDR assigner may change only spec.podCIDR and spec.podCIDRs",
                 "reason": "Forbidden"},
                {"expression": (f"has(oldObject.metadata.labels) && '{NODE_NAME_LABEL}' in oldObject.metadata.labels"
                                f" && {label} in variables.blocks && has(object.spec.podCIDR)"
                                f" && object.spec.podCIDR == variables.blocks[{label}]"
                                " && has(object.spec.podCIDRs) && object.spec.podCIDRs == [object.spec.podCIDR]"),
                 "message": f"spec.podCIDR must be the block of the node named by the {NODE_NAME_LABEL} label",
                 "reason": "Forbidden"},
            ],
        },
    }


def admission_binding() -> dict:
    """Binds the policy cluster-wide (its matchConditions already narrow it to the assigner)."""
    name = f"k8snet-{NAME}"
    return {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": name}, "spec": {"policyName": name, "validationActions": ["Deny"]}}


# The service-account token, CA and namespace kubectl's in-cluster config reads, projected into the patch
# step only (the pause container gets no credential). 600 s: the shortest expiry the API allows.
TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
_TOKEN_VOLUME = {"name": "kube-api-access", "projected": {"defaultMode": 0o444, "sources": [
    {"serviceAccountToken": {"path": "token", "expirationSeconds": 600}},
    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
    {"downwardAPI": {"items": [{"path": "namespace",
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}}
# Read-only root, no privilege, no capability; nobody (65534) as in the distroless images.
_CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "privileged": False, "readOnlyRootFilesystem": True,
                       "capabilities": {"drop": ["ALL"]}}


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
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                    # Runs on a NotReady, still-uninitialized node (that is the point).
                    "tolerations": [{"operator": "Exists", "effect": "NoSchedule"},
                                    {"operator": "Exists", "effect": "NoExecute"}],
                    "terminationGracePeriodSeconds": 5,
                    "initContainers": [{
                        "name": "assign",
                        "image": kubectl_image,
                        # $(NODE_NAME) is expanded by kubelet; no shell needed. The discovery cache goes to
                        # the writable emptyDir (the root filesystem is read-only).
                        "args": ["patch", "node", "$(NODE_NAME)", "--type=merge", "--cache-dir=/tmp/kube-cache",
                                 f"--patch={pod_cidr_patch(block)}"],
                        "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                        "resources": {"requests": {"cpu": "10m", "memory": "32Mi"},
                                      "limits": {"cpu": "200m", "memory": "128Mi"}},
                        "securityContext": _CONTAINER_SECURITY,
                        "volumeMounts": [{"name": "kube-api-access", "mountPath": TOKEN_DIR, "readOnly": True},
                                         {"name": "tmp", "mountPath": "/tmp"}],
                    }],
                    "containers": [{
                        "name": "pause",
                        "image": PAUSE_IMAGE,
                        "resources": {"requests": {"cpu": "1m", "memory": "8Mi"},
                                      "limits": {"cpu": "10m", "memory": "16Mi"}},
                        "securityContext": _CONTAINER_SECURITY,
                    }],
                    "volumes": [_TOKEN_VOLUME, {"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}],
                },
            },
        },
    }
