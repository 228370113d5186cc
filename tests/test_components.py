"""Every component follows the Pulumi component pattern the project promises its users."""

import re

import pulumi

import k8snet


def _camel(name):
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _component_classes() -> dict[str, type]:
    return {name: getattr(k8snet, name) for name in k8snet.COMPONENTS}


def test_every_component_class_is_public_and_served():
    for name, cls in _component_classes().items():
        assert issubclass(cls, pulumi.ComponentResource), name
        assert getattr(k8snet, f"{name}Args").__name__ == f"{name}Args"


def test_component_conventions(dev_stack):
    result, _ = dev_stack
    components = {r.urn: r for r in result.resources if not r.custom}
    classes = _component_classes()
    assert {"Network", "WorkerNodes", "PodRoutes", "Cluster", "ClusterAddons"} <= set(classes)
    assert {r.type for r in components.values()} <= {f"k8snet:index:{n}" for n in classes}
    for record in components.values():
        cls = classes[record.type.rsplit(":", 1)[1]]
        children = [r for r in result.resources if r.parent == record.urn]
        assert children, cls.__name__
        assert all(c.name.startswith(f"{record.name}-") for c in children), cls.__name__
        # Every declared output is assigned and registered.
        declared = {_camel(n) for n in cls.__annotations__ if not n.startswith("_")}
        assert declared <= set(record.outputs), (cls.__name__, declared - set(record.outputs))
    # Every custom resource hangs under a component: nothing is parented to the stack directly.
    stack = next(r.urn for r in result.records.values() if r.type == "pulumi:pulumi:Stack")
    assert not [r.name for r in result.resources if r.custom and r.parent == stack]


def test_no_inline_routes_and_nodes_ignore_ami_drift(dev_stack):
    result, _ = dev_stack
    assert all(not r.inputs.get("routes") for r in result.of_type("aws:ec2/routeTable:RouteTable"))
    for inst in result.of_type("aws:ec2/instance:Instance"):
        assert inst.options["ignoreChanges"] == ["ami"]


def test_exports_name_every_node(dev_stack):
    result, _ = dev_stack
    nodes = result.exports["nodes"]
    assert sorted(nodes) == ["node1", "node2", "node3"]
    assert all(re.fullmatch(r"192\.168\.\d+\.\d+", n["privateIp"]) for n in nodes.values())
    assert {n: v["podCidr"] for n, v in nodes.items()} == {
        "node1": "10.1.1.0/24", "node2": "10.1.2.0/24", "node3": "10.1.3.0/24"}
