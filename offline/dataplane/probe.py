"""Traffic through the emulation: echo servers and bounded TCP/UDP probes, all sockets made inside the
namespaces (kernel.inside) and driven by one non-blocking loop in this thread, so a batch of probes costs
one timeout however many are dropped, and no process is started.

A server answers ``<its name> <the source address it saw>``: a probe learns who answered (which endpoint
kube-proxy chose) and what source the packet arrived with (a node's, a tunnel's, a pod's). A probe that gets
no answer within the timeout was dropped somewhere; one refused or unreachable got an error back.

Path-MTU probes send one UDP datagram of a given IP packet size with DF set (IP_PMTUDISC_PROBE: don't
fragment, and ignore any path MTU learnt earlier, so every probe measures the path itself). Too big for a
link on the way: the sender's own interface refuses it (EMSGSIZE), or a router on the way answers ICMP
"fragmentation needed", which IP_RECVERR turns into the same error on the socket.
"""

from __future__ import annotations

import errno
import selectors
import socket
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass

from . import spawning
from .netns import inside
from .nft import ICMP_CODES

IP_MTU_DISCOVER, IP_PMTUDISC_PROBE, IP_RECVERR = 10, 3, 11
IP_UDP_HEADERS = 28  # IPv4 (20) + UDP (8): a datagram of n payload bytes is an IP packet of n + 28


@dataclass(frozen=True)
class Probe:
    key: str  # what it checks (a flow's name)
    netns: str  # where the client runs
    dst: str
    port: int
    protocol: str = "tcp"  # "tcp" | "udp"
    size: int | None = None  # UDP only: the IP packet's size, sent with DF set
    bind: str | None = None  # the client's source address, when its namespace has several
    sport: int | None = None  # the client's source port (kube-proxy pins a probe's endpoint by address and port)


@dataclass(frozen=True)
class Outcome:
    probe: Probe
    ok: bool
    detail: str  # "answered", "timed out", what refused it
    server: str | None = None  # who answered
    seen_source: str | None = None  # the source address the server saw
    hop: str | None = None  # who sent the ICMP error back (the hop that dropped the packet)

    def __str__(self) -> str:
        if self.ok:
            return f"answered by {self.server} (saw {self.seen_source})"
        return self.detail


class Servers:
    """Echo servers listening inside namespaces, until ``close``."""

    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.listening: dict[tuple[str, str, int], socket.socket] = {}

    def listen(self, netns: str, name: str, port: int, protocol: str = "tcp", address: str = "0.0.0.0") -> None:
        key = (netns, protocol, port, address)
        if key in self.listening:
            return
        with inside(netns):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        spawning.bind(s, (address, port))
        s.setblocking(False)
        if protocol == "tcp":
            s.listen(64)
            self.sel.register(s, selectors.EVENT_READ, ("accept", name))
        else:
            self.sel.register(s, selectors.EVENT_READ, ("udp", name))
        self.listening[key] = s

    def proxy(self, netns: str, name: str, port: int, upstream: tuple[str, int], sport: int | None = None) -> None:
        """A TCP listener in ``netns`` that relays each connection to ``upstream`` from its own address (and
        ``sport``): a load balancer's node with an instance target and client IP preservation off."""
        with inside(netns):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        spawning.bind(s, ("0.0.0.0", port))
        s.listen(16)
        s.setblocking(False)
        self.sel.register(s, selectors.EVENT_READ, ("proxy", name, netns, upstream, sport))
        self.listening[(netns, "proxy", port)] = s

    def _relay(self, key, mask) -> None:
        """One proxied connection: the client's request, once upstream is connected, goes up; the answer down."""
        kind, state = key.data[0], key.data[1]
        s = key.fileobj
        if s.fileno() == -1:
            return
        try:
            if kind == "down":  # the client's request
                state["request"] += s.recv(65536)
                self.sel.unregister(s)
            elif not state["connected"]:  # upstream's connect finished
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    raise ConnectionError
                state["connected"] = True
                self.sel.modify(s, selectors.EVENT_READ, key.data)
            else:  # upstream's answer
                answer = s.recv(65536)
                if answer:
                    state["client"].send(answer)
                raise ConnectionError  # done either way
            if state["connected"] and state["request"] and not state["sent"]:
                state["up"].send(state["request"])
                state["sent"] = True
        except OSError:
            for sock in (state["client"], state["up"]):
                try:
                    self.sel.unregister(sock)
                except (KeyError, ValueError):
                    pass
                _reset_close(sock)

    def handle(self, key, mask) -> None:
        kind = key.data[0]
        s = key.fileobj
        if kind in ("down", "up"):
            self._relay(key, mask)
            return
        if kind == "proxy":
            try:
                conn, _ = s.accept()
            except BlockingIOError:
                return
            _, _, netns, upstream, sport = key.data
            with inside(netns):
                up = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            up.setblocking(False)
            if sport:
                spawning.bind(up, ("0.0.0.0", sport))
            conn.setblocking(False)
            state = {"client": conn, "up": up, "request": b"", "connected": False, "sent": False}
            up.connect_ex(upstream)
            self.sel.register(conn, selectors.EVENT_READ, ("down", state))
            self.sel.register(up, selectors.EVENT_WRITE, ("up", state))
            return
        name = key.data[1]
        if kind == "accept":
            try:
                conn, peer = s.accept()
            except BlockingIOError:
                return
            conn.setblocking(False)
            self.sel.register(conn, selectors.EVENT_READ, ("conn", name, peer[0]))
        elif kind == "conn":
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if data:
                try:
                    s.send(f"{name} {key.data[2]}\n".encode())
                except OSError:
                    pass
            self.sel.unregister(s)
            s.close()
        elif kind == "udp":
            try:
                data, peer = s.recvfrom(65536)
                s.sendto(f"{name} {peer[0]} {len(data) + IP_UDP_HEADERS}\n".encode(), peer)
            except OSError:
                pass

    def reset_relays(self) -> None:
        """Drop every relayed connection still open (before probes are sent again from the same ports)."""
        for key in list(self.sel.get_map().values()):
            if key.data[0] in ("down", "up"):
                self.sel.unregister(key.fileobj)
                _reset_close(key.fileobj)

    def close(self) -> None:
        if self.sel.get_map() is None:
            return  # closed already
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()
        self.sel.close()
        self.listening.clear()


def _client(probe: Probe) -> socket.socket:
    with inside(probe.netns):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if probe.protocol == "tcp" else socket.SOCK_DGRAM)
    s.setblocking(False)
    s.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)
    if probe.bind or probe.sport:
        spawning.bind(s, (probe.bind or "0.0.0.0", probe.sport or 0))
    if probe.protocol == "udp" and probe.size is not None:
        s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE)
    return s


def _reset_close(s: socket.socket) -> None:
    """Close with a reset (SO_LINGER 0): no TIME_WAIT on either side, so the same address and port can probe again."""
    if s.fileno() == -1:
        return  # closed already (both ends of a relay can be ready in one round)
    if s.type == socket.SOCK_STREAM:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def _why(s: socket.socket, code: int) -> tuple[str, str | None]:
    """What an error means, read from the ICMP error the socket queued (IP_RECVERR): the kind of hop that
    dropped the packet (nft.REJECT's codes) and the address it came from."""
    name = errno.errorcode.get(code, str(code))
    try:
        _, ancillary, _, _ = s.recvmsg(1, 1024, socket.MSG_ERRQUEUE)
    except OSError:
        return name, None
    for level, kind, data in ancillary:
        if level == socket.IPPROTO_IP and kind == IP_RECVERR and len(data) >= 24:
            _, origin, icmp_type, icmp_code = struct.unpack_from("IBBB", data)
            offender = socket.inet_ntoa(data[20:24])
            if origin == 2 and icmp_type == 3:  # SO_EE_ORIGIN_ICMP, destination unreachable
                what = "fragmentation needed" if icmp_code == 4 else ICMP_CODES.get(icmp_code, f"code {icmp_code}")
                return f"refused: {what}", offender
    return name, None


def run(probes: Sequence[Probe], servers: Servers, timeout: float = 0.5, retry: float = 2.0,
        expected: Sequence[bool] | None = None) -> list[Outcome]:
    """Run ``probes`` at once; each ends answered, with an error, or after ``timeout`` seconds of silence. A probe
    ``expected`` to be answered that timed out runs once more with ``retry`` seconds: almost every drop is refused
    at once (nft.REJECT), so a silence is rare, and a slow machine must not pass for a drop."""
    outcomes = _run(probes, servers, timeout)
    silent = [i for i, o in enumerate(outcomes) if o.detail == "timed out" and (expected is None or expected[i])]
    if retry and silent:
        servers.reset_relays()
        for i, o in zip(silent, _run([probes[i] for i in silent], servers, retry)):
            outcomes[i] = o
    return outcomes


def _run(probes: Sequence[Probe], servers: Servers, timeout: float) -> list[Outcome]:
    sel = servers.sel
    pending: dict[int, tuple[Probe, socket.socket]] = {}
    results: dict[int, Outcome] = {}

    def finish(i: int, ok: bool, detail: str, reply: bytes = b"", code: int = 0) -> None:
        probe, s = pending.pop(i)
        hop = None
        if code:
            detail, hop = _why(s, code)
        try:
            sel.unregister(s)
        except (KeyError, ValueError):
            pass
        _reset_close(s)
        words = reply.decode(errors="replace").split()
        results[i] = Outcome(probe, ok, detail, *(words[:2] if ok and len(words) >= 2 else (None, None)), hop)

    for i, probe in enumerate(probes):
        s = _client(probe)
        pending[i] = (probe, s)
        if probe.protocol == "tcp":
            code = s.connect_ex((probe.dst, probe.port))
            if code not in (0, errno.EINPROGRESS):
                finish(i, False, "", code=code)
                continue
            sel.register(s, selectors.EVENT_WRITE, ("client", i))
        else:
            s.connect((probe.dst, probe.port))
            payload = f"probe {probe.key}".encode()
            if probe.size is not None:
                payload = payload.ljust(probe.size - IP_UDP_HEADERS, b".")
            try:
                s.send(payload)
            except OSError as exc:
                finish(i, False, "", code=exc.errno)
                continue
            sel.register(s, selectors.EVENT_READ, ("client", i))

    deadline = time.monotonic() + timeout
    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for key, mask in sel.select(left):
            if key.data[0] != "client":
                servers.handle(key, mask)
                continue
            i = key.data[1]
            if i not in pending:
                continue
            probe, s = pending[i]
            if mask & selectors.EVENT_WRITE:  # TCP connect finished
                code = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if code:
                    finish(i, False, "", code=code)
                    continue
                s.send(f"probe {probe.key}\n".encode())
                sel.modify(s, selectors.EVENT_READ, ("client", i))
                continue
            try:
                reply = s.recv(65536)
            except OSError as exc:
                finish(i, False, "", code=exc.errno)
                continue
            finish(i, bool(reply), "answered" if reply else "closed without an answer", reply)
    for i in list(pending):
        finish(i, False, "timed out")
    return [results[i] for i in range(len(probes))]
