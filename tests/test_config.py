"""parse_config: defaults, and one clear error per bad input naming the key and the fix."""

from ipaddress import ip_network

import pytest

from k8snet.config.stack_config import SCHEMA, parse_config
from k8snet.config.errors import ConfigError
from k8snet.config.zones import assign_zones, select_zones
from k8snet.config.stack_config import NodeSpec


def test_defaults_are_the_documents_values():
    cfg = parse_config({}, "dev")
    assert cfg.cluster_name == "k8snet-dev"
    assert cfg.vpc_cidr == ip_network("192.168.0.0/16")
    assert cfg.pod_cidr == ip_network("10.1.0.0/16")
    assert cfg.service_cidr == ip_network("10.100.0.0/16")
    assert [n.name for n in cfg.nodes] == ["node1", "node2", "node3"]
    assert {n: str(b) for n, b in cfg.pod_blocks.items()} == {
        "node1": "10.1.1.0/24",
        "node2": "10.1.2.0/24",
        "node3": "10.1.3.0/24",
    }
    assert cfg.pod_routes and cfg.cni == "calico" and cfg.availability_zones == 2


def test_pod_blocks_are_made_once_per_config_and_read_only():
    """Read per node (the plan's checks, the components), pod_blocks is made once per config, not on every read
    (quadratic in the nodes: ~3 s of a 1,000-node preview); a config made from another gets its own."""
    import dataclasses

    cfg = parse_config({}, "dev")
    assert cfg.pod_blocks is cfg.pod_blocks
    with pytest.raises(TypeError):
        cfg.pod_blocks["node9"] = ip_network("10.1.9.0/24")  # type: ignore[index]
    fewer = dataclasses.replace(cfg, nodes=cfg.nodes[:1])
    assert list(fewer.pod_blocks) == ["node1"] and list(cfg.pod_blocks) == ["node1", "node2", "node3"]


def test_values_arrive_as_strings_like_the_cli_sends_them():
    cfg = parse_config({"availabilityZones": "3", "nodes": '{"a": {"index": 7, "instanceType": "m7g.large"}}'}, "s")
    assert cfg.availability_zones == 3
    assert cfg.nodes[0].index == 7 and cfg.nodes[0].instance_type == "m7g.large"
    assert str(cfg.pod_blocks["a"]) == "10.1.7.0/24"


def test_default_instance_type_applies_to_nodes_without_one():
    cfg = parse_config({"instanceType": "m6i.large", "nodes": {"a": {"index": 1}, "b": {"index": 2, "instanceType": "t3.small"}}}, "s")
    assert {n.name: n.instance_type for n in cfg.nodes} == {"a": "m6i.large", "b": "t3.small"}


BAD_INPUTS = [
    ({"vpcCidr": "192.168.0.0/33"}, "vpcCidr", "not a CIDR"),
    ({"vpcCidr": "192.168.0.1/16"}, "vpcCidr", "did you mean 192.168.0.0/16"),
    ({"podCidr": "10.1.0.0"}, "podCidr", None),
    ({"podCidr": "banana"}, "podCidr", "not a CIDR"),
    ({"serviceCidr": "fd00::/108"}, "serviceCidr", "IPv6"),
    ({"podCidr": "192.168.128.0/17"}, "podCidr", "overlaps vpcCidr"),
    ({"podCidr": "10.100.0.0/16"}, "podCidr", "overlaps serviceCidr"),
    ({"serviceCidr": "100.64.0.0/16"}, "serviceCidr", "10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"),
    ({"serviceCidr": "10.0.0.0/8"}, "serviceCidr", "/12../24"),
    ({"serviceCidr": "10.200.0.0/25"}, "serviceCidr", "/12../24"),
    ({"serviceCidr": "192.168.0.0/16"}, "serviceCidr", "overlaps vpcCidr"),
    ({"nodePodCidrPrefix": 16}, "nodePodCidrPrefix", "must be longer than podCidr's /16"),
    ({"nodePodCidrPrefix": 12}, "nodePodCidrPrefix", "must be longer"),
    ({"nodePodCidrPrefix": 30}, "nodePodCidrPrefix", "too few"),
    ({"nodePodCidrPrefix": "twenty"}, "nodePodCidrPrefix", "whole number"),
    ({"nodes": {"node1": {"index": 0}}}, "nodes.node1.index", "below 1"),
    ({"nodes": {"node1": {"index": -3}}}, "nodes.node1.index", "below 1"),
    ({"nodes": {"node1": {"index": 256}}}, "nodes.node1.index", "beyond the 255 /24 blocks"),
    ({"nodes": {"a": {"index": 1}, "b": {"index": 1}}}, "nodes.b.index", "already node a's"),
    ({"nodes": {"node1": {"index": "one"}}}, "nodes.node1.index", "whole number"),
    ({"nodes": {"node1": {}}}, "nodes.node1.index", "required"),
    ({"nodes": {"Node_1": {"index": 1}}}, "nodes.Node_1", "lowercase DNS labels"),
    ({"nodes": {"node1": {"index": 1, "idx": 2}}}, "nodes.node1.idx", "did you mean index"),
    ({"nodes": {"node1": {"index": 1, "zone": "moon"}}}, "nodes.node1.zone", "availability-zone name"),
    ({"nodes": {"node1": {"index": 1, "instanceType": "huge"}}}, "nodes.node1.instanceType", "instance type"),
    ({"nodes": {}}, "nodes", "at least one node"),
    ({"nodes": ["node1"]}, "nodes", "map of node name"),
    ({"cni": "weave"}, "cni", "not one of calico, flannel"),
    ({"encapsulation": "gre"}, "encapsulation", "not one of none, vxlan, ipip"),
    ({"cni": "flannel", "encapsulation": "ipip"}, "encapsulation", "flannel has no IPIP backend"),
    ({"availabilityZones": 1}, "availabilityZones", "at least 2 zones"),
    ({"natGateways": "many"}, "natGateways", "single, perAz"),
    ({"clusterName": "-bad name"}, "clusterName", "EKS rule"),
    ({"kubernetesVersion": "v1.35"}, "kubernetesVersion", "like 1.35"),
    ({"instanceType": "t3"}, "instanceType", "instance type"),
    ({"routeTableQuota": 5000}, "routeTableQuota", "AWS maximum"),
    ({"vpcCidr": "10.0.0.0/8", "podCidr": "172.20.0.0/16"}, "vpcCidr", "/16 to /28"),
    ({"podCIDR": "10.2.0.0/16"}, "k8s-networking:podCIDR", "did you mean podCidr"),
]


@pytest.mark.parametrize("raw,key,fragment", BAD_INPUTS, ids=[f"{k}:{i}" for i, (_, k, _f) in enumerate(BAD_INPUTS)])
def test_bad_input_gets_one_clear_error_naming_the_key(raw, key, fragment):
    with pytest.raises(ConfigError) as err:
        parse_config(raw, "dev")
    lines = [p for p in err.value.problems if p.startswith(f"{key}:")]
    assert len(lines) == 1, err.value.problems
    if fragment:
        assert fragment in lines[0]


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as err:
        parse_config({"cni": "weave", "availabilityZones": 1, "podCidr": "x"}, "dev")
    assert sorted(p.split(":")[0] for p in err.value.problems) == ["availabilityZones", "cni", "podCidr"]
    assert str(err.value).startswith("invalid stack configuration:")


def test_route_quota_counts_every_route_and_names_both_ways_out():
    forty_eight = {f"n{i}": {"index": i} for i in range(1, 49)}
    parse_config({"nodes": forty_eight}, "dev")  # local + NAT default + 48 = 50: fits
    with pytest.raises(ConfigError) as err:
        parse_config({"nodes": {**forty_eight, "n49": {"index": 49}}}, "dev")
    (line,) = err.value.problems
    assert line.startswith("routeTableQuota:")
    assert "51 routes" in line and "L-93826ACB" in line and "encapsulation" in line and "vxlan" in line
    # Either way out works.
    parse_config({"nodes": {**forty_eight, "n49": {"index": 49}}, "routeTableQuota": 51}, "dev")
    parse_config({"nodes": {**forty_eight, "n49": {"index": 49}}, "encapsulation": "vxlan"}, "dev")


def test_schema_covers_every_contract_key():
    assert set(SCHEMA) == {
        "clusterName", "kubernetesVersion", "vpcCidr", "availabilityZones", "natGateways", "podCidr",
        "nodePodCidrPrefix", "serviceCidr", "nodes", "instanceType", "cni", "encapsulation", "routeTableQuota",
        "apiPublicAccessCidrs", "kubeProxyMode", "coredns", "nodeLocalDns",
        "appNamespace", "appNodePort", "externalNames", "networkPolicy", "retainData",
        "ingress", "appLoadBalancer", "adminPrincipalArns", "deletionProtection", "logRetentionDays", "vpcFlowLogs",
    }


@pytest.mark.parametrize("raw, expected", [
    ({"apiPublicAccessCidrs": ["203.0.113.7/32", "10.0.0.0/33"]}, "apiPublicAccessCidrs[1]: '10.0.0.0/33' is not a CIDR"),
    ({"apiPublicAccessCidrs": "203.0.113.7/32"}, "apiPublicAccessCidrs: is not a valid list"),
    ({"kubeProxyMode": "nftables"}, "kubeProxyMode: 'nftables': the EKS kube-proxy add-on"),
    ({"kubeProxyMode": "userspace"}, "kubeProxyMode: 'userspace': must be one of iptables, ipvs, nftables"),
    ({"kubernetesVersion": "1.31"}, "kubernetesVersion: 1.31 has no pinned EKS add-on versions"),
])
def test_cluster_settings_are_checked(raw, expected):
    with pytest.raises(ConfigError) as err:
        parse_config(raw, "dev")
    assert any(p.startswith(expected) for p in err.value.problems), err.value.problems


def test_cluster_settings_parse():
    cfg = parse_config({"apiPublicAccessCidrs": ["203.0.113.7/32"], "kubeProxyMode": "ipvs"}, "dev")
    assert cfg.api_public_access_cidrs == ("203.0.113.7/32",) and cfg.kube_proxy_mode == "ipvs"
    assert parse_config({"apiPublicAccessCidrs": []}, "dev").api_public_access_cidrs == ()


def test_zones_are_picked_by_name_and_nodes_round_robin():
    zones = select_zones(2, ["us-east-1c", "us-east-1a", "us-east-1b"])
    assert zones == ["us-east-1a", "us-east-1b"]
    nodes = [NodeSpec("n1", 1, None, "t3.medium"), NodeSpec("n2", 2, None, "t3.medium"),
             NodeSpec("n3", 3, None, "t3.medium"), NodeSpec("n9", 9, "us-east-1b", "t3.medium")]
    assert assign_zones(nodes, zones) == {"n1": "us-east-1a", "n2": "us-east-1b", "n3": "us-east-1a", "n9": "us-east-1b"}


def test_zone_problems_name_the_key():
    with pytest.raises(ConfigError, match="availabilityZones: 4 requested but the region offers 3"):
        select_zones(4, ["a", "b", "c"])
    with pytest.raises(ConfigError, match=r"nodes.n1.zone: 'us-east-1c' is not one of this stack's zones"):
        assign_zones([NodeSpec("n1", 1, "us-east-1c", "t3.medium")], ["us-east-1a", "us-east-1b"])
