"""The cross-object checks catch what AWS accepts but would not carry traffic."""

from offline import OfflineEngine
from offline.checks import routes as route_checks
from tests.conftest import probe_project

PROGRAM = '''
import pulumi_aws as aws
vpc = aws.ec2.Vpc("vpc", cidr_block="192.168.0.0/16")
subnet = aws.ec2.Subnet("subnet", vpc_id=vpc.id, cidr_block="192.168.1.0/24", availability_zone="us-east-1a")
ami = aws.ssm.get_parameter_output(
    name="/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/x86_64/standard/recommended/image_id").value
def node(name, block, src_dst_check):
    return aws.ec2.Instance(name, ami=ami, instance_type="t3.medium", subnet_id=subnet.id,
                            source_dest_check=src_dst_check, tags={"k8snet/node": name, "k8snet/pod-cidr": block})
a = node("a", "10.1.1.0/24", False)
b = node("b", "10.1.2.0/24", True)  # still checking: AWS drops the routed pod traffic
t1 = aws.ec2.RouteTable("t1", vpc_id=vpc.id, tags={"Name": "t1"})
t2 = aws.ec2.RouteTable("t2", vpc_id=vpc.id, tags={"Name": "t2"})
aws.ec2.Route("t1-a", route_table_id=t1.id, destination_cidr_block="10.1.1.0/24", network_interface_id=a.primary_network_interface_id)
aws.ec2.Route("t1-b", route_table_id=t1.id, destination_cidr_block="10.1.2.0/24", network_interface_id=b.primary_network_interface_id)
# t2 sends a's block to b (wrong node) and does not route a at all.
aws.ec2.Route("t2-b", route_table_id=t2.id, destination_cidr_block="10.1.1.0/24", network_interface_id=b.primary_network_interface_id)
'''


def test_checks_report_wrong_targets_checking_nodes_and_missing_routes(tmp_path):
    with OfflineEngine(probe_project(tmp_path, PROGRAM), "test") as engine:
        result = engine.run()
        assert result.ok, result.error
        problems = route_checks.check_pod_routes(engine.ec2_reader())
    assert "t2: route 10.1.1.0/24 -> b, but b owns 10.1.2.0/24" in problems
    assert any(p.startswith("b: source/dest check is on") for p in problems)
    assert not any(p.startswith("a: source/dest check") for p in problems)
    assert "a: pod block 10.1.1.0/24 is not routed to it in t2" in problems
    assert "b: pod block 10.1.2.0/24 is not routed to it in t2" in problems


def test_an_interface_that_checks_again_is_reported_even_if_the_instance_says_off(tmp_path):
    with OfflineEngine(probe_project(tmp_path, PROGRAM), "test") as engine:
        result = engine.run()
        ec2 = engine.ec2_reader()
        eni = result.named("a").outputs["primaryNetworkInterfaceId"]
        ec2.modify_network_interface_attribute(NetworkInterfaceId=eni, SourceDestCheck={"Value": True})
        problems = route_checks.check_pod_routes(ec2)
    assert any(p.startswith("a: source/dest check is on") for p in problems)
