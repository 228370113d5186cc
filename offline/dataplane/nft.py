"""nftables rulesets: what AWS enforces at each ENI, what kube-proxy and the CNI program on a node. Pure text.

- Security groups and source/dest check run in the VPC router's namespace, on the interface that stands for
  each ENI: stateful (conntrack: a reply to an admitted connection always passes, as AWS documents for
  security groups), the source's egress rules then the destination's ingress rules, each a chain that
  ``return``s on the first rule admitting the packet and drops otherwise. The source/dest check comes first
  and applies to every packet, replies included: with it on, an ENI neither sends from nor receives for an
  address it does not hold.
- kube-proxy: the chains its iptables mode writes (KUBE-SERVICES, KUBE-NODEPORTS, KUBE-EXT-*, KUBE-SVC-*,
  KUBE-SEP-*, KUBE-POSTROUTING), in nftables syntax; the 0x4000 mark asks for masquerade.
- NetworkPolicy: in the node's forward hook, after kube-proxy's DNAT and before any SNAT on that node, the
  place Calico's cali-from-wl/cali-to-wl chains and kube-network-policies' queue sit; a pod's egress rules also
  in the input hook (traffic to its own node: node-local-dns, a NodePort on the node). Traffic from the node to
  its own pods is not policed: Kubernetes always admits it, and Calico does not police it (projectcalico/calico#4469).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence

MASQ_MARK = 0x4000  # kube-proxy's --masquerade-bit 14 (KUBE-MARK-MASQ)

# Where AWS or a node drops a packet, the emulation drops it too and tells the sender at once with an ICMP
# "destination unreachable" whose code names the kind of hop (the sender's IP_RECVERR reads it, and the
# offender address names the hop): a probe learns its verdict without waiting out a timeout, and why.
REJECT = {
    "security group": "admin-prohibited",  # code 13
    "source/dest check": "host-prohibited",  # code 10
    "NetworkPolicy": "net-prohibited",  # code 9
    "internet gateway": "net-unreachable",  # code 0
    "no route": "host-unreachable",  # code 1
    "the internet": "prot-unreachable",  # code 2 (from the internet host, for an address it does not know)
}
ICMP_CODES = {13: "security group", 10: "source/dest check", 9: "NetworkPolicy", 0: "internet gateway",
              1: "no route", 2: "the internet (no route to a private address)", 3: "nothing listens"}


def _reject(kind: str, note: str) -> str:
    return f'counter reject with icmp type {REJECT[kind]} comment "{kind}: {note}"'


def _set(addresses: Iterable) -> str | None:
    items = sorted({str(a) for a in addresses}, key=lambda a: ipaddress.ip_network(a, strict=False))
    if not items:
        return None
    return items[0] if len(items) == 1 else "{ " + ", ".join(items) + " }"


def _proto_match(protocol: str, lo: int | None, hi: int | None) -> str:
    """An EC2 rule's protocol and ports as an nft match ("" for every protocol)."""
    if protocol in ("-1", "all"):
        return ""
    if protocol in ("tcp", "udp"):
        if lo is None or (lo, hi) == (0, 65535):
            return f"meta l4proto {protocol}"
        return f"{protocol} dport {lo}" if lo == hi else f"{protocol} dport {lo}-{hi}"
    if protocol == "icmp":
        parts = ["meta l4proto icmp"]
        if lo not in (None, -1):
            parts.append(f"icmp type {lo}")
            if hi not in (None, -1):
                parts.append(f"icmp code {hi}")
        return " ".join(parts)
    return f"meta l4proto {int(protocol)}"


def security_groups(ports: Mapping[str, str], state) -> str:
    """The router's ``inet aws`` table. ``ports``: ENI id -> the router interface standing for it."""
    base = ["ct state invalid drop"]
    chains = []
    for eni_id, port in sorted(ports.items(), key=lambda kv: kv[1]):
        eni = state.interfaces[eni_id]
        if eni.source_dest_check and eni.owner != "nat":  # a NAT gateway forwards by design
            own = _set(eni.ips)
            base.insert(0, f'oifname "{port}" ip daddr != {own} ' + _reject("source/dest check", f"{eni_id} receives"))
            base.insert(0, f'iifname "{port}" ip saddr != {own} ' + _reject("source/dest check", f"{eni_id} sends"))
    base.append("ct state established,related accept")
    rules_of: dict[tuple[str, bool], list] = {}
    for r in state.rules:
        rules_of.setdefault((r.group, r.egress), []).append(r)
    for eni_id, port in sorted(ports.items(), key=lambda kv: kv[1]):
        eni = state.interfaces[eni_id]
        if not eni.groups or eni.owner == "nat":
            # AWS: a NAT gateway has no security group; a load balancer's are not in the state.
            continue
        for egress, direction, field in ((True, "out", "daddr"), (False, "in", "saddr")):
            lines = []
            for group in eni.groups:
                for r in rules_of.get((group, egress), []):
                    peer = (_set([r.cidr]) if r.cidr is not None
                            else _set(state.group_members.get(r.peer_group, ())))
                    if peer is None:
                        continue  # a group nobody carries admits nobody
                    match = " ".join(x for x in (f"ip {field} {peer}" if peer != "0.0.0.0/0" else "",
                                                 _proto_match(r.protocol, r.from_port, r.to_port)) if x)
                    lines.append(f'{match} return comment "{r.id}"'.strip())
            lines.append(_reject("security group", f"no {direction}bound rule of {eni_id} ({','.join(eni.groups)})"))
            chains.append((f"{direction}-{port}", lines))
            base.append(f'{"iifname" if egress else "oifname"} "{port}" jump {direction}-{port}')
    return _table("inet aws", [("forward", "type filter hook forward priority 0; policy accept;", base)]
                  + [(name, "", lines) for name, lines in chains])


def no_route(sink: str) -> str:
    """What no route takes is dropped, as AWS does (the router's routes send it to ``sink``), and the sender told
    so. Not by ``unreachable`` routes: the ICMP errors routing sends are rate-limited by a knob only the root
    namespace has (net.ipv4.route.error_cost); nft's follow the namespace's own icmp_ratelimit."""
    return _table("inet vpc-routing", [("forward", "type filter hook forward priority 0; policy accept;", [
        f'oifname "{sink}" counter reject with icmp type {REJECT["no route"]} comment "no route"'])])


def internet() -> str:
    """The internet knows no private address: what reaches it for one (a pod's packet the VPC sent out through the
    NAT gateway, say) is refused, as the internet would lose it, and the sender told so."""
    return _table("inet internet", [("forward", "type filter hook forward priority 0; policy accept;", [
        f'counter reject with icmp type {REJECT["the internet"]} comment "the internet: no route to it"'])])


def internet_gateway(port: str, public: Mapping[str, str]) -> str:
    """The internet gateway's one-to-one NAT between each public address and its ENI's private one; nothing
    else leaves through it (an address without a public IP has no way out)."""
    if not public:
        return _table("inet igw", [("forward", "type filter hook forward priority 0; policy accept;",
                                    [f'oifname "{port}" ' + _reject("internet gateway", "no public address")])])
    pre = [f'iifname "{port}" ip daddr {pub} dnat to {priv}' for priv, pub in sorted(public.items())]
    post = [f'oifname "{port}" ip saddr {priv} snat to {pub}' for priv, pub in sorted(public.items())]
    return "\n".join([
        _table("ip igw-nat", [("prerouting", "type nat hook prerouting priority -100; policy accept;", pre),
                              ("postrouting", "type nat hook postrouting priority 100; policy accept;", post)]),
        _table("inet igw", [("forward", "type filter hook forward priority 0; policy accept;",
                             [f'oifname "{port}" ip saddr != {_set(public)} '
                              + _reject("internet gateway", "no public address")])]),
    ])


def kube_proxy(services: Sequence, node: str) -> str:
    """kube-proxy's Service rules on ``node`` (iptables mode's chains; ipvs mode's verdicts are the same)."""
    entry, nodeports, chains = [], [], []
    for i, svc in enumerate(services):
        for j, port in enumerate(svc.ports):
            if not port.backends:
                continue
            key = f"{i}-{j}"
            seps = []
            for k, b in enumerate(port.backends):
                chains.append((f"sep-{key}-{k}", [
                    f"ip saddr {b.ip} meta mark set meta mark | {MASQ_MARK:#x}",  # hairpin
                    f"meta l4proto {port.protocol} dnat to {b.ip}:{b.port}"]))
                seps.append(f"{k} : jump sep-{key}-{k}")
            comment = f'comment "{svc.namespace}/{svc.name}:{port.port}/{port.protocol}"'
            pinned = [f"ip saddr . {port.protocol} sport vmap {{ "
                      + ", ".join(f"{a} . {p} : jump sep-{key}-{k}" for a, p, k in port.pins) + " }"] if port.pins else []
            chains.append((f"svc-{key}", [*pinned, f"numgen random mod {len(seps)} vmap {{ {', '.join(seps)} }}"]))
            entry.append(f"ip daddr {svc.cluster_ip} {port.protocol} dport {port.port} jump svc-{key} {comment}")
            if port.node_port is None:
                continue
            if svc.external_traffic_policy == "Local":  # local endpoints only, the source kept
                local = [k for k, b in enumerate(port.backends) if b.node == node]
                ext = ([f"numgen random mod {len(local)} vmap {{ "
                        + ", ".join(f"{n} : jump sep-{key}-{k}" for n, k in enumerate(local)) + " }"]
                       if local else ["drop"])  # kube-proxy: KUBE-EXT-* -> KUBE-MARK-DROP
            else:  # Cluster: every external packet is marked for masquerade, then any endpoint
                ext = [f"meta mark set meta mark | {MASQ_MARK:#x}", f"jump svc-{key}"]
            chains.append((f"ext-{key}", ext))
            nodeports.append(f"{port.protocol} dport {port.node_port} jump ext-{key} {comment}")
    if not entry:
        return ""
    entry.append("fib daddr type local jump nodeports")
    return _table("ip kube-proxy", [
        ("prerouting", "type nat hook prerouting priority -100; policy accept;", ["jump services"]),
        ("output", "type nat hook output priority -100; policy accept;", ["jump services"]),
        ("postrouting", "type nat hook postrouting priority 100; policy accept;", [
            f"meta mark & {MASQ_MARK:#x} != {MASQ_MARK:#x} return",
            f"meta mark set meta mark ^ {MASQ_MARK:#x}",
            "masquerade fully-random"]),
        ("services", "", entry), ("nodeports", "", nodeports), *[(n, "", body) for n, body in chains]])


def node_local_dns(addresses: Sequence[str]) -> str:
    """node-local-dns's NOTRACK rules (its -setupiptables: raw PREROUTING and OUTPUT, both directions, UDP and TCP
    53): its packets skip conntrack, so kube-proxy never DNATs what it answers, the kube-dns ClusterIP included."""
    if not addresses:
        return ""
    addrs = _set(addresses)
    rules = [f"ip {field} {addrs} {proto} {port} 53 notrack" for field, port in (("daddr", "dport"), ("saddr", "sport"))
             for proto in ("udp", "tcp")]
    return _table("ip node-local-dns", [("prerouting", "type filter hook prerouting priority -300; policy accept;", rules),
                                        ("output", "type filter hook output priority -300; policy accept;", rules)])


def cni_masquerade(cni, block, tunnel_device: str | None, tunnel_ip) -> str:
    """The CNI's own source NAT on a node.

    Calico natOutgoing (Felix cali-nat-outgoing): from a pool to anything outside every pool. In overlay modes
    Felix also masquerades host-sourced packets leaving by the tunnel device to the tunnel address.
    flannel --ip-masq (flannel pkg/ip/iptables.go MasqRules, in order): pod network to itself untouched;
    from it elsewhere (multicast aside) masqueraded; from outside it to this node's block untouched; from
    outside it to the rest of it masqueraded.
    """
    rules = []
    pools = _set(cni.pools)
    if cni.kind == "calico":
        if cni.nat_outgoing and pools:
            rules.append(f"ip saddr {pools} ip daddr != {pools} masquerade fully-random")
        if tunnel_device:
            rules.append(f'oifname "{tunnel_device}" ip saddr != {tunnel_ip} fib saddr type local masquerade')
    elif cni.kind == "flannel" and cni.nat_outgoing and pools:
        rules += [f"ip saddr {pools} ip daddr {pools} return",
                  f"ip saddr {pools} ip daddr != 224.0.0.0/4 masquerade fully-random",
                  f"ip saddr != {pools} ip daddr {block} return",
                  f"ip saddr != {pools} ip daddr {pools} masquerade fully-random"]
    if not rules:
        return ""
    return _table("ip cni-nat", [("postrouting", "type nat hook postrouting priority 100; policy accept;", rules)])


def _selects(selector: Mapping | None, labels: Mapping[str, str]) -> bool:
    if selector is None:
        return True
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        op, key, values = expr["operator"], expr["key"], expr.get("values") or []
        if not {"In": key in labels and labels[key] in values, "NotIn": labels.get(key) not in values,
                "Exists": key in labels, "DoesNotExist": key not in labels}[op]:
            return False
    return True


def _peer_addresses(peer: Mapping, policy_ns: str, pods: Sequence, ns_labels: Mapping) -> tuple[list[str], list[str]]:
    """(addresses or CIDRs the peer admits, CIDRs excepted): pods as the cluster has them (as Calico's
    ipsets of selected endpoints), ipBlocks as written."""
    if "ipBlock" in peer:
        return [peer["ipBlock"]["cidr"]], list(peer["ipBlock"].get("except") or [])
    found = []
    for p in pods:
        if "namespaceSelector" in peer:
            labels = {**ns_labels.get(p.namespace, {}), "kubernetes.io/metadata.name": p.namespace}
            if not _selects(peer["namespaceSelector"], labels):
                continue
        elif p.namespace != policy_ns:
            continue
        if _selects(peer.get("podSelector"), p.labels):
            found.append(str(p.ip))
    return found, []


def _port_matches(ports, target_pods: Sequence) -> list[tuple[str, list[str]]]:
    """Rule ports as (nft l4 match, [the target pods' addresses it applies to, or [] for all])."""
    if not ports:
        return [("", [])]
    out = []
    for p in ports:
        proto = p.get("protocol", "TCP").lower()
        want = p.get("port")
        if want is None:
            out.append((f"meta l4proto {proto}", []))
        elif isinstance(want, str):  # a named port: each target pod's own number for it
            for pod in target_pods:
                number = pod.named_ports.get(want)
                if number is not None:
                    out.append((f"{proto} dport {number}", [str(pod.ip)]))
        else:
            end = p.get("endPort")
            out.append((f"{proto} dport {want}-{end}" if end else f"{proto} dport {want}", []))
    return out


def network_policy(policies: Sequence[Mapping], local_pods: Sequence, all_pods: Sequence,
                   ns_labels: Mapping[str, Mapping[str, str]]) -> str:
    """NetworkPolicy for the pods on one node, in its forward hook (egress by source, ingress by destination)."""
    base = ["ct state established,related accept"]
    to_host = ["ct state established,related accept"]  # a pod's egress to its own node (Calico cali-wl-to-host)
    chains = []
    for n, pod in enumerate(local_pods):
        for direction, field, other_field, peers_key in (("Egress", "saddr", "daddr", "to"),
                                                          ("Ingress", "daddr", "saddr", "from")):
            selecting = []
            for pol in policies:
                spec = pol["spec"]
                if pol["metadata"].get("namespace", "default") != pod.namespace or \
                        not _selects(spec.get("podSelector") or {}, pod.labels):
                    continue
                types = spec.get("policyTypes") or (["Ingress", "Egress"] if spec.get("egress") else ["Ingress"])
                if direction in types:
                    selecting.append(pol)
            if not selecting:
                continue
            lines = []
            for pol in selecting:
                name = pol["metadata"]["name"]
                for rule in pol["spec"].get(direction.lower()) or []:
                    peers = rule.get(peers_key)
                    if peers:
                        peer_sets = [_peer_addresses(p, pod.namespace, all_pods, ns_labels) for p in peers]
                    else:
                        peer_sets = [(["0.0.0.0/0"], [])]
                    # Named ports resolve on the destination pod: the pod itself for ingress, each peer for egress.
                    for addrs, excepted in peer_sets:
                        if not addrs:
                            continue
                        targets = [pod] if direction == "Ingress" else [p for p in all_pods if str(p.ip) in addrs]
                        for l4, only in _port_matches(rule.get("ports"), targets):
                            if direction == "Egress" and only:
                                chosen = [a for a in addrs if a in only]
                            else:
                                chosen = addrs
                            if not chosen:
                                continue
                            parts = [f"ip {other_field} {_set(chosen)}" if chosen != ["0.0.0.0/0"] else ""]
                            if excepted:
                                parts.append(f"ip {other_field} != {_set(excepted)}")
                            parts.append(l4)
                            lines.append(" ".join(x for x in parts if x) + f' return comment "{name}"')
            lines.append(_reject("NetworkPolicy", f"{direction.lower()} of {pod.ref}"))
            chain = f"{direction.lower()}-{n}"
            chains.append((chain, lines))
            base.append(f'ip {field} {pod.ip} jump {chain} comment "{pod.ref}"')
            if direction == "Egress":
                to_host.append(f'ip saddr {pod.ip} jump {chain} comment "{pod.ref}"')
    if len(base) == 1:
        return ""
    return _table("inet netpol", [("forward", "type filter hook forward priority 0; policy accept;", base),
                                  ("input", "type filter hook input priority 0; policy accept;", to_host)]
                  + [(n, "", body) for n, body in chains])


def _table(name: str, chains: Sequence[tuple[str, str, Sequence[str]]]) -> str:
    """One table, replaced whole: nft applies the file as one transaction (add, delete, define)."""
    out = [f"add table {name}", f"delete table {name}", f"table {name} {{"]
    for chain, hook, rules in chains:
        out.append(f"  chain {chain} {{")
        if hook:
            out.append(f"    {hook}")
        out += [f"    {r}" for r in rules]
        out.append("  }")
    out.append("}")
    return "\n".join(out)
