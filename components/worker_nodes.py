"""WorkerNodes: self-managed EC2 worker nodes, one per configured node, and their security group."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from . import ami, node_security, tags


@dataclass(frozen=True)
class WorkerNode:
    name: str  # stable name from config; also the resource name suffix
    zone: str
    instance_type: str
    pod_cidr: str  # the block the VPC routes send to this node


@dataclass
class WorkerNodesArgs:
    cluster_name: str
    kubernetes_version: str  # picks the EKS-optimized AL2023 AMI
    vpc_id: pulumi.Input[str]
    pod_cidr: str  # the whole pod range: pods on other nodes reach this node's pods unNATed
    nodes: Sequence[WorkerNode]
    subnet_ids: Mapping[str, pulumi.Input[str]]  # zone -> private subnet id
    # node name -> user data (the cluster component supplies nodeadm configuration per node).
    user_data: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    iam_instance_profile: pulumi.Input[str] | None = None
    # Security: the control plane's group (rules both ways are created here), the VPC CIDR
    # (NodePorts behind load balancers) and the CNI mode (which ports the data plane needs).
    control_plane_security_group_id: pulumi.Input[str] | None = None
    vpc_cidr: str = "192.168.0.0/16"
    cni: str = "calico"
    encapsulation: str = "none"
    root_volume_gib: int = 40
    # 1 keeps pods (which sit one network hop further) away from the node role's IMDS credentials;
    # controllers that need region/VPC get them as values instead.
    metadata_hop_limit: int = 1
    tags: Mapping[str, str] = field(default_factory=dict)


class WorkerNodes(pulumi.ComponentResource):
    """EC2 instances in the private subnets that can carry routed pod traffic:
    source/dest check off (the VPC delivers packets addressed to pod IPs, not to the node),
    IMDSv2 only, encrypted gp3 root volume, no public IP.

    AMI changes are ignored after creation so a newly published AMI never replaces every
    node in one ``pulumi up``; roll nodes one at a time with ``pulumi up --replace <urn>``.

    Outputs (keyed by node name): instance_ids, private_ips, primary_eni_ids, private_dns_names;
    and security_group_id.
    """

    security_group_id: pulumi.Output[str]
    instance_ids: dict[str, pulumi.Output[str]]
    private_ips: dict[str, pulumi.Output[str]]
    primary_eni_ids: dict[str, pulumi.Output[str]]
    private_dns_names: dict[str, pulumi.Output[str]]  # the Kubernetes node names (nodeadm default)

    def __init__(self, name: str, args: WorkerNodesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("k8snet:index:WorkerNodes", name, None, opts)
        names = [n.name for n in args.nodes]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate node names in {names}")
        unknown_zones = sorted({n.zone for n in args.nodes} - set(args.subnet_ids))
        if unknown_zones:
            raise ValueError(f"no subnet given for zones {unknown_zones}")
        child = pulumi.ResourceOptions(parent=self)
        owned = tags.cluster_tag(args.cluster_name, "owned")

        # The load balancer controller expects exactly one security group on a node ENI to carry
        # the cluster tag; it adds its NodePort rules there.
        sg = aws.ec2.SecurityGroup(
            f"{name}-sg",
            # Group names may not start with "sg-" (whatever the cluster is called); the provider
            # caps name_prefix at 100 characters and appends a 26-character suffix.
            name_prefix=f"nodes-{args.cluster_name}-"[:100],
            description=f"Worker nodes of {args.cluster_name}",
            vpc_id=args.vpc_id,
            tags=tags.merge(args.tags, {"Name": f"{args.cluster_name}-nodes"}, owned),
            opts=child,
        )
        # (resource name, group the rule opens, source, rule): node ingress, and the control
        # plane's ingress from the nodes when this stack owns the control plane's group.
        source = {"nodes": {"referenced_security_group_id": sg.id}, "pod-cidr": {"cidr_ipv4": args.pod_cidr},
                  "vpc-cidr": {"cidr_ipv4": args.vpc_cidr}}
        rules = [(f"{name}-{r.key}", sg.id, r) for r in node_security.node_ingress_rules(args.cni, args.encapsulation)]
        if args.control_plane_security_group_id is not None:
            source["control-plane"] = {"referenced_security_group_id": args.control_plane_security_group_id}
            rules += [(f"{name}-cp-{r.key}", args.control_plane_security_group_id, r)
                      for r in node_security.control_plane_ingress_rules()]
        for rule_name, group_id, rule in rules:
            if rule.source not in source:
                continue  # no control plane given (e.g. nodes of a cluster managed elsewhere)
            aws.vpc.SecurityGroupIngressRule(
                rule_name,
                security_group_id=group_id,
                ip_protocol=rule.protocol,
                from_port=rule.from_port,
                to_port=rule.to_port,
                description=rule.description,
                **source[rule.source],
                opts=child,
            )
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-egress",
            security_group_id=sg.id,
            cidr_ipv4="0.0.0.0/0",
            ip_protocol="-1",
            description="egress through the NAT gateways (images, AWS APIs)",
            opts=child,
        )

        ami_ids = {
            arch: aws.ssm.get_parameter_output(name=ami.eks_ami_parameter(args.kubernetes_version, arch)).value
            for arch in sorted({ami.node_architecture(n.instance_type) for n in args.nodes})
        }
        instances: dict[str, aws.ec2.Instance] = {}
        for node in sorted(args.nodes, key=lambda n: n.name):
            instances[node.name] = aws.ec2.Instance(
                f"{name}-{node.name}",
                ami=ami_ids[ami.node_architecture(node.instance_type)],
                instance_type=node.instance_type,
                subnet_id=args.subnet_ids[node.zone],
                vpc_security_group_ids=[sg.id],
                source_dest_check=False,
                associate_public_ip_address=False,
                iam_instance_profile=args.iam_instance_profile,
                user_data=args.user_data.get(node.name),
                metadata_options=aws.ec2.InstanceMetadataOptionsArgs(
                    http_endpoint="enabled",
                    http_tokens="required",
                    http_put_response_hop_limit=args.metadata_hop_limit,
                ),
                root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(
                    encrypted=True,
                    volume_type="gp3",
                    volume_size=args.root_volume_gib,
                    delete_on_termination=True,
                ),
                tags=tags.merge(
                    args.tags,
                    {"Name": f"{args.cluster_name}-{node.name}", "k8snet/node": node.name, "k8snet/pod-cidr": node.pod_cidr},
                    owned,
                ),
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["ami"]),
            )

        self.security_group_id = sg.id
        self.instance_ids = {n: i.id for n, i in instances.items()}
        self.private_ips = {n: i.private_ip for n, i in instances.items()}
        self.primary_eni_ids = {n: i.primary_network_interface_id for n, i in instances.items()}
        self.private_dns_names = {n: i.private_dns for n, i in instances.items()}
        self.register_outputs(
            {
                "securityGroupId": self.security_group_id,
                "instanceIds": self.instance_ids,
                "privateIps": self.private_ips,
                "primaryEniIds": self.primary_eni_ids,
                "privateDnsNames": self.private_dns_names,
            }
        )
