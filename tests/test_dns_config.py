"""The `coredns` and `nodeLocalDns` config keys: parsing into CorednsSettings and one clear error per bad
input naming the key path and the fix (k8snet/dns/settings.py through parse_config)."""

from __future__ import annotations

import json

import pytest
import yaml

from k8snet.config.stack_config import parse_config
from k8snet.dns.corefile import CorednsSettings, HostEntry
from k8snet.config.errors import ConfigError
from tests.conftest import ROOT

DEV = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]


def _problems(coredns, **extra) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_config({"coredns": coredns, **extra}, "dev")
    return err.value.problems


def test_dev_stack_carries_the_documents_examples():
    cfg = parse_config({"coredns": DEV["k8s-networking:coredns"]}, "dev")
    assert cfg.coredns == CorednsSettings(hosts=(HostEntry("192.168.0.123", ("myapp.local",)),),
                                          stub_domains=(("mydomain.com", ("10.0.0.1",)),), cache_seconds=30)
    assert cfg.node_local_dns is False


def test_defaults_and_cli_json_text():
    cfg = parse_config({}, "dev")
    assert cfg.coredns == CorednsSettings() and cfg.node_local_dns is False
    raw = json.dumps({"stubDomains": {"Corp.Example.": ["10.20.0.2", "10.20.0.3"]}, "cacheSeconds": "60"})
    cfg = parse_config({"coredns": raw, "nodeLocalDns": "true"}, "dev")  # what `pulumi config` hands over
    assert cfg.coredns.stub_domains == (("corp.example", ("10.20.0.2", "10.20.0.3")),)
    assert cfg.coredns.cache_seconds == 60 and cfg.node_local_dns is True


@pytest.mark.parametrize("coredns, expected", [
    ({"stubDomains": {"mydomain.com": ["10.0.0.300"]}},
     "coredns.stubDomains.mydomain.com[0]: '10.0.0.300' is not an IP address"),
    ({"stubDomains": {"mydomain.com": ["10.0.0.1:53"]}},
     "coredns.stubDomains.mydomain.com[0]: '10.0.0.1:53' is not an IP address; write it like 10.0.0.1 (no port"),
    ({"stubDomains": {"mydomain.com": ["2001:db8::53"]}}, "coredns.stubDomains.mydomain.com[0]: 2001:db8::53 is IPv6"),
    ({"stubDomains": {"mydomain.com": ["127.0.0.1"]}}, "coredns.stubDomains.mydomain.com[0]: 127.0.0.1 is a loopback"),
    ({"stubDomains": {"mydomain.com": ["10.100.0.10"]}},
     "coredns.stubDomains.mydomain.com[0]: 10.100.0.10 is the cluster's own DNS"),
    ({"stubDomains": {"mydomain.com": ["169.254.20.10"]}},
     "coredns.stubDomains.mydomain.com[0]: 169.254.20.10 is the cluster's own DNS"),
    ({"stubDomains": {"mydomain.com": ["10.1.2.3"]}},
     "coredns.stubDomains.mydomain.com[0]: 10.1.2.3 is inside podCidr 10.1.0.0/16"),
    ({"stubDomains": {"mydomain.com": []}}, "coredns.stubDomains.mydomain.com: needs 1 to 15 upstream IPs"),
    ({"stubDomains": {"mydomain.com": [f"10.0.0.{i}" for i in range(1, 17)]}},
     "coredns.stubDomains.mydomain.com: needs 1 to 15 upstream IPs (forward plugin limit), got 16"),
    ({"stubDomains": {"mydomain.com": "10.0.0.1"}}, "coredns.stubDomains.mydomain.com: expected a list like [10.0.0.1]"),
    ({"stubDomains": {"my_domain.com": ["10.0.0.1"]}}, "coredns.stubDomains.my_domain.com: 'my_domain.com': label"),
    ({"stubDomains": {"a..b": ["10.0.0.1"]}}, "coredns.stubDomains.a..b: 'a..b' has an empty label"),
    ({"stubDomains": {"-bad.com": ["10.0.0.1"]}}, "coredns.stubDomains.-bad.com: '-bad.com': label '-bad'"),
    ({"stubDomains": {"x" * 64 + ".com": ["10.0.0.1"]}}, "must be 1-63 letters"),
    ({"stubDomains": {"10.0.0.1": ["10.0.0.2"]}}, "coredns.stubDomains.10.0.0.1: '10.0.0.1' is an IP address"),
    ({"stubDomains": {".": ["10.0.0.2"]}}, "coredns.stubDomains..: '.' is the root zone"),
    ({"stubDomains": {"svc.cluster.local": ["10.0.0.2"]}},
     "coredns.stubDomains.svc.cluster.local: svc.cluster.local is inside the cluster domain cluster.local"),
    ({"stubDomains": {"in-addr.arpa": ["10.0.0.2"]}}, "coredns.stubDomains.in-addr.arpa: in-addr.arpa is the whole "
                                                     "reverse tree"),
    ({"stubDomains": {"100.10.in-addr.arpa": ["10.0.0.2"]}},
     "coredns.stubDomains.100.10.in-addr.arpa: 100.10.in-addr.arpa covers 10.100.0.0/16, which overlaps serviceCidr"),
    ({"stubDomains": {"mydomain.com": ["10.0.0.1"], "MyDomain.com.": ["10.0.0.2"]}},
     "coredns.stubDomains.mydomain.com: the same domain as coredns.stubDomains.MyDomain.com."),
    ({"stubDomains": ["mydomain.com"]}, "coredns.stubDomains: expected a map of domain -> [upstream IPs]"),
    ({"hosts": [{"ip": "192.168.0.300", "names": ["myapp.local"]}]},
     "coredns.hosts[0].ip: '192.168.0.300' is not an IP address"),
    ({"hosts": [{"names": ["myapp.local"]}]}, "coredns.hosts[0].ip: required"),
    ({"hosts": [{"ip": "10.1.7.7", "names": ["myapp.local"]}]}, "coredns.hosts[0].ip: 10.1.7.7 is inside podCidr"),
    ({"hosts": [{"ip": "192.168.0.123", "names": []}]}, "coredns.hosts[0].names: at least one name is required"),
    ({"hosts": [{"ip": "192.168.0.123", "names": "myapp.local"}]}, "coredns.hosts[0].names: expected a list"),
    ({"hosts": [{"ip": "192.168.0.123", "names": ["ok.local", "bad name"]}]},
     "coredns.hosts[0].names[1]: 'bad name': label"),
    ({"hosts": [{"ip": "192.168.0.123", "names": ["db.webapp.svc.cluster.local"]}]},
     "coredns.hosts[0].names[0]: db.webapp.svc.cluster.local is inside the cluster domain cluster.local: hosts runs "
     "before the kubernetes plugin"),
    ({"hosts": [{"ip": "192.168.0.123", "names": ["www.mydomain.com"]}], "stubDomains": {"mydomain.com": ["10.0.0.1"]}},
     "coredns.hosts[0].names[0]: www.mydomain.com is inside stub domain mydomain.com"),
    ({"hosts": [{"ip": "192.168.0.123", "names": ["4.3.2.1.in-addr.arpa"]}]},
     "coredns.hosts[0].names[0]: 4.3.2.1.in-addr.arpa is a reverse-lookup name"),
    ({"hosts": [{"ip": "192.168.0.123", "name": ["myapp.local"]}]}, "coredns.hosts[0].name: unknown setting; did you "
                                                                    "mean names?"),
    ({"hosts": {"ip": "192.168.0.123"}}, "coredns.hosts: expected a list like [{ip: 192.168.0.123"),
    ({"cacheSeconds": 0}, "coredns.cacheSeconds: 0 is outside 1..3600: CoreDNS refuses 0"),
    ({"cacheSeconds": 86400}, "coredns.cacheSeconds: 86400 is outside 1..3600"),
    ({"cacheSeconds": 2.5}, "coredns.cacheSeconds: expected a whole number of seconds 1..3600, got 2.5"),
    ({"cacheSeconds": True}, "coredns.cacheSeconds: expected a whole number"),
    ({"stubdomains": {}}, "coredns.stubdomains: unknown setting; did you mean stubDomains?"),
    ({"upstream": []}, "coredns.upstream: unknown setting; use hosts, stubDomains, cacheSeconds"),
    ("[1, 2]", "coredns: expected a map of hosts / stubDomains / cacheSeconds, got list"),
    ("{not json", "coredns: is not valid JSON/YAML object"),
])
def test_bad_values_are_rejected_with_the_key_path_and_the_fix(coredns, expected):
    problems = _problems(coredns)
    assert any(p.startswith(expected) or expected in p for p in problems), problems


def test_every_problem_is_reported_at_once():
    problems = _problems({"hosts": [{"ip": "nope", "names": ["a_b"]}], "stubDomains": {"x.com": ["1.2.3"]},
                          "cacheSeconds": -1}, nodeLocalDns="maybe")
    keys = sorted(p.split(":")[0] for p in problems)
    assert keys == ["coredns.cacheSeconds", "coredns.hosts[0].ip", "coredns.hosts[0].names[0]",
                    "coredns.stubDomains.x.com[0]", "nodeLocalDns"]


def test_stub_domains_outside_the_cluster_ranges_are_fine():
    cfg = parse_config({"coredns": {"stubDomains": {"168.192.in-addr.arpa": ["192.168.0.2"], "corp.internal": [
        "10.100.7.7"]}}}, "dev")  # a fixed ClusterIP of some DNS Service is a legitimate upstream
    assert dict(cfg.coredns.stub_domains) == {"168.192.in-addr.arpa": ("192.168.0.2",), "corp.internal": ("10.100.7.7",)}
