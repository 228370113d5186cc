"""Validation of the ``coredns`` config value into ``corefile.CorednsSettings``. Pure.

Shape (docs/dns.md)::

    coredns:
      hosts:                              # inline hosts entries in the cluster's default block
        - {ip: 192.168.0.123, names: [myapp.local]}
      stubDomains:                        # domain -> upstream DNS servers (one server block each)
        mydomain.com: [10.0.0.1]
      cacheSeconds: 30                    # the cache plugin's cap, 1..3600

Every problem is reported through ``add(key, message)`` with the key path (``coredns.hosts[0].ip``,
``coredns.stubDomains.mydomain.com[0]``) and the fix.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Callable
from ipaddress import IPv4Network
from typing import Any

from ..network import addressing
from . import corefile
from .corefile import CorednsSettings, HostEntry
from .node_local_dns_manifests import LOCAL_IP as NODE_LOCAL_IP

KEYS = ("hosts", "stubDomains", "cacheSeconds")
HOST_KEYS = ("ip", "names")
CACHE_BOUNDS = (1, 3600)  # CoreDNS refuses 0 (plugin/cache/setup.go); 3600 is its own maximum TTL
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

Add = Callable[[str, str], None]


def _suggest(word: str, choices) -> str:
    match = difflib.get_close_matches(str(word).lower(), [c.lower() for c in choices], n=1)
    hint = next((c for c in choices if match and c.lower() == match[0]), None)
    return f"did you mean {hint}?" if hint else f"use {', '.join(choices)}"


def dns_name(text: Any) -> tuple[str | None, str | None]:
    """(normalised name, None) or (None, why not): lowercase, one trailing dot allowed and dropped,
    letters/digits/hyphens per label (RFC 1123), labels 1..63, name at most 253."""
    if not isinstance(text, str):
        return None, f"{text!r} is not a DNS name (expected text like example.com)"
    name = text.strip().lower()
    if name == ".":
        return None, "'.' is the root zone, which the default block forwards to the node's resolver; name a domain"
    name = name[:-1] if name.endswith(".") and not name.endswith("..") else name
    if not name:
        return None, f"{text!r} is empty; write a name like example.com"
    try:
        ipaddress.ip_address(name)
        return None, f"{text!r} is an IP address, not a DNS name"
    except ValueError:
        pass
    if len(name) > 253:
        return None, f"{text!r} is longer than 253 characters"
    for label in name.split("."):
        if not label:
            return None, f"{text!r} has an empty label (two dots in a row, or a leading dot)"
        if not _LABEL.match(label):
            return None, (f"{text!r}: label {label!r} must be 1-63 letters, digits or '-', "
                          "not starting or ending with '-'")
    return name, None


def _under(name: str, zone: str) -> bool:
    return name == zone or name.endswith("." + zone)


def _reverse_network(zone: str) -> IPv4Network | None:
    """The IPv4 network an in-addr.arpa zone covers (10.in-addr.arpa -> 10.0.0.0/8), else None."""
    if not _under(zone, "in-addr.arpa") or zone == "in-addr.arpa":
        return None
    octets = zone[: -len(".in-addr.arpa")].split(".")[::-1]
    if len(octets) > 4 or not all(o.isdigit() and int(o) < 256 for o in octets):
        return None
    return IPv4Network(".".join(octets + ["0"] * (4 - len(octets))) + f"/{8 * len(octets)}", strict=False)


def _address(key: str, raw: Any, add: Add) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(raw.strip() if isinstance(raw, str) else raw)
    except ValueError:
        add(key, f"{raw!r} is not an IP address; write it like 10.0.0.1 (no port, no CIDR)")
        return None


def _map(key: str, raw: Any, what: str, add: Add) -> dict | None:
    if isinstance(raw, dict):
        return raw
    add(key, f"expected a map of {what}, got {type(raw).__name__}")
    return None


def _list(key: str, raw: Any, example: str, add: Add) -> list | None:
    if isinstance(raw, list):
        return raw
    add(key, f"expected a list like {example}, got {type(raw).__name__}")
    return None


def parse(raw: Any, pod_cidr: IPv4Network | None, service_cidr: IPv4Network | None,
          add: Add, cluster_domain: str = corefile.CLUSTER_DOMAIN) -> CorednsSettings | None:
    """Validate the ``coredns`` value; None (after reporting through ``add``) when anything is wrong."""
    found: list[str] = []

    def report(key: str, message: str) -> None:
        found.append(key)
        add(key, message)

    raw = _map("coredns", raw, "hosts / stubDomains / cacheSeconds", report) if raw is not None else {}
    if raw is None:
        return None
    for unknown in sorted(set(raw) - set(KEYS), key=str):
        report(f"coredns.{unknown}", f"unknown setting; {_suggest(unknown, KEYS)}")

    cache = raw.get("cacheSeconds", corefile.DEFAULT_CACHE_SECONDS)
    if isinstance(cache, str) and cache.strip().isdigit():  # `pulumi config set --path` may hand over text
        cache = int(cache)
    low, high = CACHE_BOUNDS
    if isinstance(cache, bool) or not isinstance(cache, (int, float)) or int(cache) != cache:
        report("coredns.cacheSeconds", f"expected a whole number of seconds {low}..{high}, got {cache!r}")
    elif not low <= cache <= high:
        report("coredns.cacheSeconds", f"{int(cache)} is outside {low}..{high}: CoreDNS refuses 0, and above its own "
               f"maximum TTL ({high} s) answers would stay stale for more than an hour")

    kube_dns = addressing.kube_dns_ip(service_cidr) if service_cidr is not None else None
    stubs = _stub_domains(raw.get("stubDomains", {}), pod_cidr, service_cidr, kube_dns, cluster_domain, report)
    hosts = _hosts(raw.get("hosts", []), pod_cidr, [d for d, _ in stubs], cluster_domain, report)
    if found:
        return None
    return CorednsSettings(hosts=tuple(hosts), stub_domains=tuple(sorted(stubs)), cache_seconds=int(cache))


def _stub_domains(raw: Any, pod_cidr, service_cidr, kube_dns: str | None, cluster_domain: str,
                  add: Add) -> list[tuple[str, tuple[str, ...]]]:
    raw = _map("coredns.stubDomains", raw, "domain -> [upstream IPs]", add)
    out: dict[str, tuple[str, ...]] = {}
    seen: dict[str, str] = {}  # normalised name -> the key it was first given as
    for domain in sorted(raw or {}, key=str):
        key = f"coredns.stubDomains.{domain}"
        name, why = dns_name(domain)
        if why:
            add(key, why)
            continue
        if name in seen:
            add(key, f"the same domain as coredns.stubDomains.{seen[name]} (names are case-insensitive and a "
                "trailing dot is ignored); keep one")
            continue
        seen[name] = domain
        if _under(name, cluster_domain):
            add(key, f"{name} is inside the cluster domain {cluster_domain}, which the kubernetes plugin answers; "
                "a stub domain there would hide Services")
            continue
        if name in ("arpa", *corefile.REVERSE_ZONES):
            add(key, f"{name} is the whole reverse tree; the kubernetes plugin answers PTR lookups of pod and "
                "Service IPs there. Stub a narrower zone such as 168.192.in-addr.arpa")
            continue
        network = _reverse_network(name)
        clash = next((f"{label} {net}" for label, net in (("podCidr", pod_cidr), ("serviceCidr", service_cidr))
                      if network is not None and net is not None and network.overlaps(net)), None)
        if clash:
            add(key, f"{name} covers {network}, which overlaps {clash}: PTR lookups of pod and Service IPs "
                "must stay with the kubernetes plugin. Stub a zone outside those ranges")
            continue
        upstreams = _list(key, raw[domain], "[10.0.0.1]", add)
        if upstreams is None:
            continue
        if not 1 <= len(upstreams) <= corefile.MAX_UPSTREAMS:
            add(key, f"needs 1 to {corefile.MAX_UPSTREAMS} upstream IPs (forward plugin limit), got {len(upstreams)}")
            continue
        ips = [_upstream(f"{key}[{i}]", ip, pod_cidr, kube_dns, add) for i, ip in enumerate(upstreams)]
        if all(ips):
            out[name] = tuple(ips)
    return sorted(out.items())


def _upstream(key: str, raw: Any, pod_cidr, kube_dns: str | None, add: Add) -> str | None:
    ip = _address(key, raw, add)
    if ip is None:
        return None
    if ip.version == 6:
        add(key, f"{ip} is IPv6; the cluster is IPv4-only, so CoreDNS pods have no route to it")
    elif ip.is_loopback or ip.is_unspecified or ip.is_multicast:
        add(key, f"{ip} is a loopback/unspecified/multicast address; inside a CoreDNS pod it would not reach a "
            "DNS server (loopback is CoreDNS itself: a loop)")
    elif str(ip) in (kube_dns, NODE_LOCAL_IP):
        add(key, f"{ip} is the cluster's own DNS (kube-dns or node-local-dns); forwarding there loops back to CoreDNS")
    elif pod_cidr is not None and ip in pod_cidr:
        add(key, f"{ip} is inside podCidr {pod_cidr}: pod IPs change when pods restart. Point the stub at a "
            "stable address (a server outside the cluster, or a Service with a fixed clusterIP)")
    else:
        return str(ip)
    return None


def _hosts(raw: Any, pod_cidr, stub_domains: list[str], cluster_domain: str, add: Add) -> list[HostEntry]:
    raw = _list("coredns.hosts", raw, "[{ip: 192.168.0.123, names: [myapp.local]}]", add)
    entries = []
    for i, entry in enumerate(raw or []):
        key = f"coredns.hosts[{i}]"
        entry = _map(key, entry, "ip / names", add)
        if entry is None:
            continue
        for unknown in sorted(set(entry) - set(HOST_KEYS), key=str):
            add(f"{key}.{unknown}", f"unknown setting; {_suggest(unknown, HOST_KEYS)}")
        ip = _address(f"{key}.ip", entry.get("ip"), add) if "ip" in entry else None
        if "ip" not in entry:
            add(f"{key}.ip", "required: the address the names resolve to")
        elif ip is not None and ip.version == 4 and pod_cidr is not None and ip in pod_cidr:
            add(f"{key}.ip", f"{ip} is inside podCidr {pod_cidr}: pod IPs change when pods restart; "
                "use a Service name (or a Service's fixed clusterIP) instead")
            ip = None
        names = _list(f"{key}.names", entry.get("names"), "[myapp.local]", add)
        good = []
        for j, raw_name in enumerate(names or []):
            name_key = f"{key}.names[{j}]"
            name, why = dns_name(raw_name)
            if why:
                add(name_key, why)
            elif _under(name, cluster_domain):
                add(name_key, f"{name} is inside the cluster domain {cluster_domain}: hosts runs before the kubernetes "
                    "plugin and would answer instead of it")
            elif any(_under(name, r) for r in corefile.REVERSE_ZONES):
                add(name_key, f"{name} is a reverse-lookup name; hosts creates PTR records from its entries itself")
            elif any(_under(name, s) for s in stub_domains):
                stub = next(s for s in stub_domains if _under(name, s))
                add(name_key, f"{name} is inside stub domain {stub}, whose own server block answers it: this entry "
                    "would never be used")
            else:
                good.append(name)
        if names is not None and not names:
            add(f"{key}.names", "at least one name is required, e.g. [myapp.local]")
        if ip is not None and names and len(good) == len(names):
            entries.append(HostEntry(str(ip), tuple(good)))
    return entries
