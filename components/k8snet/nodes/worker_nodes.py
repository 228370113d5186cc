"""WorkerNodes: self-managed EC2 worker nodes, one per configured node, their security group and their
join (nodeadm user data), as node groups own theirs in pulumi-eks and terraform-aws-eks."""

from collections.abc import Mapping
from ipaddress import ip_network
from typing import NotRequired, Optional, TypedDict

import pulumi
import pulumi_aws as aws

from ..shared.args import checked
from ..shared import tags
from ..shared.node_labels import NODE_NAME_LABEL
from . import ami, instance_types, nodeadm, security


class WorkerNodeArgs(TypedDict):
    zone: str
    """Availability zone; its private subnet must be in ``subnet_ids``."""
    instance_type: str
    """EC2 instance type (Graviton types get the arm64 AMI)."""
    pod_cidr: str
    """The pod block the VPC routes send to this node; sizes kubelet's maxPods."""


class WorkerNodesArgs(TypedDict):
    cluster_name: str
    """EKS cluster the nodes join (tags, nodeadm)."""
    kubernetes_version: str
    """Kubernetes minor version: picks the EKS-optimized AL2023 AMI."""
    cluster_endpoint: pulumi.Input[str]
    """The cluster's API server endpoint (nodeadm)."""
    certificate_authority: pulumi.Input[str]
    """The cluster's CA, base64 as EKS returns it (nodeadm)."""
    service_cidr: str
    """The cluster's service CIDR: nodeadm derives kubelet's clusterDNS from it."""
    vpc_id: pulumi.Input[str]
    """VPC of the nodes' security group."""
    vpc_cidr: str
    """Sources of NodePort traffic (load balancers, nodes) admitted by the node security group."""
    pod_cidr: str
    """The whole pod range: pods on other nodes reach this node's pods unNATed."""
    nodes: dict[str, WorkerNodeArgs]
    """Stable node name -> its zone, instance type and pod block; the name is the resources' identity."""
    subnet_ids: dict[str, pulumi.Input[str]]
    """Zone -> private subnet id."""
    iam_instance_profile: NotRequired[pulumi.Input[str]]
    """Instance profile whose role has an EC2_LINUX access entry on the cluster."""
    control_plane_security_group_id: NotRequired[pulumi.Input[str]]
    """The control plane's group: rules both ways are created here (API server, kubelet, webhooks)."""
    cni: NotRequired[str]
    """'calico' (default) or 'flannel': which data-plane ports the nodes open."""
    encapsulation: NotRequired[str]
    """'none' (default), 'vxlan' or 'ipip'."""
    forwarded_ports: NotRequired[list[int]]
    """Pod ports (TCP) that NodePort / load-balancer Services with externalTrafficPolicy Cluster forward to:
    unencapsulated, nodes admit them from each other (docs/data-path.md). Default none."""
    cluster_dns: NotRequired[list[str]]
    """kubelet clusterDNS override (node-local-dns in ipvs mode); empty keeps nodeadm's value."""
    boot_scripts: NotRequired[list[str]]
    """Shell scripts every node runs at boot (cloud-init), before nodeadm joins it."""
    root_volume_gib: NotRequired[int]
    """Root volume size (default 40)."""
    metadata_hop_limit: NotRequired[int]
    """IMDSv2 hop limit (default 1: pods, one hop further, cannot reach the node role's credentials)."""
    tags: NotRequired[dict[str, str]]
    """Tags added to every resource."""


class WorkerNodes(pulumi.ComponentResource):
    """EC2 instances in the private subnets that can carry routed pod traffic:
    source/dest check off (the VPC delivers packets addressed to pod IPs, not to the node),
    IMDSv2 only, encrypted gp3 root volume, no public IP, joined by nodeadm with the node's
    ``k8snet.io/node`` label and a maxPods that fits its pod block and its instance type (nodeadm.max_pods),
    nodeadm's kube-reserved memory sized for the same figure.

    AMI changes are ignored after creation so a newly published AMI never replaces every
    node in one ``pulumi up``; roll nodes one at a time with ``pulumi up --replace <urn>`` after draining
    each: a node is replaced delete-first, so its pod block is never held by two instances.

    Outputs (keyed by node name): instance_ids, private_ips, primary_eni_ids, private_dns_names,
    user_data; and security_group_id.
    """

    security_group_id: pulumi.Output[str]
    """The nodes' security group (carries the cluster tag the load balancer controller looks for)."""
    instance_ids: dict[str, pulumi.Output[str]]
    """Node name -> EC2 instance id."""
    private_ips: dict[str, pulumi.Output[str]]
    """Node name -> private IPv4 address."""
    primary_eni_ids: dict[str, pulumi.Output[str]]
    """Node name -> primary network interface id (the pod routes' target)."""
    private_dns_names: dict[str, pulumi.Output[str]]
    """The Kubernetes node names (nodeadm's default)."""
    user_data: dict[str, pulumi.Output[str]]
    """The nodeadm user data each node boots with."""

    def __init__(self, name: str, args: WorkerNodesArgs, opts: Optional[pulumi.ResourceOptions] = None):
        args = checked(args, WorkerNodesArgs)
        nodes = {node: checked(spec, WorkerNodeArgs) for node, spec in sorted(args["nodes"].items())}
        unknown_zones = sorted({n["zone"] for n in nodes.values()} - set(args["subnet_ids"]))
        if unknown_zones:
            raise ValueError(f"no subnet given for zones {unknown_zones}")
        cni, encapsulation = args.get("cni", "calico"), args.get("encapsulation", "none")
        # refuses an unknown CNI mode
        node_rules = security.node_ingress_rules(cni, encapsulation, args.get("forwarded_ports") or ())
        super().__init__("k8snet:index:WorkerNodes", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # vCPUs and memory size kubelet's maxPods (and nodeadm's reservation); the architecture picks the AMI.
        region = aws.get_region(opts=pulumi.InvokeOptions(parent=self)).region
        offered = instance_types.lookup((n["instance_type"] for n in nodes.values()), region, parent=self)
        unknown = [p for p in map(offered.problem, sorted({n["instance_type"] for n in nodes.values()})) if p]
        if unknown:
            raise ValueError("; ".join(unknown))
        kinds = {node: offered.types[spec["instance_type"]] for node, spec in nodes.items()}
        cluster_name, extra_tags = args["cluster_name"], args.get("tags") or {}
        owned = tags.cluster_tag(cluster_name, "owned")

        # The load balancer controller expects exactly one security group on a node ENI to carry
        # the cluster tag; it adds its NodePort rules there.
        sg = aws.ec2.SecurityGroup(
            f"{name}-sg",
            # Group names may not start with "sg-" (whatever the cluster is called); the provider
            # caps name_prefix at 100 characters and appends a 26-character suffix.
            name_prefix=f"nodes-{cluster_name}-"[:100],
            description=f"Worker nodes of {cluster_name}",
            vpc_id=args["vpc_id"],
            tags=tags.merge(extra_tags, {"Name": f"{cluster_name}-nodes"}, owned),
            opts=child,
        )
        # (resource name, group the rule opens, source, rule): node ingress, and the control
        # plane's ingress from the nodes when this stack owns the control plane's group.
        source = {"nodes": {"referenced_security_group_id": sg.id}, "pod-cidr": {"cidr_ipv4": args["pod_cidr"]},
                  "vpc-cidr": {"cidr_ipv4": args["vpc_cidr"]}}
        rules = [(f"{name}-{r.key}", sg.id, r) for r in node_rules]
        control_plane = args.get("control_plane_security_group_id")
        if control_plane is not None:
            source["control-plane"] = {"referenced_security_group_id": control_plane}
            rules += [(f"{name}-cp-{r.key}", control_plane, r) for r in security.control_plane_ingress_rules()]
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

        # The join: one NodeConfig per node (its label and maxPods differ), filled in once the
        # cluster's endpoint and CA are known.
        cluster_dns, scripts = tuple(args.get("cluster_dns") or ()), tuple(args.get("boot_scripts") or ())
        pods = {node: nodeadm.max_pods(ip_network(spec["pod_cidr"]), kinds[node].vcpus, kinds[node].memory_mib)
                for node, spec in nodes.items()}
        user_data = {
            node: pulumi.Output.all(args["cluster_endpoint"], args["certificate_authority"]).apply(
                lambda ec, node=node: nodeadm.user_data(nodeadm.node_config(
                    cluster_name, ec[0], ec[1], args["service_cidr"], pods[node], {NODE_NAME_LABEL: node}, cluster_dns,
                ), scripts)
            )
            for node in nodes
        }

        ami_ids = {
            arch: aws.ssm.get_parameter_output(name=ami.eks_ami_parameter(args["kubernetes_version"], arch)).value
            for arch in sorted({k.architecture for k in kinds.values()})
        }
        root = aws.ec2.InstanceRootBlockDeviceArgs(
            encrypted=True, volume_type="gp3", volume_size=args.get("root_volume_gib", 40), delete_on_termination=True)
        instances: dict[str, aws.ec2.Instance] = {}
        for node, spec in nodes.items():
            instances[node] = aws.ec2.Instance(
                f"{name}-{node}",
                ami=ami_ids[kinds[node].architecture],
                instance_type=spec["instance_type"],
                subnet_id=args["subnet_ids"][spec["zone"]],
                vpc_security_group_ids=[sg.id],
                source_dest_check=False,
                associate_public_ip_address=False,
                iam_instance_profile=args.get("iam_instance_profile"),
                user_data=user_data[node],
                metadata_options=aws.ec2.InstanceMetadataOptionsArgs(
                    http_endpoint="enabled",
                    http_tokens="required",
                    http_put_response_hop_limit=args.get("metadata_hop_limit", 1),
                ),
                root_block_device=root,
                tags=tags.merge(
                    extra_tags,
                    {"Name": f"{cluster_name}-{node}", "k8snet/node": node, "k8snet/pod-cidr": spec["pod_cidr"]},
                    owned,
                ),
                # Delete before replace (`pulumi up --replace`, a new zone): two live instances labelled with one
                # node would both take its pod block (Calico's pool selector and the flannel podCIDR assigner
                # select by that label) while the routes point at one of them. Drain the node first
                # (docs/architecture.md, "Replacing a node").
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=["ami"], delete_before_replace=True),
            )

        self.security_group_id = sg.id
        self.instance_ids = {n: i.id for n, i in instances.items()}
        self.private_ips = {n: i.private_ip for n, i in instances.items()}
        self.primary_eni_ids = {n: i.primary_network_interface_id for n, i in instances.items()}
        self.private_dns_names = {n: i.private_dns for n, i in instances.items()}
        self.user_data = user_data
        self.register_outputs(
            {
                "securityGroupId": self.security_group_id,
                "instanceIds": self.instance_ids,
                "privateIps": self.private_ips,
                "primaryEniIds": self.primary_eni_ids,
                "privateDnsNames": self.private_dns_names,
                "userData": self.user_data,
            }
        )
