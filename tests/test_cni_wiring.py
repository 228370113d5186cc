"""The CNI wired into the whole program (as __main__.py will): checks against the VPC's routes,
what switching cni/encapsulation changes, and the preview table."""

from __future__ import annotations

import pytest

from cni_helpers import project_with_cni
from offline.checks import cni as cni_checks
from offline import report

AWS_TYPES = ("aws:",)


def _run(run_stack, tmp_path, **config):
    return run_stack(config=config or None, project_dir=project_with_cni(tmp_path))


@pytest.mark.parametrize("cni, encap", [("calico", "none"), ("calico", "vxlan"), ("calico", "ipip"),
                                        ("flannel", "none"), ("flannel", "vxlan")])
def test_cni_matches_the_vpc(run_stack, tmp_path, cni, encap):
    result, engine = _run(run_stack, tmp_path, cni=cni, encapsulation=encap)
    assert result.ok, result.error
    ec2 = engine.client("ec2")
    routed = cni_checks.routed_blocks(ec2)
    assert routed == {"node1": "10.1.1.0/24", "node2": "10.1.2.0/24", "node3": "10.1.3.0/24"}
    assert cni_checks.check_run(result, engine.kube, ec2) == []
    table = report.cni_table(result, engine.kube, ec2)
    assert table.splitlines()[0].startswith(cni)
    mtu = {"none": "9001", "vxlan": "8951", "ipip": "8981"}[encap]
    rows = [line.split() for line in table.splitlines()[2:]]
    assert [r[0] for r in rows] == ["node1", "node2", "node3"] and all(r[-1] == mtu for r in rows)


def _cni_rule(record) -> bool:
    # The nodes' security-group rules a CNI mode needs (tests/test_cluster.py checks them per mode).
    return record.type == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule" and (
        record.name.startswith(("workers-cni-", "workers-cp-calico")))


def _aws(result):
    return {r.urn: r.inputs for r in result.resources
            if r.type.startswith(AWS_TYPES) and r.type != "aws:ec2/route:Route" and not _cni_rule(r)}


def test_switching_cni_or_encapsulation_touches_only_cni_and_pod_routes(run_stack, tmp_path):
    base, _ = _run(run_stack, tmp_path, cni="calico", encapsulation="none")
    for change in ({"cni": "flannel", "encapsulation": "none"}, {"cni": "calico", "encapsulation": "vxlan"},
                   {"cni": "flannel", "encapsulation": "vxlan"}):
        other, _ = _run(run_stack, tmp_path, **change)
        assert other.ok, other.error
        assert _aws(other) == _aws(base), change  # VPC, subnets, instances: same URNs, same inputs
        routes = {r.urn for r in other.of_type("aws:ec2/route:Route")}
        pod_routes = {r.urn for r in base.of_type("aws:ec2/route:Route") if "pod-routes" in r.urn}
        if change["encapsulation"] == "none":
            assert pod_routes <= routes
        else:
            assert not pod_routes & routes


def test_checks_fail_when_cni_and_vpc_disagree(run_stack, tmp_path):
    result, engine = _run(run_stack, tmp_path, cni="calico")
    ec2 = engine.client("ec2")
    blocks = cni_checks.routed_blocks(ec2)
    blocks["node2"], blocks["node3"] = blocks["node3"], blocks["node2"]
    problems = cni_checks.check_cni(engine.kube.objects, result.records.values(), blocks, "none")
    assert any("node2" in p and "10.1.3.0/24" in p for p in problems), problems


def test_custom_resources_depend_on_the_release(run_stack, tmp_path):
    result, _ = _run(run_stack, tmp_path, cni="calico")
    assert cni_checks.check_crd_dependencies(result.records.values()) == []
    records = [r for r in result.records.values()]
    pool = next(r for r in records if r.type.endswith(":IPPool"))
    pool.dependencies = []
    assert cni_checks.check_crd_dependencies(records) == [
        f"{pool.type} {pool.name}: does not depend on the helm release that installs its CRD"]
