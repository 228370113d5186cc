"""The Corefile model, parser and builder (k8snet/dns/corefile.py), without mocks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from k8snet.dns import corefile
from k8snet.dns.corefile import CorednsSettings, CorefileError, Directive, HostEntry, ServerBlock

DOCUMENTS = CorednsSettings(hosts=(HostEntry("192.168.0.123", ("myapp.local",)),),
                            stub_domains=(("mydomain.com", ("10.0.0.1",)),))


def _names(directives) -> list[str]:
    return [d.name for d in directives]


def test_dev_corefile_has_the_documents_entries_in_the_right_blocks_and_order():
    blocks = corefile.parse(corefile.coredns_corefile(DOCUMENTS))
    assert [b.keys for b in blocks] == [(".:53",), ("mydomain.com:53",)]  # default block first, then the stub
    default, stub = blocks
    # EKS's default plugins (pods verified instead of insecure), hosts before kubernetes like plugin.cfg runs them.
    assert _names(default.directives) == ["errors", "health", "ready", "hosts", "kubernetes", "prometheus", "forward",
                                          "cache", "loop", "reload", "loadbalance"]
    hosts = default.get("hosts")
    assert hosts.args == () and hosts.block == (Directive("192.168.0.123", ("myapp.local",)), Directive("fallthrough"))
    kubernetes = default.get("kubernetes")
    assert kubernetes.args == ("cluster.local", "in-addr.arpa", "ip6.arpa")
    assert kubernetes.get("pods").args == ("verified",)
    assert kubernetes.get("fallthrough").args == ("in-addr.arpa", "ip6.arpa")
    assert default.get("health").get("lameduck").args == ("5s",)
    assert default.get("forward").args == (".", "/etc/resolv.conf")
    assert default.get("cache").args == ("30",)
    # The stub domain: its own server block, forwarding everything under it to the documents' server.
    assert _names(stub.directives) == ["errors", "cache", "forward"]
    assert stub.get("forward").args == (".", "10.0.0.1")
    # Queries land in the block CoreDNS would pick: cluster names and myapp.local in the default one.
    assert corefile.server_for(blocks, "www.mydomain.com") is stub
    assert corefile.server_for(blocks, "mydomain.com.") is stub
    assert corefile.server_for(blocks, "mysql.webapp.svc.cluster.local") is default
    assert corefile.server_for(blocks, "myapp.local") is default
    assert corefile.server_for(blocks, "notmydomain.com") is default


def test_no_hosts_block_without_entries_and_cache_follows_settings():
    blocks = corefile.coredns_blocks(CorednsSettings(cache_seconds=5))
    assert len(blocks) == 1 and blocks[0].get("hosts") is None
    assert blocks[0].get("cache").args == ("5",)
    values = corefile.addon_configuration(CorednsSettings())
    assert list(values) == ["corefile"]  # the add-on schema's key
    assert corefile.parse(values["corefile"])[0].get("cache").args == ("30",)


def test_ipv6_hosts_entries_are_written_canonically():
    text = corefile.coredns_corefile(CorednsSettings(hosts=(HostEntry("2001:DB8::0:1", ("v6.local", "alias.local")),)))
    assert "        2001:db8::1 v6.local alias.local\n        fallthrough\n" in text


def test_round_trip_of_the_generated_text():
    text = corefile.coredns_corefile(DOCUMENTS)
    blocks = corefile.parse(text)
    assert blocks == corefile.coredns_blocks(DOCUMENTS)
    assert corefile.parse(corefile.render(blocks)) == blocks
    assert "# runs before kubernetes" in text  # comments are written for readers and skipped by the parser


_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789.:/-_", min_size=1, max_size=12).filter(
    lambda w: not w.startswith("#"))


def _directives(depth: int):
    leaf = st.builds(Directive, _word, st.lists(_word, max_size=3).map(tuple))
    if depth == 0:
        return leaf
    nested = st.builds(Directive, _word, st.lists(_word, max_size=3).map(tuple),
                       st.lists(_directives(depth - 1), max_size=3).map(tuple))
    return st.one_of(leaf, nested)


@given(st.lists(st.builds(ServerBlock, st.lists(_word, min_size=1, max_size=2).map(tuple),
                          st.lists(_directives(2), max_size=4).map(tuple)), min_size=1, max_size=3))
def test_round_trip_of_any_blocks(blocks):
    assert corefile.parse(corefile.render(blocks)) == tuple(blocks)


def test_parser_reads_hand_written_corefiles():
    text = '''
    # a comment line
    .:53 {                      # trailing comment
        errors
        log . "{remote} {name}"
        forward . 8.8.8.8 {
            policy sequential
        }
    }
    example.org example.net:53 {
        whoami
    }
    '''
    a, b = corefile.parse(text)
    assert a.get("log").args == (".", "{remote} {name}")
    assert a.get("forward").get("policy").args == ("sequential",)
    assert b.zones == ("example.org", "example.net") and b.get("whoami") == Directive("whoami")


@pytest.mark.parametrize("text, expected", [
    (".:53 {\n errors\n", "line 1: block is never closed"),
    ("errors\n", "line 1: expected a server block"),
    (".:53 {\n hosts { 1.2.3.4 a }\n}\n", "line 2: braces must open at the end"),
    (".:53 {\n {\n }\n}\n", "line 2: a block needs a plugin name"),
    (".:53 {\n log \"unterminated\n}\n", "line 2: unterminated quote"),
    ("# only a comment\n", "no server block"),
])
def test_parser_rejects_what_it_does_not_understand(text, expected):
    with pytest.raises(CorefileError, match=expected):
        corefile.parse(text)


def test_zone_of_server_keys():
    assert [corefile.zone_of_key(k) for k in (".:53", ".", "Example.COM.:53", "dns://example.com:53")] == [
        ".", ".", "example.com", "example.com"]
