"""Apply a plan to the running kernel and take it away again: network namespaces, veth pairs created directly
inside them, ``ip -batch`` per namespace, sysctls, nftables.

Nothing touches the root namespace: every link is created with both ends inside namespaces of the plan, no
address or route is ever added outside them (``root_snapshot`` lets a test prove it). Every namespace name
starts with ``k8dp-<pid>-<n>-``: a run removes its own on exit, even after a failure, and removes at start
those of runs whose process is gone (a crash, a killed test).
"""

from __future__ import annotations

import errno
import itertools
import json
import os
import shutil
import socket
import struct
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import spawning
from .ipip import IpipShim
from .netns import NETNS_DIR, inside
from .plan import Plan

BASE_PREFIX = "k8dp-"
NETLINK_NETFILTER = 12
_runs = itertools.count()


class DataplaneError(RuntimeError):
    pass


def unavailable_reason() -> str | None:
    """Why the emulation cannot run here (None: it can): it needs root, iproute2, nftables and namespaces."""
    if os.geteuid() != 0:
        return "the emulated data plane needs root (network namespaces, nftables)"
    for tool, package in (("ip", "iproute2"), ("nft", "nftables")):
        if shutil.which(tool) is None:
            return f"`{tool}` not found: install the Debian package {package}"
    probe = f"{new_prefix()}probe"
    done = spawning.run(["ip", "netns", "add", probe])
    if done.returncode != 0:
        return f"cannot create a network namespace: {done.stderr.strip()}"
    spawning.run(["ip", "netns", "del", probe])
    return None


def new_prefix() -> str:
    return f"{BASE_PREFIX}{os.getpid()}-{next(_runs)}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def ours(prefix: str = BASE_PREFIX) -> list[str]:
    return sorted(p.name for p in NETNS_DIR.glob(f"{prefix}*")) if NETNS_DIR.is_dir() else []


def clean_stale() -> list[str]:
    """Remove namespaces left by runs whose process is gone; returns their names."""
    stale = []
    for name in ours():
        pid = name[len(BASE_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            stale.append(name)
    _delete(stale)
    return stale


def _delete(names: list[str]) -> None:
    if names:
        _ip_batch([f"netns del {n}" for n in names], check=False)


def _ip_batch(lines: list[str], netns: str | None = None, check: bool = True, tool: str = "ip") -> None:
    cmd = [tool, *(("-n", netns) if netns else ()), "-batch", "-"]
    done = spawning.run(cmd, input="\n".join(lines) + "\n")
    if check and done.returncode != 0:
        raise DataplaneError(f"{tool} -batch{' in ' + netns if netns else ''} failed: {done.stderr.strip()}")


def _nft(netns: str, script: str) -> None:
    # `ip netns exec` enters the namespace in the child: no preexec_fn here, which would make Python fork the
    # whole (test-suite-sized) process instead of spawning (10-50 ms a call).
    done = spawning.run(["ip", "netns", "exec", netns, "nft", "-f", "-"], input=script + "\n")
    if done.returncode != 0:
        raise DataplaneError(f"nft in {netns} failed: {done.stderr.strip()}\n{script}")


def _each(work: Callable[[object], None], items: Iterable) -> None:
    """``work`` on every item at once (each namespace's commands are independent of the others'): the time
    goes into ip/nft processes and nftables commits (an RCU grace period each), which overlap."""
    items = list(items)
    if len(items) < 2:
        for item in items:
            work(item)
        return
    with ThreadPoolExecutor(max_workers=min(8, len(items))) as pool:
        for future in [pool.submit(work, item) for item in items]:
            future.result()  # the first failure is raised


def _sysctls(netns: str, values: dict[str, str]) -> None:
    with inside(netns):
        for key, value in values.items():
            Path("/proc/sys", key).write_text(value)


def flush_conntrack(netns: str) -> None:
    """Forget every tracked connection in ``netns`` (what ``conntrack -F`` does: one ctnetlink delete without
    attributes), so a changed ruleset judges every packet anew, as a freshly deployed state would."""
    nfnl_subsys_ctnetlink, ipctnl_msg_ct_delete = 1, 2
    nlm_f_request, nlm_f_ack = 0x1, 0x4
    message = struct.pack("=IHHII", 20, (nfnl_subsys_ctnetlink << 8) | ipctnl_msg_ct_delete,
                          nlm_f_request | nlm_f_ack, 1, 0) + struct.pack("=BBH", socket.AF_INET, 0, 0)
    with inside(netns):
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
    with sock:
        sock.send(message)
        reply = sock.recv(4096)
    error = struct.unpack_from("=i", reply, 16)[0] if len(reply) >= 20 else 0
    if error not in (0, -errno.ENOENT):
        raise OSError(-error, os.strerror(-error))


def kernel_has_ipip() -> bool:
    """Whether the kernel has IPIP tunnels (CONFIG_NET_IPIP): tried in a throwaway namespace."""
    probe = f"{new_prefix()}ipip"
    _ip_batch([f"netns add {probe}"])
    try:
        done = spawning.run(["ip", "-n", probe, "link", "add", "t", "type", "ipip"])
        return done.returncode == 0
    finally:
        _delete([probe])


def _undo(line: str) -> str:
    verb, _, rest = line.partition(" add ")
    if verb not in ("route", "rule", "addr", "neigh") or not rest:
        raise DataplaneError(f"cannot undo {line!r}; build a new emulation instead")
    return f"{verb} del {rest}"


def root_snapshot() -> dict[str, list]:
    """The root namespace's interfaces, addresses, routes and rules (to show the emulation leaves them be)."""
    def q(*args):
        return json.loads(spawning.run(["ip", "-j", *args], check=True).stdout or "[]")
    return {
        "links": sorted(link["ifname"] for link in q("link", "show")),
        "addresses": sorted(f"{a['ifname']} {i['local']}/{i['prefixlen']}" for a in q("addr", "show")
                            for i in a.get("addr_info", [])),
        "routes": sorted(json.dumps(r, sort_keys=True) for r in q("route", "show", "table", "all")),
        "rules": sorted(json.dumps(r, sort_keys=True) for r in q("rule", "show")),
    }


def _apply(ns) -> None:
    """One namespace of a plan: its sysctls, addresses and routes, VXLAN forwarding entries, ruleset."""
    if ns.sysctls:
        _sysctls(ns.name, ns.sysctls)
    if ns.lines:
        _ip_batch(ns.lines, ns.name)
    if ns.fdb:
        _ip_batch(ns.fdb, ns.name, tool="bridge")
    if ns.nft:
        _nft(ns.name, "\n".join(ns.nft))


class Emulation:
    """A plan running in the kernel. ``with Emulation(plan) as emu:`` builds it and always removes it."""

    def __init__(self, plan: Plan, ipip: str = "auto"):
        self.plan = plan
        self.ipip = ipip  # "auto" (the kernel's when it has IPIP), "kernel" or "userspace"
        self.shim = None
        self.built = False

    def __enter__(self) -> Emulation:
        try:
            self.build()
        except BaseException:
            self.teardown()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.teardown()

    def build(self) -> None:
        clean_stale()
        plan = self.plan
        _ip_batch([f"netns add {ns.name}" for ns in plan.namespaces.values()])
        self.built = True
        _ip_batch(plan.links)
        self._tunnels()
        _each(_apply, plan.namespaces.values())

    def _tunnels(self) -> None:
        if not self.plan.tunnels:
            return
        mode = self.ipip
        if mode == "auto":
            mode = "kernel" if kernel_has_ipip() else "userspace"
        self.ipip = mode
        if mode == "kernel":
            for t in self.plan.tunnels:
                present = spawning.run(["ip", "-n", t.netns, "link", "show", t.device])
                if present.returncode != 0:  # no fallback device in this namespace: make the wildcard one
                    _ip_batch([f"link add name {t.device} type ipip"], t.netns)
        else:
            self.shim = IpipShim(self.plan.tunnels)
            self.shim.start()

    def resync(self, plan: Plan) -> list[str]:
        """Move the running emulation to ``plan`` (same namespaces and links, e.g. the state after a mutation):
        lines that went away are undone, new ones run, changed rulesets replaced. Returns the roles touched."""
        if plan.links != self.plan.links or set(plan.namespaces) != set(self.plan.namespaces) or \
                any(ns.fdb != self.plan.namespaces[r].fdb for r, ns in plan.namespaces.items()):
            raise DataplaneError("the namespaces or links changed: build a new emulation instead")
        changes = []
        for role, ns in plan.namespaces.items():
            old = self.plan.namespaces[role]
            gone = [_undo(line) for line in old.lines if line not in ns.lines]
            new = [line for line in ns.lines if line not in old.lines]
            if gone or new or ns.sysctls != old.sysctls or ns.nft != old.nft:
                changes.append((role, ns, gone + new, ns.sysctls != old.sysctls, ns.nft != old.nft))

        def change(item) -> None:
            _, ns, lines, sysctls, ruleset = item
            if lines:
                _ip_batch(lines, ns.name)
            if sysctls:
                _sysctls(ns.name, ns.sysctls)
            if ruleset:
                _nft(ns.name, "\n".join(ns.nft))

        _each(change, changes)
        for ns in plan.namespaces.values():  # a new state has no connections yet
            flush_conntrack(ns.name)
        self.plan = plan
        return [role for role, *_ in changes]

    def teardown(self) -> None:
        if self.shim is not None:
            self.shim.stop()
            self.shim = None
        if self.built:
            _delete([n for n in ours(self.plan.prefix)])
            self.built = False
