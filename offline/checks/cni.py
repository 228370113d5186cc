"""Cross-object checks of the CNI against the VPC: what the API server accepts but would not work.

Inputs are plain data: the simulated API server's objects (``engine.kube.objects``), the run's
records (for the helm releases and dependencies) and each node's block as the VPC sees it
(``routed_blocks``: the destination of the routes to the node's interface, or, with an overlay
and no pod routes, the node's pod-cidr tag).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

from k8snet.cni import calico
from k8snet.cni import dataplane as cni
from k8snet.cni import flannel
from k8snet.cni import pod_cidr_assigner
from k8snet.shared.node_labels import NODE_NAME_LABEL

from ..kube.api_server import _whole_numbers
from . import routes
from .stack import stack_config

RELEASE = "kubernetes:helm.sh/v3:Release"
_SELECTOR = re.compile(r"^\s*([A-Za-z0-9./_-]+)\s*==\s*(['\"])([^'\"]*)\2\s*$")


def routed_blocks(ec2) -> dict[str, str]:
    """Node name -> the pod block the VPC sends to it (the node's tag when nothing is routed)."""
    tables = routes.pod_route_tables(ec2)
    to_interface: dict[str, set] = {}  # interface -> destinations routed to it
    for t in tables.values():
        for r in t["Routes"]:
            to_interface.setdefault(r.get("NetworkInterfaceId"), set()).add(r.get("DestinationCidrBlock"))
    found = {}
    for node in routes.nodes(ec2).values():
        dests = to_interface.get(node.eni_id, set())
        found[node.name] = next(iter(dests)) if len(dests) == 1 else (node.pod_cidr if not dests else sorted(dests))
    return found


def selector_matches(selector: str, labels: Mapping[str, str]) -> bool:
    """Calico's ``key == 'value'`` selector (the only form we write); anything else matches nothing."""
    m = _SELECTOR.match(selector or "")
    return bool(m) and labels.get(m.group(1)) == m.group(3)


def selector_node(selector: str) -> str | None:
    """The node a ``k8snet.io/node == '<name>'`` selector picks (None for any other selector)."""
    m = _SELECTOR.match(selector or "")
    return m.group(3) if m and m.group(1) == NODE_NAME_LABEL else None


def assigned_pod_cidrs(daemonsets: Iterable[Mapping]) -> dict[str, list[str]]:
    """Node -> the podCIDRs the podCIDR assigner DaemonSets selecting it patch in (flannel)."""
    assigned: dict[str, list[str]] = {}
    for ds in daemonsets:
        if ds["kind"] != "DaemonSet" or \
                ds["metadata"].get("labels", {}).get(pod_cidr_assigner.APP_LABEL) != pod_cidr_assigner.NAME:
            continue
        pod = ds["spec"]["template"]["spec"]
        cidrs = assigned.setdefault(pod.get("nodeSelector", {}).get(NODE_NAME_LABEL), [])
        cidrs += [json.loads(arg[len("--patch="):])["spec"]["podCIDR"] for init in pod.get("initContainers", [])
                  for arg in init.get("args", []) if arg.startswith("--patch=")]
    return assigned


def _of_kind(objects: Mapping[tuple, dict], api_version: str, kind: str) -> list[dict]:
    return [o for (av, k, _, _), o in sorted(objects.items()) if av == api_version and k == kind]


def releases(records: Iterable) -> dict[str, dict]:
    """Helm release name -> inputs (chart, version, values); numbers arrive as floats, made whole."""
    return {r.inputs.get("name", r.name): _whole_numbers(r.inputs) for r in records if r.type == RELEASE}


def cni_of(records: Iterable) -> tuple[str | None, dict]:
    """Which CNI chart the run installed, and its values."""
    for inputs in releases(records).values():
        if inputs.get("chart") == calico.CHART:
            return "calico", inputs.get("values") or {}
        if inputs.get("chart") == flannel.CHART:
            return "flannel", inputs.get("values") or {}
    return None, {}


def check_calico(objects, values: dict, blocks: Mapping[str, object], encapsulation: str) -> list[str]:
    problems = []
    pools = _of_kind(objects, calico.CRD_GROUP, "IPPool")
    by_node: dict[str, list[dict]] = {n: [] for n in blocks}
    for pool in pools:
        name, spec = pool["metadata"]["name"], pool["spec"]
        selected = selector_node(spec.get("nodeSelector", ""))
        matched = [selected] if selected in blocks else []  # the nodes whose labels the selector matches
        if len(matched) != 1:
            problems.append(f"IPPool {name}: nodeSelector {spec.get('nodeSelector')!r} matches {len(matched)} nodes")
            continue
        node = matched[0]
        by_node[node].append(pool)
        if spec.get("cidr") != blocks[node]:
            problems.append(f"IPPool {name}: cidr {spec.get('cidr')} but the VPC routes {blocks[node]} to {node}")
        prefix = int(str(spec.get("cidr", "/0")).split("/")[1])
        if spec.get("blockSize") != prefix:
            problems.append(f"IPPool {name}: blockSize {spec.get('blockSize')} is not the pool's /{prefix}")
        want = ("Always" if encapsulation == "ipip" else "Never", "Always" if encapsulation == "vxlan" else "Never")
        if (spec.get("ipipMode"), spec.get("vxlanMode")) != want:
            problems.append(f"IPPool {name}: ipipMode/vxlanMode {spec.get('ipipMode')}/{spec.get('vxlanMode')} "
                            f"for encapsulation {encapsulation}")
        if spec.get("natOutgoing") is not True:
            problems.append(f"IPPool {name}: natOutgoing is off (pod egress would leave with pod IPs)")
    for node, found in by_node.items():
        if len(found) != 1:
            problems.append(f"{node}: {len(found)} IP pools select it (want exactly 1)")
    ipam = [o for o in _of_kind(objects, calico.CRD_GROUP, "IPAMConfig") if o["metadata"]["name"] == "default"]
    if not ipam or ipam[0]["spec"].get("strictAffinity") is not True:
        problems.append("IPAMConfig default: strictAffinity is not true (nodes could borrow other nodes' addresses)")
    network = (values.get("installation") or {}).get("calicoNetwork") or {}
    if network.get("ipPools") != []:
        problems.append("Installation: calicoNetwork.ipPools is not [] (the operator would create a default pool)")
    if network.get("mtu") != cni.mtu(encapsulation):
        problems.append(f"Installation: MTU {network.get('mtu')} but {encapsulation} needs {cni.mtu(encapsulation)}")
    if network.get("bgp") != "Disabled":
        problems.append("Installation: BGP is not disabled")
    return problems


def check_flannel(objects, values: dict, blocks: Mapping[str, object], encapsulation: str) -> list[str]:
    problems = []
    assigned: dict[str, list[str]] = {n: [] for n in blocks}
    for node, cidrs in assigned_pod_cidrs(_of_kind(objects, "apps/v1", "DaemonSet")).items():
        if node not in assigned:
            problems.append(f"DaemonSet {pod_cidr_assigner.daemonset_name(node)}: selects no configured node "
                            f"({node!r})")
            continue
        assigned[node] += cidrs
    for node, cidrs in assigned.items():
        if len(cidrs) != 1:
            problems.append(f"{node}: podCIDR assigned {len(cidrs)} times (want exactly once)")
        elif cidrs[0] != blocks[node]:
            problems.append(f"{node}: podCIDR {cidrs[0]} but the VPC routes {blocks[node]} to it")
    if (values.get("flannel") or {}).get("backend") != flannel.BACKENDS.get(encapsulation):
        problems.append(f"flannel backend {(values.get('flannel') or {}).get('backend')!r} for encapsulation {encapsulation}")
    return problems


def check_crd_dependencies(records: Iterable) -> list[str]:
    """Every custom resource of a chart-installed CRD group depends on a helm release."""
    records = list(records)
    release_urns = {r.urn for r in records if r.type == RELEASE}
    crd_groups = ("kubernetes:crd.projectcalico.org/", "kubernetes:operator.tigera.io/")
    return [f"{r.type} {r.name}: does not depend on the helm release that installs its CRD"
            for r in records if r.type.startswith(crd_groups) and not release_urns & set(r.dependencies)]


def check_cni(objects, records: Iterable, blocks: Mapping[str, object], encapsulation: str) -> list[str]:
    """All CNI checks for whichever CNI the run installed (none installed: nothing to check)."""
    records = list(records)
    kind, values = cni_of(records)
    problems = check_crd_dependencies(records)
    if kind == "calico":
        problems += check_calico(objects, values, blocks, encapsulation)
    elif kind == "flannel":
        problems += check_flannel(objects, values, blocks, encapsulation)
    return problems


def encapsulation_of(result) -> str:
    return stack_config(result).encapsulation


def check_run(result, kube, ec2) -> list[str]:
    """check_cni for a finished engine run: its objects, records, config and moto's routes."""
    return check_cni(kube.objects, result.records.values(), routed_blocks(ec2), encapsulation_of(result))


def cni_rows(result, kube, ec2) -> list[list[str]]:
    """node -> what the CNI gives it (IPPool or podCIDR assigner) -> its block -> routed block -> mode -> MTU."""
    kind, values = cni_of(result.records.values())
    encap = encapsulation_of(result)
    routed = routed_blocks(ec2)
    pools_of: dict[str, list[dict]] = {}  # node -> the IP pools selecting it (read once, not once per node)
    for p in _of_kind(kube.objects, calico.CRD_GROUP, "IPPool"):
        pools_of.setdefault(selector_node(p["spec"].get("nodeSelector", "")), []).append(p)
    assigned = assigned_pod_cidrs(_of_kind(kube.objects, "apps/v1", "DaemonSet")) if kind == "flannel" else {}
    rows = []
    for node in sorted(routed):
        if kind == "calico":
            pools = pools_of.get(node, [])
            given = ", ".join(f"IPPool {p['metadata']['name']} {p['spec']['cidr']}" for p in pools) or "(no pool)"
            mode = "VXLAN" if encap == "vxlan" else "IPIP" if encap == "ipip" else "no encapsulation"
            mtu = ((values.get("installation") or {}).get("calicoNetwork") or {}).get("mtu")
        elif kind == "flannel":
            cidrs = assigned.get(node, [])
            given = ", ".join(f"podCIDR {c} ({pod_cidr_assigner.daemonset_name(node)})" for c in cidrs) or "(no podCIDR)"
            mode = f"flannel {(values.get('flannel') or {}).get('backend')}"
            mtu = cni.mtu(encap)  # derived by flanneld from the interface MTU
        else:
            return []
        rows.append([node, given, str(routed[node]), mode, str(mtu)])
    return rows
