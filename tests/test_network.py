"""The dev stack under the engine, judged by what AWS (moto) reports back through boto3."""

from ipaddress import ip_network

import pytest

from offline.checks import routes as route_checks
from tests.conftest import nodes_config


def _tags(obj):
    return {t["Key"]: t["Value"] for t in obj.get("Tags", [])}


@pytest.fixture
def dev(dev_stack):
    result, engine = dev_stack
    return result, engine.client("ec2")


def test_routes_are_nodes_times_pod_route_tables_each_to_its_nodes_eni(dev):
    result, ec2 = dev
    pod_tables = set(result.exports["podRouteTableIds"].values())
    assert len(pod_tables) == 2
    eni_of = {r.outputs["tags"]["k8snet/node"]: r.outputs["primaryNetworkInterfaceId"]
              for r in result.of_type("aws:ec2/instance:Instance")}
    expected = {(t, cidr, eni_of[n]) for t in pod_tables
                for n, cidr in {"node1": "10.1.1.0/24", "node2": "10.1.2.0/24", "node3": "10.1.3.0/24"}.items()}
    actual = {
        (t["RouteTableId"], r["DestinationCidrBlock"], r["NetworkInterfaceId"])
        for t in ec2.describe_route_tables(RouteTableIds=sorted(pod_tables))["RouteTables"]
        for r in t["Routes"]
        if r.get("NetworkInterfaceId")
    }
    assert actual == expected  # 3 nodes x 2 tables, nothing else
    public = ec2.describe_route_tables(Filters=[{"Name": "tag:Name", "Values": ["k8snet-dev-public"]}])["RouteTables"]
    assert not any(r.get("NetworkInterfaceId") for r in public[0]["Routes"])  # see k8snet/network/routing.py
    assert route_checks.check_pod_routes(ec2) == []


def test_source_dest_check_is_off_on_every_node(dev):
    result, ec2 = dev
    for inst in result.of_type("aws:ec2/instance:Instance"):
        attr = ec2.describe_instance_attribute(InstanceId=inst.id, Attribute="sourceDestCheck")
        assert attr["SourceDestCheck"]["Value"] is False
        eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[inst.outputs["primaryNetworkInterfaceId"]])
        assert eni["NetworkInterfaces"][0]["SourceDestCheck"] is False


def test_nodes_are_private_hardened_and_in_their_zones(dev):
    result, ec2 = dev
    reservations = ec2.describe_instances()["Reservations"]
    instances = {_tags(i)["k8snet/node"]: i for r in reservations for i in r["Instances"]}
    assert sorted(instances) == ["node1", "node2", "node3"]
    subnets = {s["SubnetId"]: s for s in ec2.describe_subnets()["Subnets"]}
    for name, inst in instances.items():
        subnet = subnets[inst["SubnetId"]]
        assert _tags(subnet)["kubernetes.io/role/internal-elb"] == "1"  # a private node subnet
        assert ip_network(subnet["CidrBlock"]).subnet_of(ip_network("192.168.0.0/16"))
        assert ip_network(subnet["CidrBlock"]).prefixlen == 24
        assert "PublicIpAddress" not in inst
        assert inst["MetadataOptions"]["HttpTokens"] == "required"
        assert inst["MetadataOptions"]["HttpEndpoint"] == "enabled"
        assert _tags(inst)["kubernetes.io/cluster/k8snet-dev"] == "owned"
        volume_ids = [m["Ebs"]["VolumeId"] for m in inst["BlockDeviceMappings"]]
        volumes = ec2.describe_volumes(VolumeIds=volume_ids)["Volumes"]
        assert volumes and all(v["Encrypted"] and v["VolumeType"] == "gp3" for v in volumes)
    # Zone = round robin on the index: node1 and node3 share the first zone.
    zones = {n: i["Placement"]["AvailabilityZone"] for n, i in instances.items()}
    assert zones == {"node1": "us-east-1a", "node2": "us-east-1b", "node3": "us-east-1a"}
    image = ec2.describe_images(ImageIds=[instances["node1"]["ImageId"]])["Images"][0]
    assert image["Name"].startswith("amazon-eks-node-al2023-x86_64-standard-1.35-")


def test_subnets_span_two_zones_and_carry_discovery_tags(dev):
    _, ec2 = dev
    vpc = ec2.describe_vpcs(Filters=[{"Name": "cidr", "Values": ["192.168.0.0/16"]}])["Vpcs"][0]
    for attr, key in (("enableDnsSupport", "EnableDnsSupport"), ("enableDnsHostnames", "EnableDnsHostnames")):
        assert ec2.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute=attr)[key]["Value"] is True
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]
    public = [s for s in subnets if _tags(s).get("kubernetes.io/role/elb") == "1"]
    private = [s for s in subnets if _tags(s).get("kubernetes.io/role/internal-elb") == "1"]
    assert len({s["AvailabilityZone"] for s in public}) >= 2
    assert len({s["AvailabilityZone"] for s in private}) >= 2
    assert all(_tags(s)["kubernetes.io/cluster/k8snet-dev"] == "shared" for s in public + private)
    assert sorted(s["CidrBlock"] for s in private) == ["192.168.1.0/24", "192.168.2.0/24"]


def test_nat_egress_single(dev):
    result, ec2 = dev
    nats = ec2.describe_nat_gateways()["NatGateways"]
    assert len(nats) == 1  # the dev stack asks for a single NAT gateway
    public_subnets = set(result.exports["publicSubnetIds"].values())
    assert nats[0]["SubnetId"] in public_subnets
    for table_id in result.exports["podRouteTableIds"].values():
        table = ec2.describe_route_tables(RouteTableIds=[table_id])["RouteTables"][0]
        default = [r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
        assert [r.get("NatGatewayId") for r in default] == [nats[0]["NatGatewayId"]]
        assert {a["SubnetId"] for a in table["Associations"]} <= set(result.exports["privateSubnetIds"].values())


def test_nat_per_zone_routes_each_zone_through_its_own_gateway(stack_run):
    result, engine = stack_run({"natGateways": "perAz", "availabilityZones": 3})
    assert result.ok, result.error
    ec2 = engine.client("ec2")
    nats = {n["NatGatewayId"]: n["SubnetId"] for n in ec2.describe_nat_gateways()["NatGateways"]}
    assert len(nats) == 3
    subnet_zone = {s["SubnetId"]: s["AvailabilityZone"] for s in ec2.describe_subnets()["Subnets"]}
    for zone, table_id in result.exports["podRouteTableIds"].items():
        table = ec2.describe_route_tables(RouteTableIds=[table_id])["RouteTables"][0]
        nat = next(r["NatGatewayId"] for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0")
        assert subnet_zone[nats[nat]] == zone


def test_overlay_has_no_pod_routes(stack_run):
    result, engine = stack_run({"encapsulation": "vxlan"})
    assert result.ok, result.error
    assert result.of_type("k8snet:index:PodRoutes") == []
    ec2 = engine.ec2_reader()
    assert not any(r.get("NetworkInterfaceId") for t in ec2.describe_route_tables()["RouteTables"] for r in t["Routes"])


def test_graviton_nodes_get_the_arm64_ami(stack_run):
    result, engine = stack_run({"nodes": nodes_config(1, 2, node2={"instanceType": "m7g.large"})})
    assert result.ok, result.error
    ec2 = engine.client("ec2")
    insts = {r.outputs["tags"]["k8snet/node"]: r.outputs["ami"] for r in result.of_type("aws:ec2/instance:Instance")}
    arch = {n: ec2.describe_images(ImageIds=[a])["Images"][0]["Architecture"] for n, a in insts.items()}
    assert arch == {"node1": "x86_64", "node2": "arm64"}


def test_cluster_names_never_make_an_invalid_security_group_name(stack_run):
    result, engine = stack_run({"clusterName": "sg-" + "x" * 97})
    assert result.ok, result.error
    (group,) = engine.client("ec2").describe_security_groups(GroupIds=[result.named("workers-sg").id])["SecurityGroups"]
    assert group["GroupName"].startswith("nodes-sg-xxx") and len(group["GroupName"]) <= 126
