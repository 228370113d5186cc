"""k8snet as a Pulumi component package: what `pulumi package add` serves to TypeScript, Go or YAML stacks.

The SDK's analyzer builds the schema from the components' typed args and annotations; `construct` maps the
wire's inputs (camelCase names, every number a float, outputs as Outputs) onto the args and calls the
component. Both run here as the plugin runs them, without the CLI.
"""

from __future__ import annotations

import json
import textwrap
from functools import lru_cache

import pytest
import yaml
from pulumi.provider.experimental.component import ComponentProvider

import k8snet
from tests.conftest import ROOT, probe_project

PLUGIN = ROOT / "components"


@lru_cache(maxsize=1)
def schema() -> dict:
    provider = ComponentProvider([getattr(k8snet, n) for n in k8snet.COMPONENTS], "k8snet", version="0.1.0")
    return json.loads(provider.schema)


def test_every_component_is_in_the_schema_with_its_existing_type_token():
    assert sorted(schema()["resources"]) == sorted(f"k8snet:index:{n}" for n in k8snet.COMPONENTS)
    for name in k8snet.COMPONENTS:
        assert schema()["resources"][f"k8snet:index:{name}"]["isComponent"] is True


def test_every_input_and_output_is_described():
    for token, resource in schema()["resources"].items():
        assert resource.get("description"), token
        for kind in ("inputProperties", "properties"):
            undocumented = [k for k, v in resource[kind].items() if not v.get("description")]
            assert undocumented == [], (token, kind)
    for token, typ in schema()["types"].items():
        assert [k for k, v in typ["properties"].items() if not v.get("description")] == [], token


@pytest.mark.parametrize("token,required,optional", [
    ("Network", {"clusterName", "vpcCidr", "zones"}, {"natGateways", "tags"}),
    ("PodRoutes", {"nodePodCidrs", "nodeEniIds", "routeTableIds"}, set()),
    ("ExampleApp", set(), {"namespace", "nodePort", "dnsIps", "externalNames"}),
    ("AlbIngress", {"namespace", "serviceName", "servicePortName"}, {"host", "paths", "certificateArn"}),
    ("KubernetesNetworking", set(), {"region", "nodes", "coredns", "ingress", "cni", "encapsulation"}),
])
def test_required_and_optional_inputs(token, required, optional):
    resource = schema()["resources"][f"k8snet:index:{token}"]
    assert set(resource.get("requiredInputs", [])) == required
    assert optional <= set(resource["inputProperties"]) - required


def test_structural_inputs_are_plain_and_ids_accept_outputs():
    """Values that decide which resources exist (zones, nodes) must be known when the component runs;
    ids of other resources may be outputs of the consumer's program."""
    workers = schema()["resources"]["k8snet:index:WorkerNodes"]["inputProperties"]
    assert workers["nodes"]["plain"] is True and workers["nodes"]["additionalProperties"]["$ref"].endswith("WorkerNodeArgs")
    assert "plain" not in workers["vpcId"] and "plain" not in workers["clusterEndpoint"]
    assert schema()["resources"]["k8snet:index:Network"]["inputProperties"]["zones"]["plain"] is True


def test_declared_outputs_are_the_schema_outputs():
    for name in k8snet.COMPONENTS:
        cls = getattr(k8snet, name)
        camel = {n.split("_")[0] + "".join(p.title() for p in n.split("_")[1:]) for n in cls.__annotations__}
        assert set(schema()["resources"][f"k8snet:index:{name}"]["properties"]) == camel, name


def test_the_plugin_folder_serves_the_package_with_pip():
    plugin = yaml.safe_load((PLUGIN / "PulumiPlugin.yaml").read_text())
    assert plugin["runtime"] == {"name": "python", "options": {"toolchain": "pip", "virtualenv": "venv"}}
    # Pulumi runs pip in the plugin folder: `..` is the repository, whose pyproject builds k8snet.
    assert [ln for ln in (PLUGIN / "requirements.txt").read_text().splitlines() if ln and not ln.startswith("#")] == [".."]
    main = (PLUGIN / "__main__.py").read_text()
    assert 'if __name__ == "__main__":' in main and "component_provider_host" in main and 'name="k8snet"' in main
    assert not (PLUGIN / "pyproject.toml").exists()  # a buildable project here would change how Pulumi runs it


HEAD = '''
    import pulumi
    import pulumi_kubernetes as k8s
    from pulumi.provider.experimental.component import ComponentProvider

    import k8snet

    provider = ComponentProvider([getattr(k8snet, n) for n in k8snet.COMPONENTS], "k8snet", version="0.1.0")

    def construct(component, name, inputs, **options):
        """As the plugin does for a remote component: camelCase inputs, numbers as floats."""
        result = provider.construct(name, f"k8snet:index:{component}", inputs, pulumi.ResourceOptions(**options))
        return result.state

'''

CHAIN = '''
    zones = ["us-east-1a", "us-east-1b"]
    net = construct("Network", "net", {"clusterName": "chain", "vpcCidr": "192.168.0.0/16", "zones": zones,
                                       "natGateways": "single"})
    cluster = construct("Cluster", "cluster", {
        "clusterName": "chain", "kubernetesVersion": "1.35", "vpcId": net["vpcId"],
        "subnetIds": [net["privateSubnetIds"][z] for z in zones], "serviceCidr": "10.100.0.0/16",
        "region": "us-east-1", "publicAccessCidrs": ["203.0.113.0/24"], "logRetentionDays": 30.0})
    blocks = {"node1": "10.1.1.0/24", "node2": "10.1.2.0/24"}
    workers = construct("WorkerNodes", "workers", {
        "clusterName": "chain", "kubernetesVersion": "1.35", "clusterEndpoint": cluster["endpoint"],
        "certificateAuthority": cluster["certificateAuthority"], "serviceCidr": "10.100.0.0/16",
        "vpcId": net["vpcId"], "vpcCidr": "192.168.0.0/16", "podCidr": "10.1.0.0/16",
        "nodes": {n: {"zone": zones[i], "instanceType": "t3.medium", "podCidr": b} for i, (n, b) in enumerate(blocks.items())},
        "subnetIds": net["privateSubnetIds"], "iamInstanceProfile": cluster["nodeInstanceProfile"],
        "controlPlaneSecurityGroupId": cluster["securityGroupId"], "rootVolumeGib": 40.0})
    construct("PodRoutes", "pods", {"nodePodCidrs": blocks, "nodeEniIds": workers["primaryEniIds"],
                                    "routeTableIds": net["podRouteTableIds"]})
    kube = k8s.Provider("k8s", kubeconfig=cluster["kubeconfig"])
    calico = construct("Calico", "calico", {"nodeBlocks": blocks, "encapsulation": "none"},
                       providers={"kubernetes": kube})
    addons = construct("ClusterAddons", "addons", {
        "clusterName": cluster["name"], "kubernetesVersion": "1.35", "oidcProviderArn": cluster["oidcProviderArn"],
        "oidcIssuer": cluster["oidcIssuer"]})
    lbc = construct("LoadBalancerController", "lbc", {
        "clusterName": cluster["name"], "region": "us-east-1", "vpcId": net["vpcId"],
        "oidcProviderArn": cluster["oidcProviderArn"], "oidcIssuer": cluster["oidcIssuer"], "replicas": 2.0},
        providers={"kubernetes": kube})
    dns = construct("NodeLocalDns", "nld", {"serviceCidr": "10.100.0.0/16", "cacheSeconds": 30.0},
                    providers={"kubernetes": kube})
    app = construct("ExampleApp", "app", {"namespace": "shop", "nodePort": 30080.0, "replicas": 2.0,
                                          "dnsIps": ["169.254.20.10", "10.100.0.10"]}, providers={"kubernetes": kube})
    ingress = construct("AlbIngress", "shop", {"namespace": app["namespace"], "serviceName": "webapp-nodeport",
                                               "servicePortName": "http", "paths": ["/"]},
                        providers={"kubernetes": kube})
    construct("Flannel", "flannel", {"nodeBlocks": blocks, "podCidr": "10.1.0.0/16", "encapsulation": "vxlan"},
              providers={"kubernetes": kube})
    pulumi.export("appNodePort", app["nodePort"])
    pulumi.export("mtu", calico["mtu"])
    pulumi.export("albUrl", ingress["url"])
'''

ALL_IN_ONE = '''
    everything = construct("KubernetesNetworking", "all", {
        "region": "us-east-1", "clusterName": "allinone", "vpcCidr": "172.16.0.0/16", "availabilityZones": 2.0,
        "nodes": {"web1": {"index": 1.0}, "web2": {"index": 2.0, "instanceType": "t3.large"}},
        "coredns": {"stubDomains": {"corp.example": ["10.0.0.53"]}, "cacheSeconds": 60.0},
        "ingress": {"paths": ["/"], "healthCheckPath": "/healthz"}})
    pulumi.export("allNodes", everything["nodes"])
    pulumi.export("allRegion", everything["region"])
'''


def _construct(tmp_path_factory, program: str):
    from offline import OfflineEngine

    project = probe_project(tmp_path_factory.mktemp("construct"), textwrap.dedent(HEAD + program))
    with OfflineEngine(project, "test") as engine:
        result = engine.run()
        assert result.ok, result.error
        yield result, engine


@pytest.fixture(scope="module")
def constructed(tmp_path_factory):
    """Every component but the all-in-one, wired as a TypeScript or YAML stack would wire them. (The
    simulated API server is one per run, so the all-in-one, which has a cluster of its own, runs apart.)"""
    yield from _construct(tmp_path_factory, CHAIN)


@pytest.fixture(scope="module")
def all_in_one(tmp_path_factory):
    yield from _construct(tmp_path_factory, ALL_IN_ONE)


def test_every_component_constructs_through_the_provider(constructed, all_in_one):
    built = {r.type.rsplit(":", 1)[1] for run, _ in (constructed, all_in_one) for r in run.resources
             if r.type.startswith("k8snet:index:")}
    assert built == set(k8snet.COMPONENTS)


def test_wire_numbers_reach_the_resources_as_whole_numbers(constructed):
    result, engine = constructed
    assert result.exports["appNodePort"] == 30080 and result.exports["mtu"] == 9001
    node_ports = [p["nodePort"] for (_, kind, ns, name), o in engine.kube.objects.items() if kind == "Service"
                  and ns == "shop" for p in o["spec"].get("ports", []) if "nodePort" in p]
    assert 30080 in node_ports and all(isinstance(p, int) for p in node_ports)
    release = next(r for r in result.of_type("kubernetes:helm.sh/v3:Release") if r.name == "lbc-release")
    assert release.inputs["values"]["replicaCount"] == 2


def test_the_providers_option_reaches_the_kubernetes_children(constructed):
    result, _ = constructed
    (component,) = result.of_type("k8snet:index:Calico")
    children = [r for r in result.resources if r.parent == component.urn]
    assert children and all(c.options["provider"].split("::")[-2] == "k8s" for c in children)


def test_the_all_in_one_component_builds_the_documents_example(all_in_one):
    result, _ = all_in_one
    assert sorted(result.exports["allNodes"]) == ["web1", "web2"]
    assert result.exports["allNodes"]["web2"]["podCidr"] == "10.1.2.0/24" and result.exports["allRegion"] == "us-east-1"
    (everything,) = result.of_type("k8snet:index:KubernetesNetworking")
    children = {r.name for r in result.resources if r.parent == everything.urn}
    assert {"all-network", "all-cluster", "all-workers", "all-pod-routes", "all-calico", "all-app", "all-webapp"} <= children
    stub = next(r for r in result.of_type("aws:eks/addon:Addon") if r.name == "all-addons-coredns")
    assert "corp.example:53" in json.loads(stub.inputs["configurationValues"])["corefile"]
