"""The policy pack (policypack/) over the offline engine's dev run, through the one adapter (offline/policy.py):
the dev stack passes, with every value known and as a first preview sees it; each policy fails a record
mutated the way a real mistake would look, with its message."""

from __future__ import annotations

import copy
import json

import pytest
from conftest import ROOT

from k8snet.nodes import nodeadm
from offline.policy import load_pack, run_pack
from policypack.plan import UNKNOWN, Plan, Resource, plain
from policypack.registry import RULES, load_rules


@pytest.fixture(scope="module")
def pack():
    return load_pack(ROOT / "policypack")


def test_the_pack_lists_every_rule_once_with_a_level_and_a_reason(pack):
    rules = load_rules()
    assert [p.name for p in pack.policies] == list(rules) and len(rules) >= 16
    for rule in rules.values():
        assert rule.level.value in ("mandatory", "advisory") and len(rule.why) > 40, rule.name


def test_dev_stack_passes_every_policy(pack, dev_records):
    report = run_pack(pack, dev_records)
    assert report.violations == [] and report.unknown == [], report.text()


def test_dev_stack_as_a_first_preview_sees_it_has_no_violation_and_says_once_what_it_could_not_check(pack, dev_records):
    report = run_pack(pack, dev_records, preview=True)
    assert report.violations == [], report.text()
    assert report.unknown, "a first preview has unknown values; the pack must say what it could not check"
    per_policy = [u.policy for u in report.unknown]
    assert len(per_policy) == len(set(per_policy))  # once per policy (resource policies: once per resource)
    assert all("during preview" in u.message for u in report.unknown)
    # Identity through property dependencies survives preview: the pod routes are checked, not skipped.
    assert {"pod-routes", "source-dest-check", "route-table-quota", "cni-pod-blocks"}.isdisjoint(per_policy)


@pytest.mark.parametrize("config", [{"cni": "flannel", "encapsulation": "vxlan"},
                                    {"nodeLocalDns": True, "kubeProxyMode": "ipvs"}], ids=["flannel-vxlan", "nld-ipvs"])
def test_other_shapes_of_the_stack_pass_too(pack, run_stack, config):
    """No false alarm where the rules read other shapes: an overlay (no pod routes: the encapsulation comes from
    the CNI's values) and node-local-dns with ipvs (kubelet clusterDNS in the user data)."""
    result, _ = run_stack(config)
    assert result.ok, result.error
    report = run_pack(pack, result)
    assert report.violations == [] and report.unknown == [], report.text()
    assert run_pack(pack, result, preview=True).violations == []


def _named(result, name):
    return next(r for r in result.records.values() if r.name == name)


def _first(result, type_token, **match):
    return next(r for r in result.records.values() if r.type == type_token
                and all(r.inputs.get(k) == v for k, v in match.items()))


def _route(result):
    _named(result, "pod-routes-us-east-1a-10.1.1.0/24").inputs["destinationCidrBlock"] = "10.1.9.0/24"


def _src_dst(result):
    _named(result, "workers-node2").inputs["sourceDestCheck"] = True


def _ippool(result):
    pool = _first(result, "kubernetes:crd.projectcalico.org/v1:IPPool")
    pool.inputs["spec"]["cidr"] = "10.1.77.0/24"


def _selector(result):
    svc = _named(result, "app-service-webapp")
    svc.inputs["spec"]["selector"] = {"app": "webap"}


def _dns_policy(result):
    urn = next(u for u, r in result.records.items() if r.type.endswith("NetworkPolicy")
               and "dns" in r.inputs["metadata"]["name"])
    del result.records[urn]


def _ingress_annotation(result):
    ing = _first(result, "kubernetes:networking.k8s.io/v1:Ingress")
    ing.inputs["metadata"]["annotations"]["alb.ingress.kubernetes.io/healthcheck-pth"] = "/healthz"


def _nlb_annotation(result):
    svc = _named(result, "app-service-webapp-lb")
    key = "service.beta.kubernetes.io/aws-load-balancer-scheme"
    svc.inputs["metadata"]["annotations"][key] = "public"


def _release_value(result):
    rel = _first(result, "kubernetes:helm.sh/v3:Release", chart="aws-load-balancer-controller")
    rel.inputs["values"]["replicaCont"] = 2


def _webhook_order(result):
    # The Ingress validator fails closed (the Service mutator is off: Services need no ordering).
    ingress = _first(result, "kubernetes:networking.k8s.io/v1:Ingress")
    ingress.dependencies = []


def _schema(result):
    dep = _first(result, "kubernetes:apps/v1:Deployment")
    dep.inputs["spec"]["replica"] = 2


def _corefile(result):
    addon = _first(result, "aws:eks/addon:Addon", addonName="coredns")
    values = json.loads(addon.inputs["configurationValues"])
    values["corefile"] = values["corefile"].replace("    ready\n", "")
    addon.inputs["configurationValues"] = json.dumps(values)


def _kubelet_dns(result):
    node = _named(result, "workers-node3")
    config = nodeadm.node_config_of(node.inputs["userData"])
    config["spec"]["kubelet"]["config"]["clusterDNS"] = ["169.254.20.10"]
    node.inputs["userData"] = nodeadm.user_data(config)


def _field(result):
    rule = _first(result, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    rule.inputs["description"] = "nodes -> pods"


def _kubelet_pods(result):
    node = _named(result, "workers-node1")
    config = nodeadm.node_config_of(node.inputs["userData"])
    config["spec"]["kubelet"]["config"]["maxPods"] = 200
    node.inputs["userData"] = nodeadm.user_data(config)


def _node_role(result):
    role = _named(result, "cluster-node-role")
    role.inputs["assumeRolePolicy"] = role.inputs["assumeRolePolicy"].replace("ec2.amazonaws.com", "ec2.amazonaws.com.cn")


def _quota(result):
    return {"route-table-quota": {"routesPerRouteTable": 4}}


MUTATIONS = {
    "pod-routes": (_route, "route 10.1.9.0/24 -> node1, but node1 owns 10.1.1.0/24"),
    "source-dest-check": (_src_dst, "node2: source/dest check is on"),
    "route-table-quota": (_quota, "5 routes (the local route included) exceed the quota of 4"),
    "cni-pod-blocks": (_ippool, "cidr 10.1.77.0/24 but the VPC routes"),
    "service-backends": (_selector, "selector {'app': 'webap'} matches no pod template"),
    "network-policy-flows": (_dns_policy, "kube-dns:53/UDP is denied, expected allowed"),
    "alb-ingress": (_ingress_annotation, "annotation alb.ingress.kubernetes.io/healthcheck-pth is not one"),
    "nlb-service-annotations": (_nlb_annotation, "aws-load-balancer-scheme='public' must be one of"),
    "lb-controller-release": (_release_value, "value replicaCont does not exist in chart"),
    "lb-controller-webhook-order": (_webhook_order, "may be created while the load balancer controller"),
    "kubernetes-schema": (_schema, "unknown field(s): 'replica'"),
    "coredns-corefile": (_corefile, "the root server block has no ready plugin"),
    "node-local-dns": (_kubelet_dns, "kubelet clusterDNS ['169.254.20.10'], expected nodeadm default"),
    "aws-field-constraints": (_field, "InvalidParameterValue: description 'nodes -> pods' contains '>'"),
    "node-kubelet-sizing": (_kubelet_pods, "workers-node1: kubelet admits 200 pods but nodeadm reserves"),
    "node-role-trust": (_node_role, "trusts ['ec2.amazonaws.com.cn'], not ec2.amazonaws.com"),
}


def test_every_rule_has_a_mutation_test():
    assert set(MUTATIONS) == set(load_rules())


@pytest.mark.parametrize("policy", sorted(MUTATIONS))
def test_a_mutated_record_fails_its_policy_with_its_message(pack, dev_records, policy):
    mutate, message = MUTATIONS[policy]
    result = copy.deepcopy(dev_records)
    config = mutate(result)
    report = run_pack(pack, result, config=config)
    mine = [v for v in report.violations if v.policy == policy]
    assert any(message in v.message for v in mine), report.text()
    assert all(v.level == RULES[policy].level.value for v in mine)


def test_plain_reads_unknown_values_field_by_field():
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

    props = unknown_checking_proxy({"a": UNKNOWN_STRING_VALUE, "b": [1.0, UNKNOWN_STRING_VALUE], "c": {"d": "x"}})
    assert plain(props) == {"a": UNKNOWN, "b": [1, UNKNOWN], "c": {"d": "x"}}


def test_an_unknown_value_in_one_route_skips_that_route_only():
    node = Resource("urn:i", "aws:ec2/instance:Instance", "n1",
                    {"tags": {"k8snet/node": "n1", "k8snet/pod-cidr": "10.1.1.0/24"}, "sourceDestCheck": True})
    table = Resource("urn:t", "aws:ec2/routeTable:RouteTable", "t", {"tags": {"Name": "t"}})
    ok = Resource("urn:r1", "aws:ec2/route:Route", "r1", {"networkInterfaceId": UNKNOWN, "routeTableId": UNKNOWN,
                                                           "destinationCidrBlock": "10.1.1.0/24"},
                  property_dependencies={"networkInterfaceId": ["urn:i"], "routeTableId": ["urn:t"]})
    odd = Resource("urn:r2", "aws:ec2/route:Route", "r2", {"networkInterfaceId": UNKNOWN, "routeTableId": UNKNOWN,
                                                            "destinationCidrBlock": UNKNOWN},
                   property_dependencies={"networkInterfaceId": ["urn:i"], "routeTableId": ["urn:t"]})
    from policypack.rules import network

    plan = Plan([node, table, ok, odd])
    assert list(network.check_pod_routes(plan, {})) == []
    assert [v.message for v in network.check_source_dest(plan, {})] == [
        "n1: source/dest check is on, so AWS drops the routed pod traffic for 10.1.1.0/24"]
    assert plan.notes == ["route r2 (destinationCidrBlock)"]


def test_the_pack_boots_as_the_cli_runs_it_and_answers_the_analyzer_protocol():
    """`python -m pulumi.policy <engine> policypack`, as the Pulumi CLI starts a Python pack: the real
    PolicyPack serves gRPC; AnalyzeStack over a wrong pod route and an unknown value answers as the CLI shows."""
    import os
    import select
    import subprocess
    import sys

    import grpc
    from google.protobuf import empty_pb2, struct_pb2
    from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

    proc = subprocess.Popen([sys.executable, "-m", "pulumi.policy", "127.0.0.1:1", str(ROOT / "policypack")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, proc.stderr.read1().decode() if proc.poll() is not None else "the pack printed no port in 60 s"
        port = int(proc.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = analyzer_pb2_grpc.AnalyzerStub(channel)
            info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)
            assert info.name == "k8snet" and [p.name for p in info.policies] == list(load_rules())

            def resource(type_, urn, props, deps=None):
                struct = struct_pb2.Struct()
                struct.update(props)
                return analyzer_pb2.AnalyzerResource(
                    type=type_, urn=urn, name=urn.rsplit("::", 1)[-1], properties=struct,
                    propertyDependencies={k: analyzer_pb2.AnalyzerPropertyDependencies(urns=v)
                                          for k, v in (deps or {}).items()})

            node = resource("aws:ec2/instance:Instance", "urn:pulumi:s::p::aws:ec2/instance:Instance::n1",
                            {"tags": {"k8snet/node": "n1", "k8snet/pod-cidr": "10.1.1.0/24"}, "sourceDestCheck": False})
            table = resource("aws:ec2/routeTable:RouteTable", "urn:pulumi:s::p::aws:ec2/routeTable:RouteTable::t",
                             {"tags": {"Name": "t"}})
            deps = {"networkInterfaceId": [node.urn], "routeTableId": [table.urn]}
            wrong = resource("aws:ec2/route:Route", "urn:pulumi:s::p::aws:ec2/route:Route::r1",
                             {"destinationCidrBlock": "10.1.2.0/24", "networkInterfaceId": UNKNOWN_STRING_VALUE,
                              "routeTableId": UNKNOWN_STRING_VALUE}, deps)
            unknown = resource("aws:ec2/route:Route", "urn:pulumi:s::p::aws:ec2/route:Route::r2",
                               {"destinationCidrBlock": UNKNOWN_STRING_VALUE, "networkInterfaceId": UNKNOWN_STRING_VALUE,
                                "routeTableId": UNKNOWN_STRING_VALUE}, deps)
            reply = stub.AnalyzeStack(analyzer_pb2.AnalyzeStackRequest(resources=[node, table, wrong, unknown]),
                                      timeout=30)
        routes = [d for d in reply.diagnostics if d.policyName == "pod-routes"]
        mandatory = [d for d in routes if d.enforcementLevel == analyzer_pb2.MANDATORY]
        assert any("route 10.1.2.0/24 -> n1, but n1 owns 10.1.1.0/24" in d.message for d in mandatory), reply
        advisory = [d for d in routes if d.enforcementLevel == analyzer_pb2.ADVISORY]
        assert len(advisory) == 1 and "can't run policy 'pod-routes'" in advisory[0].message
        assert "route r2 (destinationCidrBlock)" in advisory[0].message
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()


def test_an_ingress_backend_whose_node_port_the_api_server_assigns_is_an_instance_target():
    """A plan holds a NodePort Service as sent: without the nodePort the API server will assign. The ALB check
    reads the Service's type; a ClusterIP Service stays refused."""
    from offline.checks import alb

    def svc(kind):
        return {"kind": "Service", "metadata": {"name": "web", "namespace": "ns"},
                "spec": {"type": kind, "selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]}}

    ing = {"kind": "Ingress", "metadata": {"name": "web", "namespace": "ns", "annotations": {}},
           "spec": {"ingressClassName": "alb", "rules": [{"http": {"paths": [
               {"path": "/", "pathType": "Prefix",
                "backend": {"service": {"name": "web", "port": {"name": "http"}}}}]}}]}}
    found, targets = alb.ingress_object_problems(ing, [svc("NodePort")])
    assert found == [] and len(targets) == 1
    found, targets = alb.ingress_object_problems(ing, [svc("ClusterIP")])
    assert targets == [] and found == ["Ingress ns/web */: instance targets need a NodePort or LoadBalancer Service; "
                                       "web is ClusterIP"]
