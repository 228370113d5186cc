"""Traffic a node sends to a pod on another node: does it get through the security group and the policies?

A narrow check of the flows that cross layers (docs/data-path.md has the reasoning; a hop-by-hop verifier
proves the whole matrix). Each flow starts on node A and ends at a pod on node B, for every ordered pair:

- kube-proxy forwarding NodePort / NLB / ALB (instance target) traffic of a Service with
  ``externalTrafficPolicy: Cluster``: it SNATs to A's address and sends to the pod's target port;
- calico-node (hostNetwork) reporting flows to Goldmane on TCP 7443, when the Calico release runs Goldmane.

How the packet looks on the wire depends on the mode, and is taken from the CNIs' sources, not from the
program: unencapsulated it is A's VPC address -> the pod's address (routed by the VPC); with an overlay it is
A -> B inside the tunnel (Calico VXLAN UDP 4789: the operator's FelixConfiguration default vxlanPort;
flannel VXLAN UDP 8472: the Linux default flannel keeps; IP-in-IP: IP protocol 4), and the inner source is
A's tunnel address, inside A's pod block (Felix's VXLAN/IPIP routes carry no source address, calico#5533;
flannel's VTEP address is the network address of A's subnet). The security group of B's interface sees the
outer packet, read back from moto; the NetworkPolicies see the inner one (k8snet.app.policy_eval), where
the CNI enforces them (Calico always, flannel only with its netpol engine).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from k8snet.app.policy_eval import Endpoint, allowed

from . import routes
from .app import policies, selected_pods
from .cni import cni_of
from .stack import stack_config

# (cni, encapsulation) -> (IP protocol, port) of the tunnel packets between nodes.
TUNNELS = {("calico", "vxlan"): ("udp", 4789), ("calico", "ipip"): ("4", None), ("flannel", "vxlan"): ("udp", 8472)}
GOLDMANE_PORT = 7443  # tigera/operator v1.40.15 pkg/render/goldmane/component.go GoldmaneServicePort
_PROTOCOL_NUMBERS = {"tcp": "6", "udp": "17", "icmp": "1"}


@dataclass(frozen=True)
class Packet:
    """What a security group sees: source address, destination, IP protocol ("tcp", "udp" or a number)
    and port (None for protocols without ports)."""

    src: str
    dst: str
    protocol: str
    port: int | None


@dataclass(frozen=True)
class Flow:
    """One node-to-pod flow: ``what`` sends from node ``a`` to ``pod`` on node ``b``."""

    what: str
    a: routes.NodeView
    b: routes.NodeView
    pod: Endpoint
    protocol: str
    port: int


def sg_admits(rules: Iterable[Mapping], packet: Packet, src_groups: Iterable[str]) -> bool:
    """Whether any ingress rule (EC2 DescribeSecurityGroupRules form) admits the packet from an interface in
    ``src_groups``. Security groups are stateful: replies need no rule."""
    src, groups = ipaddress.ip_address(packet.src), set(src_groups)
    proto = _PROTOCOL_NUMBERS.get(packet.protocol.lower(), packet.protocol)
    for rule in rules:
        if rule.get("IsEgress"):
            continue
        rule_proto = _PROTOCOL_NUMBERS.get(str(rule["IpProtocol"]).lower(), str(rule["IpProtocol"]))
        if rule_proto not in ("-1", proto):
            continue
        if rule_proto != "-1" and packet.port is not None and rule.get("FromPort", -1) != -1 and \
                not rule["FromPort"] <= packet.port <= rule["ToPort"]:
            continue
        cidr = rule.get("CidrIpv4")
        if (cidr and src in ipaddress.ip_network(cidr)) or \
                (rule.get("ReferencedGroupInfo") or {}).get("GroupId") in groups:
            return True
    return False


def tunnel_address(node: routes.NodeView) -> str:
    """The address a node's overlay traffic leaves with: one of its own pod block (flannel: exactly its
    network address; Calico: the one its IPAM gave the tunnel device, taken here as the first)."""
    return str(ipaddress.ip_network(node.pod_cidr)[0])


def on_the_wire(cni: str, encapsulation: str, flow: Flow) -> tuple[Packet, str]:
    """The packet B's security group sees, and the source address B's policies see."""
    if encapsulation == "none":
        return Packet(flow.a.private_ip, flow.pod.ip, flow.protocol, flow.port), flow.a.private_ip
    protocol, port = TUNNELS[(cni, encapsulation)]
    return Packet(flow.a.private_ip, flow.b.private_ip, protocol, port), tunnel_address(flow.a)


def pod_on(node: routes.NodeView, workload: str, namespace: str, labels: Mapping, ports: Mapping) -> Endpoint:
    return Endpoint(f"{workload} on {node.name}", str(ipaddress.ip_network(node.pod_cidr)[10]), namespace,
                    dict(labels), ports=dict(ports))


def forwarded_services(objects: Sequence[Mapping]) -> list[tuple[str, str, Mapping, Mapping, int, str]]:
    """(Service, workload, pod labels, named ports, target port number, protocol) of every NodePort or
    LoadBalancer Service kube-proxy forwards across nodes (externalTrafficPolicy Cluster, the default)."""
    out = []
    for svc in (o for o in objects if o["kind"] == "Service"):
        spec = svc.get("spec") or {}
        if spec.get("type") not in ("NodePort", "LoadBalancer") or spec.get("externalTrafficPolicy") == "Local":
            continue
        for workload, namespace, labels, containers in selected_pods(svc, objects):
            named = {p["name"]: p["containerPort"] for c in containers for p in c.get("ports") or [] if "name" in p}
            for port in spec.get("ports") or []:
                target = port.get("targetPort", port.get("port"))
                number = named.get(target) if isinstance(target, str) else target
                if number is not None:
                    out.append((f"{namespace}/{svc['metadata']['name']}", workload, labels, named, number,
                                port.get("protocol", "TCP")))
    return out


def node_security_groups(ec2) -> dict[str, tuple[str, ...]]:
    """Instance id -> the security groups of its primary interface."""
    out = {}
    for reservation in ec2.describe_instances()["Reservations"]:
        for inst in reservation["Instances"]:
            out[inst["InstanceId"]] = tuple(g["GroupId"] for g in inst.get("SecurityGroups") or [])
    return out


def flows(objects: Sequence[Mapping], nodes: Sequence[routes.NodeView], goldmane: bool) -> list[Flow]:
    """Every node-to-pod flow the stack needs, for every ordered pair of distinct nodes."""
    pairs = [(a, b) for a in nodes for b in nodes if a.name != b.name]
    out = []
    for service, workload, labels, named, port, protocol in forwarded_services(objects):
        namespace = service.split("/")[0]
        out += [Flow(f"kube-proxy forwarding {service} ({protocol} {port})", a, b,
                     pod_on(b, workload, namespace, labels, named), protocol, port) for a, b in pairs]
    if goldmane:
        out += [Flow(f"calico-node flow logs to Goldmane (TCP {GOLDMANE_PORT})", a, b,
                     pod_on(b, "goldmane", "calico-system", {"k8s-app": "goldmane"}, {}), "TCP", GOLDMANE_PORT)
                for a, b in pairs]
    return out


def goldmane_enabled(records) -> bool:
    """The tigera-operator chart renders the Goldmane CR unless ``goldmane.enabled`` is false (default true,
    charts/tigera-operator/values.yaml v3.31.7); without the CR the operator deploys no Goldmane."""
    kind, values = cni_of(records)
    return kind == "calico" and (values.get("goldmane") or {}).get("enabled", True) is not False


def policies_enforced(records) -> bool:
    kind, values = cni_of(records)
    return kind == "calico" or (kind == "flannel" and bool((values.get("netpol") or {}).get("enabled")))


def flow_problems(flows_: Iterable[Flow], cni: str, encapsulation: str, rules_of, groups_of,
                  network_policies: Sequence[Mapping] | None) -> list[str]:
    """Why each flow would not arrive (empty when all do). ``rules_of(node)``: the ingress rules of the node's
    groups; ``groups_of(node)``: its groups; ``network_policies``: None where the CNI enforces none."""
    problems = []
    for f in flows_:
        packet, inner_src = on_the_wire(cni, encapsulation, f)
        where = f"{f.what}: from {f.a.name} to {f.pod.name}"
        if not sg_admits(rules_of(f.b), packet, groups_of(f.a)):
            port = f" port {packet.port}" if packet.port is not None else ""
            problems.append(f"{where}: {f.b.name}'s security group drops {packet.protocol}{port} from "
                            f"{packet.src} (the sending node)")
        elif network_policies is not None and not allowed(
                network_policies, Endpoint(f"{f.a.name} address {inner_src}", inner_src), f.pod, f.port, f.protocol):
            origin = "tunnel address" if encapsulation != "none" else "VPC address"
            problems.append(f"{where}: NetworkPolicies in {f.pod.namespace} drop it (source {inner_src}, "
                            f"{f.a.name}'s {origin})")
    return problems


def check_run(result, kube, ec2) -> list[str]:
    """flow_problems for a finished engine run: moto's instances and rules, the API server's objects."""
    records = list(result.records.values())
    cni, _ = cni_of(records)
    if cni is None:
        return []
    cfg = stack_config(result)
    nodes = list(routes.nodes(ec2).values())
    groups = node_security_groups(ec2)
    cache: dict[str, list] = {}

    def rules_of(node):
        if node.instance_id not in cache:
            ids = list(groups.get(node.instance_id, ()))
            cache[node.instance_id] = ec2.describe_security_group_rules(
                Filters=[{"Name": "group-id", "Values": ids}])["SecurityGroupRules"] if ids else []
        return cache[node.instance_id]

    objects = list(kube.objects.values())
    enforced = policies(objects) if policies_enforced(records) else None
    return flow_problems(flows(objects, nodes, goldmane_enabled(records)), cni, cfg.encapsulation, rules_of,
                         lambda node: groups.get(node.instance_id, ()), enforced)
