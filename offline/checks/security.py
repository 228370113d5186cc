"""Cross-object security checks of a finished run (issue 13): what AWS and the API server accept but that
leaves the stack less safe than its settings say, or would fail once it runs.

- Every container image the program sets is pinned by digest (``images``).
- A container with a read-only root writes only where a writable volume is mounted: the files the images
  are known to write (``WRITES``) must lie under an emptyDir/hostPath/volume-claim mount that is not
  readOnly (node-cache renders its Corefile to its ``-conf`` path; kubectl keeps a discovery cache).
- The flannel podCIDR assigner: the admission policies in force allow exactly its own patch (the node's
  block, for its service account) and deny the same account changing anything else or setting another
  node's block; its RBAC names exactly the stack's nodes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from ..kube import admission
from ..scan import kubernetes_objects
from .images import pod_specs, unpinned_images

# image repository (without registry) -> the paths a container of it writes, from its args
_WRITABLE_SOURCES = ("emptyDir", "hostPath", "persistentVolumeClaim", "ephemeral")


def _flag(args: list[str], name: str, default: str) -> str:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return default


WRITES = {
    # cmd/node-cache/main.go: -conf (CoreDNS's flag) overrides -corefile, default /etc/Corefile.
    "dns/k8s-dns-node-cache": lambda c: [_flag(c.get("args") or [], "-conf", "/etc/Corefile")],
    # kubectl's discovery cache: --cache-dir, default $HOME/.kube/cache (HOME is / for nobody here).
    "kubectl": lambda c: [_flag(c.get("args") or [], "--cache-dir", "/.kube/cache")],
}


def _repository(image: str) -> str:
    name = image.split("@", 1)[0].rsplit(":", 1)[0]
    return name.split("/", 1)[1] if "/" in name else name


def writable_path_problems(objects: Iterable[dict]) -> list[str]:
    problems = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        for spec in pod_specs(obj):
            volumes = {v["name"]: v for v in spec.get("volumes") or []}
            for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
                if not (c.get("securityContext") or {}).get("readOnlyRootFilesystem"):
                    continue
                writes = WRITES.get(_repository(c.get("image") or ""))
                for path in writes(c) if writes else []:
                    mounts = [m for m in c.get("volumeMounts") or []
                              if path == m["mountPath"] or path.startswith(m["mountPath"].rstrip("/") + "/")]
                    mount = max(mounts, key=lambda m: len(m["mountPath"]), default=None)
                    volume = volumes.get(mount["name"], {}) if mount else {}
                    if not mount or mount.get("readOnly") or not any(k in volume for k in _WRITABLE_SOURCES):
                        problems.append(f"{obj['kind']} {meta.get('namespace')}/{meta.get('name')} container "
                                        f"{c['name']}: writes {path} but its root filesystem is read-only and no "
                                        "writable volume is mounted there")
    return problems


ASSIGNER_LABEL = ("app.kubernetes.io/name", "podcidr-assigner")


def _assigners(objects: list[dict]) -> Iterable[tuple[dict, dict, str, dict]]:
    """(DaemonSet, its pod spec, its node's config name, its merge patch) of each podCIDR assigner."""
    for obj in objects:
        labels = (obj.get("metadata") or {}).get("labels") or {}
        if obj.get("kind") != "DaemonSet" or labels.get(ASSIGNER_LABEL[0]) != ASSIGNER_LABEL[1]:
            continue
        pod = obj["spec"]["template"]["spec"]
        args = next(c["args"] for c in pod.get("initContainers") or [] if (c.get("args") or [])[:2] == ["patch", "node"])
        yield obj, pod, labels.get("k8snet.io/node", ""), json.loads(_flag(args, "--patch", "{}"))


def assigner_problems(objects: list[dict], node_names: dict[str, str]) -> list[str]:
    """``node_names``: node config name -> its Kubernetes name (the instances' private DNS names)."""
    bindings = {o["spec"]["policyName"]: o["spec"].get("validationActions") or []
                for o in objects if o.get("kind") == "ValidatingAdmissionPolicyBinding"}
    policies = [(o, bindings[o["metadata"]["name"]]) for o in objects
                if o.get("kind") == "ValidatingAdmissionPolicy" and o["metadata"]["name"] in bindings]
    problems = []
    for ds, pod, node, patch in _assigners(objects):
        user = f"system:serviceaccount:{ds['metadata']['namespace']}:{pod.get('serviceAccountName', 'default')}"
        old = {"apiVersion": "v1", "kind": "Node",
               "metadata": {"name": node_names.get(node, f"{node}.internal"),
                            "labels": {"k8snet.io/node": node, "kubernetes.io/os": "linux"}},
               "spec": {"providerID": "aws:///us-east-1a/i-0", "taints": [
                   {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}]}}

        def verdict(new: dict) -> list[str] | None:
            results = [admission.denials(p, actions, admission.Request(user, "UPDATE", "", "v1", "nodes", old, new))
                       for p, actions in policies]
            applied = [r for r in results if r is not None]
            return None if not applied else [m for r in applied for m in r]

        where = f"DaemonSet {ds['metadata']['namespace']}/{ds['metadata']['name']}"
        own = admission.merge_patch(old, patch)
        denied = verdict(own)
        if denied is None:
            problems.append(f"{where}: no ValidatingAdmissionPolicy in force restricts what {user} may change on a Node")
            continue
        if denied:
            problems.append(f"{where}: the admission policy denies the assigner's own patch: {'; '.join(denied)}")
        for what, change in (("a label", {"metadata": {"labels": {"k8snet.io/node": "other"}}}),
                             ("the taints", {"spec": {"taints": None}}),
                             ("another node's block", {"spec": {"podCIDR": "203.0.113.0/24",
                                                                "podCIDRs": ["203.0.113.0/24"]}})):
            if not verdict(admission.merge_patch(own, change)):
                problems.append(f"{where}: the admission policy lets {user} change {what} of a Node")

    roles = {o["metadata"]["name"]: o for o in objects if o.get("kind") == "ClusterRole"}
    users = {f"system:serviceaccount:{ds['metadata']['namespace']}:{pod.get('serviceAccountName')}"
             for ds, pod, _, _ in _assigners(objects)}
    for binding in (o for o in objects if o.get("kind") == "ClusterRoleBinding"):
        subjects = {f"system:serviceaccount:{s.get('namespace')}:{s['name']}" for s in binding.get("subjects") or []
                    if s.get("kind") == "ServiceAccount"}
        role = roles.get(binding["roleRef"]["name"])
        if not (subjects & users) or role is None:
            continue
        for rule in role.get("rules") or []:
            if "nodes" in (rule.get("resources") or []) and "patch" in (rule.get("verbs") or []):
                names = sorted(rule.get("resourceNames") or [])
                if names != sorted(node_names.values()):
                    problems.append(f"ClusterRole {role['metadata']['name']}: the podCIDR assigner may patch Nodes "
                                    f"{names or 'all'}, not exactly the stack's nodes {sorted(node_names.values())}")
    return problems


def _node_names(records) -> dict[str, str]:
    """node config name -> Kubernetes node name, from the instances the run created (tag k8snet/node)."""
    out = {}
    for r in records:
        if r.type == "aws:ec2/instance:Instance":
            node = ((r.inputs.get("tags") or {}).get("k8snet/node"))
            if node:
                out[node] = r.outputs.get("privateDns", "")
    return out


def check_run(result, engine) -> list[str]:
    records = list(result.records.values())
    objects = kubernetes_objects(records)
    return (unpinned_images(objects) + writable_path_problems(objects)
            + assigner_problems(objects, _node_names(records)))
