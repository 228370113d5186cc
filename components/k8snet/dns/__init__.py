"""Cluster DNS: the CoreDNS Corefile as data (``corefile``: model, renderer, parser, builder), the
``coredns`` settings' validation (``settings``) and NodeLocal DNSCache (``NodeLocalDns``)."""

from typing import TYPE_CHECKING

from ..shared import lazy

if TYPE_CHECKING:
    from .node_local_dns import NodeLocalDns, NodeLocalDnsArgs

__getattr__, __all__ = lazy.exports(__name__, {"NodeLocalDns": "node_local_dns", "NodeLocalDnsArgs": "node_local_dns"})
