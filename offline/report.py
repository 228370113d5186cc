"""Text rendering of a run: a preview-like resource tree and the node table."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from pulumi.runtime import rpc

from k8snet.network import addressing
from k8snet.dns import node_local_dns_manifests as nld

from .checks import alb, app, cni, dns, routes
from .checks.stack import stack_config
from .flows.verify import Verification
from .harness.engine import RunResult


def resource_tree(result: RunResult) -> str:
    """Like `pulumi preview`: every resource with its type and name, nested under its parent."""
    children: dict[str, list] = defaultdict(list)
    for record in result.records.values():
        children[record.parent].append(record)
    rows: list[tuple[str, str]] = []

    def walk(parent: str, prefix: str) -> None:
        kids = children.get(parent, [])
        for i, record in enumerate(kids):
            last = i == len(kids) - 1
            branch = "" if not parent else ("└─ " if last else "├─ ")
            rows.append((prefix + branch + record.type, record.name))
            walk(record.urn, prefix + ("" if not parent else ("   " if last else "│  ")))

    walk("", "")
    width = max((len(t) for t, _ in rows), default=4) + 3
    lines = [f"     {'Type':<{width}}Name"]
    lines += [f" +   {t:<{width}}{n}" for t, n in rows]
    lines.append("")
    lines.append(f"Resources:\n    + {len(rows)} to create")
    return "\n".join(lines)


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt.format(*r).rstrip() for r in [headers, *rows])


def node_table(ec2) -> str:
    """node -> zone -> private IP -> pod CIDR -> the route tables that route it (read from AWS)."""
    tables = routes.pod_route_tables(ec2)
    nodes = routes.nodes(ec2).values()
    routed_by = routes.routed_by_each(nodes, tables)
    rows = []
    for node in nodes:
        routed = [routes.table_name(tables[t]) for t in routed_by[node.name]]
        rows.append([node.name, node.zone, node.private_ip, node.pod_cidr, ", ".join(routed) or "(none: overlay)"])
    return table(["node", "zone", "private IP", "pod CIDR", "routed by"], rows)


def cni_table(result: RunResult, kube, ec2) -> str:
    """node -> IPPool or podCIDR the CNI gives it -> the block the VPC routes to it -> mode -> MTU."""
    rows = cni.cni_rows(result, kube, ec2)
    if not rows:
        return "(no CNI installed)"
    kind, values = cni.cni_of(result.records.values())
    version = next((r.inputs.get("version") for r in result.of_type(cni.RELEASE)
                    if r.inputs.get("chart") in ("tigera-operator", "flannel")), "")
    head = f"{kind} (chart {version})"
    return head + "\n" + table(["node", "CNI gives it", "VPC block", "mode", "MTU"], rows)


def render_value(value: Any) -> str:
    if rpc.is_rpc_secret(value):
        return "[secret]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {render_value(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(render_value(v) for v in value) + "]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # protobuf carries every number as a float; `pulumi up` shows 30080
    return str(value)


def outputs(result: RunResult) -> str:
    return "\n".join(f"    {k}: {render_value(v)}" for k, v in sorted(result.exports.items()))


def cluster_summary(result: RunResult) -> str:
    """The EKS cluster as created: endpoint access, auth, add-ons, and how each node joins."""
    clusters = result.of_type("aws:eks/cluster:Cluster")
    if not clusters:
        return "(no EKS cluster in this stack)"
    lines = []
    for eks in clusters:
        i = eks.inputs
        vpc = i.get("vpcConfig") or {}
        public = ", ".join(vpc.get("publicAccessCidrs") or []) if vpc.get("endpointPublicAccess") else "off"
        lines.append(f"{i.get('name')}  Kubernetes {i.get('version')}  auth {i['accessConfig']['authenticationMode']}  "
                     f"bootstrap add-ons {'on' if i.get('bootstrapSelfManagedAddons', True) else 'off'}  "
                     f"service CIDR {i['kubernetesNetworkConfig']['serviceIpv4Cidr']}")
        lines.append(f"  endpoint: private {'on' if vpc.get('endpointPrivateAccess') else 'off'}, public {public}")
        lines.append(f"  logs: {', '.join(i.get('enabledClusterLogTypes') or [])}; secrets encrypted with KMS")
    addons = [[a.inputs["addonName"], a.inputs.get("addonVersion", ""), _configuration(a.inputs.get("configurationValues")),
               "IRSA" if a.inputs.get("serviceAccountRoleArn") else "-"]
              for a in result.of_type("aws:eks/addon:Addon")]
    lines.append("")
    lines.append(table(["add-on", "version", "configuration", "credentials"], addons))
    return "\n".join(lines)


def _configuration(values: str | None) -> str:
    """An add-on's configuration values on one line; a Corefile is shown in the CoreDNS section instead."""
    if not values:
        return "-"
    parsed = json.loads(values)
    if "corefile" not in parsed:
        return values
    parsed["corefile"] = f"<{len(parsed['corefile'].splitlines())} lines, see CoreDNS below>"
    return json.dumps(parsed, sort_keys=True)


def services_table(objects) -> str:
    """Every Service: type, port -> targetPort, nodePort, selector -> the workloads it matches."""
    objects = list(objects)
    rows = []
    for svc in sorted((o for o in objects if o["kind"] == "Service"),
                      key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"])):
        spec = svc.get("spec") or {}
        kind = spec.get("type", "ClusterIP")
        if kind == "ClusterIP" and spec.get("clusterIP") == "None":
            kind = "Headless"
        name = f"{svc['metadata'].get('namespace', 'default')}/{svc['metadata']['name']}"
        if kind == "ExternalName":
            rows.append([name, kind, "-", "-", f"CNAME {spec.get('externalName')}"])
            continue
        ports = ", ".join(f"{p.get('port')}->{p.get('targetPort', p.get('port'))}" for p in spec.get("ports") or [])
        node_ports = ", ".join(str(p["nodePort"]) for p in spec.get("ports") or [] if "nodePort" in p) or "-"
        selector = ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
        matched = ", ".join(w for w, _ in app.matching_workloads(svc, objects)) or "(none)"
        rows.append([name, kind, ports, node_ports, f"{selector} -> {matched}"])
    return table(["service", "type", "port->target", "nodePort", "selector -> workloads"], rows)


def flow_matrix(objects, namespace: str, vpc_cidr: str, forwarded_from=()) -> str:
    """The app's intended and forbidden flows, evaluated against the NetworkPolicies in ``objects``."""
    rows = []
    for flow, got in app.flow_results(objects, namespace, vpc_cidr, forwarded_from):
        mark = "" if got == flow.expected else "  <-- expected " + ("allow" if flow.expected else "deny")
        rows.append([flow.src.name, f"{flow.dst.name}:{flow.port}/{flow.protocol}", "allow" if got else "deny",
                     flow.why + mark])
    return table(["from", "to", "policy", "why"], rows)


def flow_table(verification: Verification, paths: bool = False) -> str:
    """Every promised flow and denial (offline/flows): its verdict over every placement and the hop that
    decides (the first failing placement's, else the path's last); ``paths`` adds who talks to whom."""
    rows = []
    for r in verification.results:
        case, bad = r.deciding, sum(c.weight for c in r.failing)
        verdict = r.verdict if r.verdict != "mixed" else \
            f"{'deny' if r.flow.promise else 'allow'} {bad}/{r.total}"
        mark = "" if r.holds else f"  <-- promised {'allow' if r.flow.promise else 'deny'}"
        hop = case.trace.decisive
        rows.append([r.flow.name, *([r.flow.what] if paths else []), verdict, f"{hop.at}: {hop.note}{mark}"])
    return verification.mode + "\n" + table(["flow", *(["path"] if paths else []), "verdict", "deciding hop"], rows)


def lb_controller_summary(result: RunResult) -> str:
    """The controller release: chart, replicas, network, IRSA role."""
    lines = []
    for rel in alb.controller_releases(result.records.values()):
        v = rel.get("values") or {}
        role = ((v.get("serviceAccount") or {}).get("annotations") or {}).get("eks.amazonaws.com/role-arn", "-")
        lines.append(f"{rel.get('chart')} {rel.get('version')} in {rel.get('namespace')}: {v.get('replicaCount')} "
                     f"replicas, hostNetwork {str(bool(v.get('hostNetwork'))).lower()} (webhook :{v.get('webhookBindPort')}), "
                     f"cluster {v.get('clusterName')}, region {v.get('region')}, VPC {v.get('vpcId')}")
        lines.append(f"IRSA role {role} for {rel.get('namespace')}:{(v.get('serviceAccount') or {}).get('name')}")
    return "\n".join(lines) or "(no load balancer controller)"


def ingress_table(objects) -> str:
    """Every ALB Ingress rule: listener -> host/path -> Service port -> NodePort, and the ALB's name."""
    objects = list(objects)
    services = {(s["metadata"].get("namespace", "default"), s["metadata"]["name"]): s
                for s in objects if s["kind"] == "Service"}
    rows, lines = [], []
    for ing in alb.alb_ingresses(objects):
        ns = ing["metadata"].get("namespace", "default")
        ann = ing["metadata"].get("annotations") or {}
        redirect = ann.get("alb.ingress.kubernetes.io/ssl-redirect")
        listen = ", ".join(f"{proto}:{port}" + (f"->{redirect}" if redirect and proto == "HTTP" else "")
                           for proto, port in alb.listeners(ing))
        for host, path, ref in alb.backends(ing):
            svc = services.get((ns, ref.get("name")))
            port = alb.service_port(svc, ref.get("port") or {}) if svc else None
            node_port = str(port.get("nodePort", "-")) if port else "?"
            ref_port = (ref.get("port") or {}).get("name") or (ref.get("port") or {}).get("number")
            rows.append([f"{ns}/{ing['metadata']['name']}", listen, host, path, f"{ref.get('name')}:{ref_port}",
                         node_port, ann.get("alb.ingress.kubernetes.io/target-type", "instance")])
        status = ((ing.get("status") or {}).get("loadBalancer") or {}).get("ingress") or [{}]
        lines.append(f"{ns}/{ing['metadata']['name']}: {ann.get('alb.ingress.kubernetes.io/scheme', 'internal')} "
                     f"ALB {status[0].get('hostname', '(pending)')}, health check "
                     f"{ann.get('alb.ingress.kubernetes.io/healthcheck-path', '/')}")
    if not rows:
        return "(no ALB Ingress)"
    return table(["ingress", "listeners", "host", "path", "service:port", "nodePort", "targets"], rows) + \
        "\n" + "\n".join(lines)
def coredns_section(result: RunResult, objects) -> str:
    """The CoreDNS add-on's Corefile as registered and, if it runs, node-local-dns's settings."""
    coredns = next((r for r in result.of_type(dns.ADDON) if r.inputs.get("addonName") == "coredns"), None)
    if coredns is None:
        return "(no CoreDNS add-on in this stack)"
    text = dns.addon_values(result, "coredns").get("corefile")
    lines = [f"add-on {coredns.inputs.get('addonVersion')}, Corefile "
             + ("from the configuration value corefile:" if text else "left at the EKS default")]
    lines += [f"    {line}" for line in (text or "").splitlines()]
    ds = dns.obj(objects, "apps/v1", "DaemonSet", nld.NAME)
    if ds is None:
        return "\n".join([*lines, "node-local-dns: off"])
    mode = dns.kube_proxy_mode(result)
    upstream = dns.obj(objects, "v1", "Service", nld.UPSTREAM_SERVICE) or {"spec": {}}
    kubelet = nld.kubelet_cluster_dns(True, mode)
    kube_dns = addressing.kube_dns_ip(stack_config(result).service_cidr)
    lines += [
        f"node-local-dns: {ds['spec']['template']['spec']['containers'][0]['image']} (kube-proxy {mode})",
        f"    listens on {', '.join(nld.local_ips_of(ds))}; queries to them are NOTRACKed, never DNATed",
        f"    cache misses -> {nld.UPSTREAM_SERVICE} {upstream['spec'].get('clusterIP', '?')} over TCP -> CoreDNS",
        "    kubelet clusterDNS: " + (f"{', '.join(kubelet)} (set in the nodes' user data)" if kubelet
                                     else f"{kube_dns} (nodeadm's default, unchanged)"),
    ]
    return "\n".join(lines)
