"""Identity never depends on list position: nodes come and go, the others' resources stay put."""

import pytest

from tests.conftest import nodes_config


def _routes(result):
    return {r.urn: r.inputs["destinationCidrBlock"] for r in result.of_type("aws:ec2/route:Route")
            if r.name.startswith("pod-routes-")}


def _instances(result):
    return {r.urn: r.inputs for r in result.of_type("aws:ec2/instance:Instance")}


def test_adding_node4_keeps_node1_to_3(stack_run):
    before, _ = stack_run({"nodes": nodes_config(1, 2, 3)})
    after, _ = stack_run({"nodes": nodes_config(1, 2, 3, 4)})
    assert before.ok and after.ok
    old, new = _routes(before), _routes(after)
    assert len(old) == 6 and len(new) == 8
    assert all(new[urn] == cidr for urn, cidr in old.items())  # same URNs, same CIDRs
    assert sorted(set(new.values()) - set(old.values())) == ["10.1.4.0/24"]
    # The instances of node1-3 are registered with identical inputs: nothing would be replaced.
    old_i, new_i = _instances(before), _instances(after)
    assert all(new_i[urn] == inputs for urn, inputs in old_i.items())


def test_removing_node2_keeps_node3(stack_run):
    before, _ = stack_run({"nodes": nodes_config(1, 2, 3)})
    after, _ = stack_run({"nodes": nodes_config(1, 3)})
    old, new = _routes(before), _routes(after)
    # Routes are keyed by table and destination: node3's block keeps its URNs (and targets, below).
    node3 = {urn: cidr for urn, cidr in old.items() if cidr == "10.1.3.0/24"}
    assert len(node3) == 2 and all(new[urn] == cidr for urn, cidr in node3.items())
    targets = {r.urn: r.inputs.get("networkInterfaceId") for r in after.of_type("aws:ec2/route:Route")}
    eni3 = after.named("workers-node3").outputs["primaryNetworkInterfaceId"]
    assert all(targets[urn] == eni3 for urn in node3)
    assert not any("10.1.2.0/24" in urn for urn in new)
    assert "10.1.3.0/24" in new.values() and "10.1.2.0/24" not in new.values()


def test_a_program_run_twice_registers_identical_inputs(stack_run, run_stack):
    first, _ = stack_run()
    second, _ = run_stack()  # a second engine, a fresh AWS
    assert first.ok and second.ok
    assert [r.urn for r in first.resources] == [r.urn for r in second.resources]
    assert {r.urn: r.inputs for r in first.resources} == {r.urn: r.inputs for r in second.resources}
    assert first.exports == second.exports


@pytest.mark.parametrize("change", [{"cni": "flannel"}, {"encapsulation": "vxlan"}])
def test_cni_and_encapsulation_never_touch_vpc_subnets_or_instances(stack_run, change):
    base, _ = stack_run()
    other, _ = stack_run(change)
    kept = ("aws:ec2/vpc:Vpc", "aws:ec2/subnet:Subnet", "aws:ec2/instance:Instance", "aws:ec2/natGateway:NatGateway")
    for t in kept:
        assert {r.urn: r.inputs for r in base.of_type(t)} == {r.urn: r.inputs for r in other.of_type(t)}
