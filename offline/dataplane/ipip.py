"""IPIP for kernels built without it (CONFIG_NET_IPIP unset, as on this project's CI machine): a TUN device
named like Calico's (``tunl0``) on each node, and one thread that does what the kernel's ipip driver does
with a route ``<remote block> via <remote node> dev tunl0 onlink``: it puts each packet the node routes into
the device behind an outer IPv4 header of protocol 4 addressed to the remote node (a raw socket: the kernel
writes that header, from the node's own address), and hands every protocol-4 packet the node receives back to
the device without its outer header. Everything else -- routing, MTU, security groups on the outer packet,
NAT and policy on the inner one -- is the kernel's.
"""

from __future__ import annotations

import errno
import fcntl
import ipaddress
import os
import selectors
import socket
import struct
import threading
from collections.abc import Sequence

from .netns import inside
from .plan import Tunnel

TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x400454CA, 0x0001, 0x1000
IPPROTO_IPIP = 4
IP_MTU_DISCOVER, IP_PMTUDISC_DO = 10, 2  # setsockopt: DF on every packet
SIOCGIFMTU = 0x8921  # an interface's MTU (the node's eth0: the path the outer packets take)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _frag_needed(packet: bytes, mtu: int) -> bytes:
    """The ICMP message "fragmentation needed" (type 3, code 4, next-hop MTU) quoting ``packet``."""
    quoted = packet[:(packet[0] & 0x0F) * 4 + 8]
    icmp = struct.pack("!BBHHH", 3, 4, 0, 0, mtu) + quoted
    return icmp[:2] + struct.pack("!H", _checksum(icmp)) + icmp[4:]


class IpipShim:
    def __init__(self, tunnels: Sequence[Tunnel]):
        self.tunnels = list(tunnels)
        self.sel = selectors.DefaultSelector()
        self.files: list = []
        self._stop_r, self._stop_w = os.pipe()
        self.thread = threading.Thread(target=self._loop, name="ipip-shim", daemon=True)

    def start(self) -> None:
        for t in self.tunnels:
            with inside(t.netns):
                fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
                fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", t.device.encode(), IFF_TUN | IFF_NO_PI))
                raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_IPIP)
                icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
            raw.setblocking(False)
            peers = [(ipaddress.ip_network(block), node) for block, node in t.peers.items()]
            self.sel.register(fd, selectors.EVENT_READ, ("tun", raw, peers, icmp))
            self.files.append(icmp)
            self.sel.register(raw, selectors.EVENT_READ, ("raw", fd, None, None))
            self.files += [fd, raw]
        self.sel.register(self._stop_r, selectors.EVENT_READ, ("stop", None, None, None))
        self.thread.start()

    def _loop(self) -> None:
        while True:
            for key, _ in self.sel.select():
                kind, other, peers, _ = key.data
                if kind == "stop":
                    return
                try:
                    if kind == "tun":  # a packet the node routed into tunl0: encapsulate to the remote node
                        packet = os.read(key.fd, 65535)
                        dst = ipaddress.IPv4Address(packet[16:20])
                        node = next((n for block, n in peers if dst in block), None)
                        if node is not None:
                            # The driver copies the inner DF to the outer header (pmtudisc on, its default).
                            df = bool(packet[6] & 0x40)
                            other.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DO if df else 0)
                            try:
                                other.sendto(packet, (node, 0))
                            except OSError as exc:
                                if exc.errno != errno.EMSGSIZE or not df:
                                    raise
                                # The ipip driver's answer to a DF packet its tunnel cannot carry (ip_tunnel.c
                                # tnl_update_pmtu): "fragmentation needed", next-hop MTU the path's minus 20.
                                link = fcntl.ioctl(other, SIOCGIFMTU, struct.pack("16si", b"eth0", 0))
                                mtu = struct.unpack("16si", link)[1] - 20
                                icmp = key.data[3]  # sent by the node itself, as the driver's icmp_send is
                                icmp.sendto(_frag_needed(packet, mtu), (socket.inet_ntoa(packet[12:16]), 0))
                    else:  # an IPIP packet for this node: strip the outer header, hand the inner one to tunl0
                        outer = key.fileobj.recv(65535)
                        os.write(other, outer[(outer[0] & 0x0F) * 4:])
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    continue  # a packet the stand-in cannot deliver is lost

    def stop(self) -> None:
        os.write(self._stop_w, b"x")
        if self.thread.is_alive():
            self.thread.join(timeout=5)
        for f in self.files:
            f.close() if hasattr(f, "close") else os.close(f)
        self.sel.close()
        os.close(self._stop_r)
        os.close(self._stop_w)
