"""The EKS control plane, its IAM, add-ons, node join and security groups, read back from the
simulated AWS after a run of the real program."""

from __future__ import annotations

import base64
import email
import json

import pytest
import yaml

from pulumi.runtime import rpc


def test_cluster_is_created_bare_with_api_auth_encryption_and_logs(dev_stack):
    result, engine = dev_stack
    (eks,) = result.of_type("aws:eks/cluster:Cluster")
    inputs = eks.inputs
    assert inputs["bootstrapSelfManagedAddons"] is False  # no aws-node, kube-proxy or CoreDNS from EKS
    assert inputs["accessConfig"]["authenticationMode"] == "API"
    assert sorted(inputs["enabledClusterLogTypes"]) == ["api", "audit", "authenticator", "controllerManager",
                                                        "scheduler"]
    assert inputs["encryptionConfig"]["resources"] == ["secrets"]
    key = engine.client("kms").describe_key(KeyId=inputs["encryptionConfig"]["provider"]["keyArn"])["KeyMetadata"]
    assert key["Enabled"]
    assert engine.client("kms").get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"]
    vpc = inputs["vpcConfig"]
    assert vpc["endpointPrivateAccess"] is True and vpc["publicAccessCidrs"] == ["0.0.0.0/0"]
    private = set(result.exports["privateSubnetIds"].values())
    assert set(vpc["subnetIds"]) == private
    assert inputs["kubernetesNetworkConfig"]["serviceIpv4Cidr"] == "10.100.0.0/16"
    described = engine.client("eks").describe_cluster(name="k8snet-dev")["cluster"]
    assert described["version"] == "1.35"


def test_private_only_endpoint(stack_run):
    result, _ = stack_run({"apiPublicAccessCidrs": []})
    assert result.ok, result.error
    vpc = result.of_type("aws:eks/cluster:Cluster")[0].inputs["vpcConfig"]
    assert vpc["endpointPublicAccess"] is False and "publicAccessCidrs" not in vpc


def _role_policies(engine, role_name):
    attached = engine.client("iam").list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
    return sorted(p["PolicyArn"].split("/")[-1] for p in attached)


def test_node_role_has_only_what_nodes_need_and_joins_by_access_entry(dev_stack):
    result, engine = dev_stack
    role = result.named("cluster-node-role")
    assert _role_policies(engine, role.id) == ["AmazonEC2ContainerRegistryPullOnly", "AmazonEKSWorkerNodePolicy"]
    (entry,) = result.of_type("aws:eks/accessEntry:AccessEntry")
    assert entry.inputs["type"] == "EC2_LINUX" and entry.inputs["principalArn"] == role.outputs["arn"]
    assert entry.outputs["kubernetesGroups"] == ["system:nodes"]
    profile = engine.client("iam").get_instance_profile(InstanceProfileName=result.named("cluster-node-profile").id)
    assert [r["RoleName"] for r in profile["InstanceProfile"]["Roles"]] == [role.id]
    assert _role_policies(engine, result.named("cluster-role").id) == ["AmazonEKSClusterPolicy"]


def test_oidc_provider_and_ebs_csi_irsa_role(dev_stack):
    result, engine = dev_stack
    iam = engine.client("iam")
    (provider,) = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    issuer = result.of_type("aws:eks/cluster:Cluster")[0].outputs["identities"][0]["oidcs"][0]["issuer"]
    detail = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider["Arn"])
    assert detail["ClientIDList"] == ["sts.amazonaws.com"] and issuer.endswith(detail["Url"].removeprefix("https://"))
    role = result.named("addons-ebs-csi-role")
    trust = iam.get_role(RoleName=role.id)["Role"]["AssumeRolePolicyDocument"]
    (statement,) = trust["Statement"]
    host = issuer.removeprefix("https://")
    assert statement["Principal"] == {"Federated": provider["Arn"]}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"]["StringEquals"] == {
        f"{host}:aud": "sts.amazonaws.com", f"{host}:sub": "system:serviceaccount:kube-system:ebs-csi-controller-sa"}
    assert _role_policies(engine, role.id) == ["AmazonEBSCSIDriverPolicy"]


def test_three_addons_pinned_and_ordered_after_the_nodes(dev_stack):
    result, _ = dev_stack
    addons = {a.inputs["addonName"]: a for a in result.of_type("aws:eks/addon:Addon")}
    assert set(addons) == {"kube-proxy", "coredns", "aws-ebs-csi-driver"}
    assert all(a.inputs["addonVersion"].endswith(tuple(f"eksbuild.{i}" for i in range(1, 100))) for a in addons.values())
    assert json.loads(addons["kube-proxy"].inputs["configurationValues"]) == {"mode": "iptables"}
    assert addons["aws-ebs-csi-driver"].inputs["serviceAccountRoleArn"] == result.named("addons-ebs-csi-role").outputs["arn"]
    instances = {r.urn for r in result.of_type("aws:ec2/instance:Instance")}
    for name in ("coredns", "aws-ebs-csi-driver"):
        assert instances <= set(addons[name].dependencies), name  # Deployments need running nodes
    assert not instances & set(addons["kube-proxy"].dependencies)


def test_kube_proxy_mode_reaches_the_addon(stack_run):
    result, _ = stack_run({"kubeProxyMode": "ipvs", "nodeLocalDns": True})  # the DNS tests' ipvs run
    assert result.ok, result.error
    (proxy,) = [a for a in result.of_type("aws:eks/addon:Addon") if a.inputs["addonName"] == "kube-proxy"]
    assert json.loads(proxy.inputs["configurationValues"]) == {"mode": "ipvs"}


def _node_config(engine, instance_id):
    attr = engine.client("ec2").describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
    message = email.message_from_string(base64.b64decode(attr["UserData"]["Value"]).decode())
    (part,) = [p for p in message.walk() if p.get_content_type() == "application/node.eks.aws"]
    return yaml.safe_load(part.get_payload())


def test_nodes_join_with_nodeadm_config(dev_stack):
    result, engine = dev_stack
    eks = result.of_type("aws:eks/cluster:Cluster")[0].outputs
    for name, node in result.exports["nodes"].items():
        config = _node_config(engine, node["instanceId"])
        assert config["apiVersion"] == "node.eks.aws/v1alpha1" and config["kind"] == "NodeConfig"
        assert config["spec"]["cluster"] == {
            "name": "k8snet-dev", "apiServerEndpoint": eks["endpoint"],
            "certificateAuthority": eks["certificateAuthority"]["data"], "cidr": "10.100.0.0/16"}
        kubelet = config["spec"]["kubelet"]
        # A t3.medium: the pods whose kube-reserved memory fits a quarter of 4 GiB (docs/cluster.md), and
        # nodeadm sizes that reservation from the same figure.
        assert kubelet["config"]["maxPods"] == 69 and kubelet["maxPodsExpression"] == "69"
        assert kubelet["flags"] == [f"--node-labels=k8snet.io/node={name}"]


def test_kubeconfig_is_secret_end_to_end(dev_stack):
    result, _ = dev_stack
    exported = result.exports["kubeconfig"]
    assert rpc.is_rpc_secret(exported)
    provider = result.named("cluster-k8s")
    assert rpc.is_rpc_secret(provider.inputs["kubeconfig"])
    config = json.loads(exported["value"])
    assert config["users"][0]["user"]["exec"]["apiVersion"] == "client.authentication.k8s.io/v1beta1"
    user = config["users"][0]["user"]
    assert set(user) == {"exec"}  # no token or key: `aws eks get-token` makes one at use time


# What each mode must open on the nodes, written out by hand (not derived from the code).
BASE = {
    ("tcp", 10250, 10250, "control-plane"), ("tcp", 443, 443, "control-plane"), ("tcp", 9443, 9443, "control-plane"),
    ("tcp", 10250, 10250, "nodes"), ("udp", 53, 53, "nodes"), ("tcp", 53, 53, "nodes"),
    ("tcp", 30000, 32767, "192.168.0.0/16"),
}
# Typha, and the Calico API server (hostNetwork on EKS with the Calico CNI).
CALICO = BASE | {("tcp", 5473, 5473, "nodes"), ("tcp", 5443, 5443, "control-plane")}
# Unencapsulated: pods from pods, and the webapp's port from nodes (kube-proxy forwarding across nodes).
ROUTED = {("-1", -1, -1, "10.1.0.0/16"), ("tcp", 80, 80, "nodes")}
EXPECTED_RULES = {
    ("calico", "none"): CALICO | ROUTED,
    ("calico", "vxlan"): CALICO | {("udp", 4789, 4789, "nodes")},
    ("calico", "ipip"): CALICO | {("4", -1, -1, "nodes")},
    ("flannel", "none"): BASE | ROUTED,
    ("flannel", "vxlan"): BASE | {("udp", 8472, 8472, "nodes")},
}


@pytest.mark.parametrize("cni, encapsulation", sorted(EXPECTED_RULES))
def test_node_security_group_opens_exactly_what_the_mode_needs(stack_run, cni, encapsulation):
    result, engine = stack_run({"cni": cni, "encapsulation": encapsulation})
    assert result.ok, result.error
    ec2 = engine.ec2_reader()
    nodes_sg = result.named("workers-sg").id
    cp_sg = result.named("cluster-control-plane").id
    names = {nodes_sg: "nodes", cp_sg: "control-plane"}
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [nodes_sg]}])["SecurityGroupRules"]
    ingress = {(r["IpProtocol"], r.get("FromPort", -1), r.get("ToPort", -1),
                r.get("CidrIpv4") or names[r["ReferencedGroupInfo"]["GroupId"]])
               for r in rules if not r["IsEgress"]}
    assert ingress == EXPECTED_RULES[(cni, encapsulation)]
    assert not any(r.get("CidrIpv4") == "0.0.0.0/0" for r in rules if not r["IsEgress"])
    cp_rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [cp_sg]}])["SecurityGroupRules"]
    assert {(r["IpProtocol"], r["FromPort"], r["ReferencedGroupInfo"]["GroupId"]) for r in cp_rules
            if not r["IsEgress"]} == {("tcp", 443, nodes_sg)}


def _parts(engine, instance_id):
    attr = engine.client("ec2").describe_instance_attribute(InstanceId=instance_id, Attribute="userData")
    message = email.message_from_string(base64.b64decode(attr["UserData"]["Value"]).decode())
    return {p.get_content_type(): p.get_payload() for p in message.walk() if not p.is_multipart()}


@pytest.mark.parametrize("cni, expects_plugins", [("flannel", True), ("calico", True)])
def test_nodes_install_the_reference_cni_plugins(stack_run, cni, expects_plugins):
    # Whatever the CNI: switching CNI must never change (and so restart) the instances.
    result, engine = stack_run({"cni": cni})
    assert result.ok, result.error
    parts = _parts(engine, result.exports["nodes"]["node1"]["instanceId"])
    assert "application/node.eks.aws" in parts
    script = parts.get("text/x-shellscript")
    assert (script is not None) == expects_plugins
    if script:
        assert "sha256sum -c" in script and "cni-plugins-linux-${arch}-v1.7.1.tgz" in script
        assert all(f"./{p}" in script for p in ("bridge", "host-local", "portmap"))


def test_app_runs_on_the_cluster_after_its_addons(dev_stack):
    result, engine = dev_stack
    provider_urn = result.named("cluster-k8s").urn
    app_objects = [r for r in result.resources if r.type.startswith("kubernetes:") and r.urn.count("ExampleApp")]
    assert app_objects and all(r.options.get("provider", "").startswith(provider_urn) for r in app_objects)
    ebs = next(a.urn for a in result.of_type("aws:eks/addon:Addon") if a.inputs["addonName"] == "aws-ebs-csi-driver")
    statefulset = next(r for r in app_objects if r.type == "kubernetes:apps/v1:StatefulSet")
    assert ebs in statefulset.dependencies  # the volume claim binds only once the CSI driver runs
    # The load balancer controller's webhook admits every new Service and it gives the NLB its address:
    # each app object waits for its release, and the NLB Service waits for the address (no skipAwait).
    release = result.named("lb-controller-release").urn
    assert all(release in r.dependencies for r in app_objects)
    lb = next(o for o in engine.kube.objects.values() if o["kind"] == "Service" and o["spec"].get("type") == "LoadBalancer")
    assert "pulumi.com/skipAwait" not in lb["metadata"]["annotations"]


def test_coredns_addon_installs_kube_dns_on_the_address_nodeadm_gives_kubelet(dev_stack):
    _, engine = dev_stack
    svc = engine.kube.objects[("v1", "Service", "kube-system", "kube-dns")]
    deployment = engine.kube.objects[("apps/v1", "Deployment", "kube-system", "coredns")]
    assert svc["spec"]["clusterIP"] == "10.100.0.10"  # 10.100.0.0/16 with its last octet replaced by 10
    assert svc["spec"]["selector"] == {"k8s-app": "kube-dns"}
    assert deployment["spec"]["template"]["metadata"]["labels"]["k8s-app"] == "kube-dns"
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"].endswith("/eks/coredns:v1.14.2-eksbuild.4")
