"""CoreDNS Corefiles as data: a small model (server blocks -> plugins with arguments and nested
blocks), a renderer, a parser for the subset of the Caddyfile syntax CoreDNS configurations use,
and the builder of the cluster's Corefile. Pure: no Pulumi, tested without mocks.

Facts the builder relies on (coredns/coredns at v1.14.2, the version of the pinned EKS add-on):

- Plugins run in the order of ``plugin.cfg`` (cache, then hosts, then kubernetes, then forward),
  never in the order they are written in a server block. A ``hosts`` block that should not hide the
  cluster's own names therefore needs ``fallthrough``: hosts answers first and passes every name it
  does not hold down the chain, where kubernetes (cluster.local) and forward (everything else) answer.
- ``hosts`` takes inline ``IP name...`` lines only before ``fallthrough`` (plugin/hosts/setup.go treats
  anything after it as an unknown property), so entries always come first.
- ``cache [TTL]``: TTL is the cap in seconds and must be > 0 (plugin/cache/setup.go); CoreDNS's own
  maximum is 3600 (plugin/pkg/dnsutil/ttl.go). Replies passing through cache carry at most that TTL,
  so hosts' default record TTL (3600) is capped by it too.
- ``forward`` takes at most 15 upstreams (plugin/forward/README.md).
- ``kubernetes ... { pods verified }`` answers pod A records only for pods that exist; it keeps a
  watch on all pods, so CoreDNS needs list/watch on pods (EKS's ``system:coredns`` ClusterRole grants
  it: docs/dns.md).
- The EKS add-on's readiness probe uses ``/ready`` (the ``ready`` plugin) and its liveness probe
  ``/health`` (EKS user guide, "Manage CoreDNS": a custom Corefile must keep ``ready``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

CLUSTER_DOMAIN = "cluster.local"
REVERSE_ZONES = ("in-addr.arpa", "ip6.arpa")
DEFAULT_CACHE_SECONDS = 30  # EKS's and upstream Kubernetes' default Corefile
LAMEDUCK = "5s"  # EKS's default Corefile; stays inside the pods' 30 s termination grace period
METRICS = ":9153"  # the kube-dns Service's prometheus.io/port
NODE_RESOLVER = "/etc/resolv.conf"  # CoreDNS pods use dnsPolicy Default: the node's (VPC) resolver
MAX_UPSTREAMS = 15  # forward plugin limit
INDENT = "    "


class CorefileError(ValueError):
    """Text that is not a Corefile this parser understands, with the line it stopped at."""


@dataclass(frozen=True)
class Directive:
    """One plugin line (``name args...``), with the lines of its ``{ ... }`` block if it has one."""

    name: str
    args: tuple[str, ...] = ()
    block: tuple[Directive, ...] | None = None
    comment: str = field(default="", compare=False)  # rendered as a "# ..." line above; not parsed back

    def get(self, name: str) -> Directive | None:
        return next((d for d in self.block or () if d.name == name), None)


@dataclass(frozen=True)
class ServerBlock:
    """``keys... { directives }``: the zones (with optional port) it serves and its plugins."""

    keys: tuple[str, ...]
    directives: tuple[Directive, ...]
    comment: str = field(default="", compare=False)

    def get(self, name: str) -> Directive | None:
        return next((d for d in self.directives if d.name == name), None)

    @property
    def zones(self) -> tuple[str, ...]:
        """The zones the keys name, without port or scheme: ".:53" -> ".", "example.com:53" -> "example.com"."""
        return tuple(zone_of_key(k) for k in self.keys)


def zone_of_key(key: str) -> str:
    key = key.split("://", 1)[-1]
    zone = key.rsplit(":", 1)[0] if ":" in key else key
    return zone.rstrip(".").lower() or "."


# --- rendering --------------------------------------------------------------------------------

def _render_directive(d: Directive, depth: int) -> list[str]:
    pad = INDENT * depth
    lines = [f"{pad}# {c}" for c in d.comment.splitlines()] if d.comment else []
    head = " ".join((d.name, *d.args))
    if d.block is None:
        return [*lines, pad + head]
    lines.append(f"{pad}{head} {{")
    for child in d.block:
        lines += _render_directive(child, depth + 1)
    lines.append(pad + "}")
    return lines


def render(blocks: Iterable[ServerBlock]) -> str:
    out: list[str] = []
    for block in blocks:
        out += [f"# {c}" for c in block.comment.splitlines()] if block.comment else []
        out.append(" ".join(block.keys) + " {")
        for d in block.directives:
            out += _render_directive(d, 1)
        out.append("}")
    return "\n".join(out) + "\n"


# --- parsing ----------------------------------------------------------------------------------

def _tokens(line: str, number: int) -> list[str]:
    """Whitespace-separated tokens; "double quotes" group; a token starting with # ends the line."""
    tokens, i = [], 0
    while i < len(line):
        ch = line[i]
        if ch.isspace():
            i += 1
        elif ch == "#":
            break
        elif ch == '"':
            end = line.find('"', i + 1)
            if end < 0:
                raise CorefileError(f"line {number}: unterminated quote")
            tokens.append(line[i + 1:end])
            i = end + 1
        else:
            j = i
            while j < len(line) and not line[j].isspace():
                j += 1
            tokens.append(line[i:j])
            i = j
    return tokens


def parse(text: str) -> tuple[ServerBlock, ...]:
    """Server blocks of a Corefile. Braces open at the end of a line and close on a line of their own
    (how CoreDNS configurations are written); nested blocks of any depth are kept."""
    lines = [(n, _tokens(raw, n)) for n, raw in enumerate(text.splitlines(), 1)]
    lines = [(n, t) for n, t in lines if t]
    pos = 0

    def block(opened_at: int) -> tuple[Directive, ...]:
        nonlocal pos
        items: list[Directive] = []
        while pos < len(lines):
            n, toks = lines[pos]
            pos += 1
            if toks == ["}"]:
                return tuple(items)
            if "}" in toks or "{" in toks[:-1]:
                raise CorefileError(f"line {n}: braces must open at the end of a line and close alone on one")
            if toks[-1] == "{":
                if len(toks) == 1:
                    raise CorefileError(f"line {n}: a block needs a plugin name before '{{'")
                items.append(Directive(toks[0], tuple(toks[1:-1]), block(n)))
            else:
                items.append(Directive(toks[0], tuple(toks[1:])))
        raise CorefileError(f"line {opened_at}: block is never closed")

    servers: list[ServerBlock] = []
    while pos < len(lines):
        n, toks = lines[pos]
        pos += 1
        if toks[-1] != "{" or len(toks) == 1 or "{" in toks[:-1] or "}" in toks:
            raise CorefileError(f"line {n}: expected a server block like '.:53 {{', got {' '.join(toks)!r}")
        servers.append(ServerBlock(tuple(toks[:-1]), block(n)))
    if not servers:
        raise CorefileError("no server block")
    return tuple(servers)


def server_for(blocks: Iterable[ServerBlock], zone: str) -> ServerBlock | None:
    """The server block CoreDNS would hand a query for ``zone`` to: the longest matching zone."""
    zone = zone.rstrip(".").lower() or "."
    best, best_len = None, -1
    for b in blocks:
        for z in b.zones:
            if (z == "." or zone == z or zone.endswith("." + z)) and (0 if z == "." else len(z)) > best_len:
                best, best_len = b, 0 if z == "." else len(z)
    return best


# --- the cluster's Corefile -------------------------------------------------------------------

@dataclass(frozen=True)
class HostEntry:
    ip: str
    names: tuple[str, ...]


@dataclass(frozen=True)
class CorednsSettings:
    """What the ``coredns`` config key sets (validated by components/dns_config.py)."""

    hosts: tuple[HostEntry, ...] = ()
    stub_domains: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (domain, upstream IPs), sorted by domain
    cache_seconds: int = DEFAULT_CACHE_SECONDS


def _hosts(entries: Sequence[HostEntry]) -> Directive:
    lines = tuple(Directive(str(ipaddress.ip_address(e.ip)), tuple(e.names)) for e in entries)
    return Directive("hosts", (), (*lines, Directive("fallthrough")),
                     comment="runs before kubernetes (plugin.cfg order): fallthrough passes every other name on")


def default_block(settings: CorednsSettings, cluster_domain: str = CLUSTER_DOMAIN) -> ServerBlock:
    """The cluster's ``.:53`` block: EKS's default plugins, pods verified, plus the hosts entries."""
    directives = [
        Directive("errors"),
        Directive("health", (), (Directive("lameduck", (LAMEDUCK,)),)),
        Directive("ready"),
    ]
    if settings.hosts:
        directives.append(_hosts(settings.hosts))
    directives += [
        Directive("kubernetes", (cluster_domain, *REVERSE_ZONES), (
            Directive("pods", ("verified",)),
            Directive("fallthrough", REVERSE_ZONES),
        )),
        Directive("prometheus", (METRICS,)),
        Directive("forward", (".", NODE_RESOLVER)),
        Directive("cache", (str(settings.cache_seconds),)),
        Directive("loop"),
        Directive("reload"),
        Directive("loadbalance"),
    ]
    return ServerBlock((".:53",), tuple(directives))


def stub_block(domain: str, upstreams: Sequence[str], cache_seconds: int) -> ServerBlock:
    """A stub domain: its own server block, so every name under it goes to its upstreams."""
    ips = tuple(str(ipaddress.ip_address(ip)) for ip in upstreams)
    return ServerBlock((f"{domain}:53",), (
        Directive("errors"),
        Directive("cache", (str(cache_seconds),)),
        Directive("forward", (".", *ips)),
    ))


def coredns_blocks(settings: CorednsSettings, cluster_domain: str = CLUSTER_DOMAIN) -> tuple[ServerBlock, ...]:
    stubs = sorted(settings.stub_domains)
    return (default_block(settings, cluster_domain),
            *(stub_block(d, ips, settings.cache_seconds) for d, ips in stubs))


def coredns_corefile(settings: CorednsSettings, cluster_domain: str = CLUSTER_DOMAIN) -> str:
    return render(coredns_blocks(settings, cluster_domain))


def addon_configuration(settings: CorednsSettings) -> dict[str, str]:
    """The CoreDNS add-on's configuration values: the schema key ``corefile`` holds the whole file."""
    return {"corefile": coredns_corefile(settings)}
