"""Bad input stops the run before any resource registers; AWS-side rejections stop it too."""

import pytest

from offline import OfflineEngine
from tests.conftest import nodes_config, probe_project

BAD = [
    ({"vpcCidr": "192.168.0.0/33"}, "vpcCidr:"),
    ({"podCidr": "192.168.0.0/16"}, "podCidr:"),
    ({"serviceCidr": "8.8.0.0/16"}, "serviceCidr:"),
    ({"nodePodCidrPrefix": 16}, "nodePodCidrPrefix:"),
    ({"nodes": nodes_config(0)}, "nodes.node0.index:"),
    ({"nodes": nodes_config(300)}, "nodes.node300.index:"),
    ({"nodes": {"a": {"index": 1}, "b": {"index": 1}}}, "nodes.b.index:"),
    ({"cni": "cilium"}, "cni:"),
    ({"encapsulation": "geneve"}, "encapsulation:"),
    ({"cni": "flannel", "encapsulation": "ipip"}, "encapsulation:"),
    ({"availabilityZones": 1}, "availabilityZones:"),
    ({"nodes": nodes_config(*range(1, 50))}, "routeTableQuota:"),
    ({"availabilityZones": 9}, "availabilityZones: 9 requested"),  # found after the zone lookup
    ({"nodes": nodes_config(1, node1={"zone": "us-east-1f"})}, "nodes.node1.zone:"),  # likewise
    ({"podCIDR": "10.9.0.0/16"}, "k8s-networking:podCIDR:"),
    # Pre-flight (issue 11): each passed config before and failed later, or at runtime on the nodes.
    ({"appNamespace": "calico-system"}, "appNamespace: 'calico-system' is where the Calico operator"),
    ({"appNamespace": "tigera-operator"}, "appNamespace: 'tigera-operator' is where the Calico operator runs"),
    ({"podCidr": "169.254.0.0/16", "serviceCidr": "10.100.0.0/16"}, "podCidr: 169.254.0.0/16 overlaps 169.254.0.0/16"),
    ({"podCidr": "127.0.0.0/16"}, "podCidr: 127.0.0.0/16 overlaps 127.0.0.0/8, loopback"),
    ({"instanceType": "t3.mediun"}, "instanceType: 't3.mediun' is not an EC2 instance type offered in us-east-1; "
                                    "did you mean t3.medium?"),
    ({"nodes": nodes_config(1, 2, node2={"instanceType": "m5.larg"})}, "nodes.node2.instanceType: 'm5.larg' is not"),
    ({"nodes": nodes_config(1, node1={"instanceType": None})}, "nodes.node1.instanceType: is empty (null)"),
    ({"instanceType": "t3.micro"}, "instanceType: t3.micro (1024 MiB) runs only 0 pods"),
    ({"nodes": None}, "nodes: is empty (null); at least one node is required"),
    ({"nodes": {1: {"index": 1}}}, "nodes.1: a node name must not be a bare number"),
    ({"aws:region": "us-east-7"}, "aws:region: 'us-east-7' is not an AWS region"),
]


@pytest.mark.parametrize("config,message", BAD, ids=[m for _, m in BAD])
def test_bad_config_registers_nothing(run_stack, config, message):
    result, _ = run_stack(config)
    assert not result.ok and result.error_kind == "config"
    assert message in result.error
    assert result.resources == []


def test_the_cli_type_checks_like_pulumi(run_stack):
    result, _ = run_stack({"availabilityZones": "two"})
    assert result.error == "Stack 'dev' with configuration key 'availabilityZones' must be of type 'integer'"
    assert result.resources == []


def test_missing_stack_file_is_a_config_error(run_stack):
    result, _ = run_stack(stack="nosuchstack")
    assert result.error_kind == "config" and "Pulumi.nosuchstack.yaml not found" in result.error


def test_account_quota_below_the_declared_one_is_an_aws_rejection(run_stack):
    # The stack claims a quota of 5 (exactly what its 3 nodes need: local, NAT and 3 pod routes per private table), but
    # the (simulated) account has 4: the same refusal as a raised 60 over AWS's default 50, without 49 nodes' run.
    result, _ = run_stack({"routeTableQuota": 5}, route_table_quota=4)
    assert result.error_kind == "aws"
    assert "RouteLimitExceeded" in result.error and "aws:ec2/route:Route" in result.error


def test_unknown_kubernetes_version_is_refused_before_any_resource(run_stack):
    result, _ = run_stack({"kubernetesVersion": "1.99"})
    assert result.error_kind == "config" and "kubernetesVersion: 1.99 has no pinned EKS add-on versions" in result.error
    assert result.resources == []


def test_unknown_kubernetes_version_has_no_ami(run_stack, tmp_path):
    # Past the config check (e.g. a reused WorkerNodes with its own version), SSM has no AMI.
    project = probe_project(tmp_path, AMI_PROBE)
    result, _ = run_stack(project_dir=project, stack="test")
    assert result.error_kind == "aws"
    assert "ParameterNotFound" in result.error and "/1.99/amazon-linux-2023/" in result.error


AMI_PROBE = '''
import pulumi_aws as aws
from k8snet.nodes import ami
aws.ssm.get_parameter_output(name=ami.eks_ami_parameter("1.99", "x86_64")).value.apply(print)
'''


def test_unknown_instance_type_is_refused_before_any_resource(run_stack):
    # Found only when the first instance was created (after the VPC and the control plane) before issue 11.
    result, _ = run_stack({"instanceType": "t9.mega"})
    assert result.error_kind == "config" and "instanceType: 't9.mega' is not an EC2 instance type" in result.error
    assert result.resources == []


PROGRAM = '''
import pulumi, pulumi_aws as aws
vpc = aws.ec2.Vpc("vpc", cidr_block="192.168.0.0/16")
subnet = aws.ec2.Subnet("subnet", vpc_id=vpc.id, cidr_block="192.168.1.0/24", availability_zone="us-east-1a")
ami = aws.ssm.get_parameter_output(
    name="/aws/service/eks/optimized-ami/1.35/amazon-linux-2023/x86_64/standard/recommended/image_id").value
node = aws.ec2.Instance("node", ami=ami, instance_type="t3.medium", subnet_id=subnet.id, source_dest_check=False)
rt = aws.ec2.RouteTable("rt", vpc_id=vpc.id)
aws.ec2.Route("first", route_table_id=rt.id, destination_cidr_block=DEST1, network_interface_id=node.primary_network_interface_id)
aws.ec2.Route("second", route_table_id=rt.id, destination_cidr_block=DEST2, network_interface_id=node.primary_network_interface_id,
              opts=pulumi.ResourceOptions(depends_on=[]))
'''


@pytest.mark.parametrize(
    "dest1,dest2,code",
    [
        ("10.1.1.0/24", "10.1.1.0/24", "RouteAlreadyExists"),  # moto would silently overwrite
        ("10.1.1.0/24", "192.168.0.0/16", "InvalidParameterValue"),  # moto would replace the local route
        ("10.1.1.0/24", "10.1.2.0/33", "InvalidParameterValue"),  # moto accepts malformed CIDRs with ENIs
        ("10.1.1.0/24", "192.168.7.0/24", "InvalidParameterValue"),  # inside the VPC, not a subnet
    ],
)
def test_aws_rules_moto_lacks(tmp_path, dest1, dest2, code):
    program = PROGRAM.replace("DEST1", repr(dest1)).replace("DEST2", repr(dest2))
    with OfflineEngine(probe_project(tmp_path, program), "test") as engine:
        result = engine.run()
    assert result.error_kind == "aws", result.error
    assert code in result.error


def test_a_full_subnet_is_an_aws_rejection(run_stack, tmp_path):
    # A /28 holds 11 instances (AWS keeps 5 of its 16 addresses); moto ran dry with a StopIteration, which
    # left the run waiting forever for the twelfth.
    program = PROGRAM.split("node = ")[0].replace("192.168.1.0/24", "192.168.1.0/28") + (
        "for i in range(12):\n"
        "    aws.ec2.Instance(f'n{i}', ami=ami, instance_type='t3.micro', subnet_id=subnet.id)\n")
    result, _ = run_stack(project_dir=probe_project(tmp_path, program), stack="test")
    assert result.error_kind == "aws", result.error
    assert "InsufficientFreeAddressesInSubnet" in result.error and "aws:ec2/instance:Instance n11" in result.error
