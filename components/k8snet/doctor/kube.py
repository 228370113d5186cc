"""The cluster through the Kubernetes API: every configured node registered and Ready, carrying its
``k8snet.io/node`` label, with its pod block as the CNI has it (flannel: the Node's podCIDR; Calico: its IPPool).
``core`` and ``custom`` are kubernetes.client CoreV1Api and CustomObjectsApi (on a GET-only ApiClient)."""

from __future__ import annotations

from ..config import StackConfig
from ..shared.node_labels import NODE_NAME_LABEL
from .findings import Finding, fail, ok

CALICO_GROUP, CALICO_VERSION, IPPOOLS = "crd.projectcalico.org", "v1", "ippools"
NOT_READY = ("`kubectl describe node {node}`: a NotReady node usually has no running CNI pod (calico-node or "
             "kube-flannel) or cannot reach the API server")


def pool_name(node: str) -> str:
    from ..cni.calico import pool_name as name  # the component's own naming

    return name(node)


def nodes(core, custom, outputs: dict, cfg: StackConfig) -> list[Finding]:
    live = {n.metadata.name: n for n in core.list_node().items}
    pools = {}
    if cfg.cni == "calico":
        pools = {p["metadata"]["name"]: p for p in custom.list_cluster_custom_object(
            CALICO_GROUP, CALICO_VERSION, IPPOOLS).get("items", [])}
    findings = []
    for name, info in sorted(outputs.get("nodes", {}).items()):
        node = live.get(info["nodeName"])
        if node is None:
            findings.append(fail("node", name, f"{info['nodeName']} is not registered",
                                 "the instance did not join: read its console output and `journalctl -u nodeadm-run`, "
                                 "and check the node role's access entry"))
            continue
        ready = next((c for c in node.status.conditions or [] if c.type == "Ready"), None)
        if ready is None or ready.status != "True":
            why = f"{ready.reason}: {ready.message}" if ready is not None else "no Ready condition"
            findings.append(fail("node", name, f"NotReady ({why})", NOT_READY.format(node=info["nodeName"])))
        else:
            findings.append(ok("node", name, f"{info['nodeName']} Ready"))
        if (node.metadata.labels or {}).get(NODE_NAME_LABEL) != name:
            findings.append(fail("node label", name, f"{NODE_NAME_LABEL}={(node.metadata.labels or {}).get(NODE_NAME_LABEL)}",
                                 "kubelet sets it from the user data's --node-labels: replace the node "
                                 "(`pulumi up --replace <instance URN>`)"))
        findings.append(_block(name, info, node, pools, cfg))
    return findings


def _block(name: str, info: dict, node, pools: dict, cfg: StackConfig) -> Finding:
    block = info["podCidr"]
    if cfg.cni == "flannel":
        got = node.spec.pod_cidr if node.spec else None
        if got == block:
            return ok("podCIDR", name, block)
        return fail("podCIDR", name, f"{got} but the VPC routes {block} to it",
                    "a Node's podCIDR is immutable: `kubectl delete node " + info["nodeName"] + "` (kubelet "
                    "re-registers it and the k8snet pod-CIDR assigner sets the right block)")
    pool = pools.get(pool_name(name))
    if pool is None:
        return fail("IPPool", name, f"no IPPool {pool_name(name)}", "`pulumi up` re-creates it")
    cidr = (pool.get("spec") or {}).get("cidr")
    if cidr != block:
        return fail("IPPool", name, f"{pool_name(name)} has {cidr}, the VPC routes {block}", "`pulumi up` restores it")
    return ok("IPPool", name, f"{pool_name(name)} {cidr}")


CHECKS = (nodes,)
