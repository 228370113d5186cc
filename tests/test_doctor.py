"""k8snet.doctor against a live stack: the offline engine's dev run is the "account" (moto holds its VPC, routes,
instances and NAT gateway), botocore's Stubber answers what moto cannot produce (blackhole routes, a DEGRADED
add-on, unhealthy targets, the EC2 Elastic IP quota), and a loopback HTTP server plays the Kubernetes API.
Every client is the doctor's guarded one: the calls it made are asserted to be reads."""

from __future__ import annotations

import copy
import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
import yaml
from botocore.stub import Stubber
from conftest import ROOT

from k8snet.config import parse_program_config
from k8snet.dns.corefile import coredns_corefile
from k8snet.doctor import __main__ as doctor
from k8snet.doctor import aws, findings, readonly
from k8snet.doctor.inputs import stack_config, stack_outputs
from offline.kube.api_server import unwrap_secrets

MUTATING = ("Create", "Delete", "Modify", "Replace", "Update", "Put", "Associate", "Disassociate", "Register",
            "Deregister", "Request", "Assume", "Attach", "Detach", "Terminate", "Run", "Start", "Stop")


@pytest.fixture(scope="module")
def live(stack_run):
    """(outputs, config, raw ec2 client) of the dev stack 'deployed' in moto: a copy of the shared dev run for the
    module (tests change moto; each puts it back)."""
    result, shared = stack_run()
    assert result.ok, result.error
    with shared.fork() as engine:
        yield (unwrap_secrets(copy.deepcopy(result.exports)), parse_program_config(result.config.values, "dev"),
               engine.client("ec2"))


class Account:
    """The doctor's client factory: moto for what moto models, Stubber for the rest; all guarded."""

    def __init__(self, region: str):
        self.region, self.calls, self.stubs, self.clients = region, [], {}, {}

    def stub(self, service: str) -> Stubber:
        client = readonly.guard(boto3.client(service, region_name=self.region), self.calls)
        self.clients[service] = client
        self.stubs[service] = Stubber(client)
        self.stubs[service].activate()
        return self.stubs[service]

    def __call__(self, service: str):
        if service not in self.clients:
            self.clients[service] = readonly.guard(boto3.client(service, region_name=self.region), self.calls)
        return self.clients[service]

    def assert_reads_only(self):
        assert self.calls, "the doctor made no call"
        made = {c.split(":", 1)[1] for c in self.calls}
        assert not [c for c in made if c.startswith(MUTATING)], made
        for call in self.calls:
            service, op = call.split(":", 1)
            assert op in readonly.ALLOWED_OPERATIONS[service]
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()


def _stub_quotas(account: Account, eip_quota: float = 5.0, never_applied: bool = False):
    stub = account.stub("service-quotas")
    for (service, code), value in ((aws.ROUTE_QUOTA, 50.0), (aws.EIP_QUOTA, eip_quota)):
        quota = {"Quota": {"ServiceCode": service, "QuotaCode": code, "Value": value}}
        if never_applied:  # what AWS answers for a quota nobody ever raised (aws-cli#6629)
            stub.add_client_error("get_service_quota", "NoSuchResourceException",
                                  "The request failed because the specified resource does not exist.",
                                  expected_params={"ServiceCode": service, "QuotaCode": code})
            stub.add_response("get_aws_default_service_quota", quota, {"ServiceCode": service, "QuotaCode": code})
        else:
            stub.add_response("get_service_quota", quota, {"ServiceCode": service, "QuotaCode": code})


def _stub_addons(account: Account, cfg, status="ACTIVE", corefile=None):
    stub = account.stub("eks")
    stub.add_response("list_addons", {"addons": ["coredns", "kube-proxy"]}, {"clusterName": "k8snet-dev"})
    health = {"issues": [{"code": "InsufficientNumberOfReplicas", "message": "0 of 2 replicas ready"}]} \
        if status != "ACTIVE" else {"issues": []}
    values = json.dumps({"corefile": coredns_corefile(cfg.coredns) if corefile is None else corefile})
    stub.add_response("describe_addon", {"addon": {"addonName": "coredns", "clusterName": "k8snet-dev", "status": status,
                                                   "addonVersion": "v1.12.4-eksbuild.1", "health": health,
                                                   "configurationValues": values}},
                      {"clusterName": "k8snet-dev", "addonName": "coredns"})
    stub.add_response("describe_addon", {"addon": {"addonName": "kube-proxy", "clusterName": "k8snet-dev",
                                                   "status": "ACTIVE", "health": {"issues": []}}},
                      {"clusterName": "k8snet-dev", "addonName": "kube-proxy"})


def _stub_targets(account: Account, outputs, unhealthy: str | None = None):
    stub = account.stub("elbv2")
    hosts = sorted({outputs["albHostname"], outputs["appLoadBalancerHostname"]})
    arns = {h: f"arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/lb{i}/abc" for i, h in enumerate(hosts)}
    stub.add_response("describe_load_balancers", {"LoadBalancers": [{"DNSName": h, "LoadBalancerArn": a}
                                                                     for h, a in arns.items()]})
    for i, host in enumerate(hosts):
        tg = f"arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg{i}/abc"
        stub.add_response("describe_target_groups", {"TargetGroups": [{"TargetGroupArn": tg, "TargetGroupName": f"tg{i}",
                                                                       "HealthCheckProtocol": "HTTP",
                                                                       "HealthCheckPort": "traffic-port"}]},
                          {"LoadBalancerArn": arns[host]})
        health = []
        for name, info in sorted(outputs["nodes"].items()):
            state = {"State": "healthy"}
            if name == unhealthy:
                state = {"State": "unhealthy", "Reason": "Target.FailedHealthChecks",
                         "Description": "Health checks failed"}
            health.append({"Target": {"Id": info["instanceId"], "Port": 30080}, "TargetHealth": state})
        stub.add_response("describe_target_health", {"TargetHealthDescriptions": health}, {"TargetGroupArn": tg})


def _account(live, **kw) -> Account:
    outputs, cfg, _ = live
    account = Account(outputs["region"])
    _stub_quotas(account, kw.get("eip_quota", 5.0), kw.get("never_applied", False))
    _stub_addons(account, cfg, kw.get("addon_status", "ACTIVE"), kw.get("corefile"))
    _stub_targets(account, outputs, kw.get("unhealthy"))
    return account


def _failed(found) -> list[str]:
    return [f"{x.check} {x.subject}: {x.detail}" for x in found if x.status == findings.FAIL]


@pytest.mark.parametrize("never_applied", [False, True], ids=["applied-quotas", "default-quotas"])
def test_a_healthy_stack_passes_every_aws_check_with_reads_only(live, never_applied):
    """Also in an account whose quotas nobody raised: GetServiceQuota has no applied value to give, the
    default is read instead."""
    outputs, cfg, _ = live
    account = _account(live, never_applied=never_applied)
    found = doctor.run(outputs, cfg, account)
    assert _failed(found) == [] and findings.exit_code(found) == 0, findings.table(found)
    checks = {x.check for x in found if x.status == findings.OK}
    assert {"pod route", "source/dest check", "route quota", "Elastic IP quota", "NAT gateway", "EKS add-on",
            "Corefile", "target"} <= checks
    assert sum(x.check == "pod route" for x in found) == 6  # 3 nodes x 2 pod-route tables
    account.assert_reads_only()


def test_moto_states_a_missing_route_and_a_checking_node_fail_with_remedies(live):
    outputs, cfg, ec2 = live
    node2 = outputs["nodes"]["node2"]
    table = outputs["podRouteTableIds"]["us-east-1b"]
    (route,) = [r for t in ec2.describe_route_tables(RouteTableIds=[table])["RouteTables"] for r in t["Routes"]
                if r.get("DestinationCidrBlock") == node2["podCidr"]]
    ec2.delete_route(RouteTableId=table, DestinationCidrBlock=node2["podCidr"])
    ec2.modify_instance_attribute(InstanceId=node2["instanceId"], SourceDestCheck={"Value": True})
    try:
        found = doctor.run(outputs, cfg, _account(live))
    finally:
        ec2.create_route(RouteTableId=table, DestinationCidrBlock=node2["podCidr"],
                         NetworkInterfaceId=route["NetworkInterfaceId"])
        ec2.modify_instance_attribute(InstanceId=node2["instanceId"], SourceDestCheck={"Value": False})
    failed = _failed(found)
    assert failed[:2] == [f"pod route node2 in {table} (us-east-1b): no route for 10.1.2.0/24",
                          f"source/dest check node2: on for {node2['instanceId']} / {route['NetworkInterfaceId']}: "
                          "EC2 drops its routed pod traffic"], failed
    assert len(failed) == 2 and all(x.remedy for x in found if x.status == findings.FAIL)
    assert findings.exit_code(found) == 1


def test_stubbed_states_blackhole_route_degraded_addon_unhealthy_target_and_full_eip_quota_fail(live):
    outputs, cfg, ec2 = live
    account = _account(live, addon_status="DEGRADED", unhealthy="node3", eip_quota=1.0, corefile="changed\n")
    tables = ec2.describe_route_tables(RouteTableIds=sorted(outputs["podRouteTableIds"].values()))["RouteTables"]
    node1 = outputs["nodes"]["node1"]
    for t in tables:  # node1's routes point at an interface that is gone (the node was replaced by hand)
        for r in t["Routes"]:
            if r.get("DestinationCidrBlock") == node1["podCidr"]:
                r["State"] = "blackhole"
    instances = ec2.describe_instances(InstanceIds=sorted(n["instanceId"] for n in outputs["nodes"].values()))
    enis = ec2.describe_network_interfaces()["NetworkInterfaces"]
    stub = account.stub("ec2")
    route_ids = {"RouteTableIds": sorted(outputs["podRouteTableIds"].values())}
    stub.add_response("describe_instances", instances, {"InstanceIds": sorted(n["instanceId"] for n in outputs["nodes"].values())})
    stub.add_response("describe_route_tables", {"RouteTables": tables}, route_ids)
    stub.add_response("describe_instances", instances, None)
    stub.add_response("describe_network_interfaces", {"NetworkInterfaces": enis}, None)
    stub.add_response("describe_route_tables", {"RouteTables": tables}, route_ids)
    stub.add_response("describe_addresses", {"Addresses": [{"PublicIp": "198.51.100.1", "Domain": "vpc"}]}, None)
    stub.add_response("describe_nat_gateways", {"NatGateways": [{"NatGatewayId": "nat-1", "State": "failed",
                                                                "FailureMessage": "Elastic IP address is in use"}]}, None)
    found = doctor.run(outputs, cfg, account)
    failed = _failed(found)
    assert sum("is blackhole (its target is gone)" in f for f in failed) == 2
    assert "EKS add-on coredns: DEGRADED (InsufficientNumberOfReplicas: 0 of 2 replicas ready)" in failed
    assert any(f.startswith("Corefile coredns add-on: differs from the generated one (line 1:") for f in failed)
    assert sum(f.startswith("target node3 in tg") and "unhealthy Target.FailedHealthChecks" in f for f in failed) == 2
    assert "NAT gateway nat-1: failed: Elastic IP address is in use" in failed
    warned = [x for x in found if x.status == findings.WARN]
    assert [x.detail for x in warned if x.check == "Elastic IP quota"] == [
        "1 of 1 in use: no room for another NAT gateway"]
    account.assert_reads_only()


def test_clients_refuse_every_write_before_sending_it():
    account = Account("us-east-1")
    with pytest.raises(readonly.ReadOnlyViolation, match="ec2:CreateRoute"):
        account("ec2").create_route(RouteTableId="rtb-1", DestinationCidrBlock="10.1.9.0/24", NetworkInterfaceId="eni-1")
    with pytest.raises(readonly.ReadOnlyViolation, match="sts:GetSessionToken"):
        account("sts").get_session_token()
    assert account.calls == []


class _KubeApi(BaseHTTPRequestHandler):
    """The two lists the doctor reads; any other method is recorded (and must never come)."""

    nodes: list = []
    pools: list = []
    methods: list = []

    def do_GET(self):  # noqa: N802
        self.methods.append(("GET", self.path))
        if self.path.startswith("/api/v1/nodes"):
            body = {"kind": "NodeList", "apiVersion": "v1", "metadata": {}, "items": self.nodes}
        elif self.path.startswith("/apis/crd.projectcalico.org/v1/ippools"):
            body = {"kind": "IPPoolList", "apiVersion": "crd.projectcalico.org/v1", "metadata": {}, "items": self.pools}
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802
        self.methods.append(("POST", self.path))
        self.send_error(405)

    def log_message(self, *args):
        pass


@pytest.fixture
def kube_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _KubeApi)
    # serve_forever looks for shutdown() every poll_interval (0.5 s by default: half a second per test)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    _KubeApi.methods = []
    kubeconfig = {"apiVersion": "v1", "kind": "Config", "current-context": "t",
                  "clusters": [{"name": "t", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}],
                  "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t"}}],
                  "users": [{"name": "t", "user": {"token": "test"}}]}
    yield kubeconfig
    server.shutdown()
    server.server_close()
    thread.join()


def _node(name, node_name, ready=True, pod_cidr=None):
    return {"metadata": {"name": node_name, "labels": {"k8snet.io/node": name}},
            "spec": {"podCIDR": pod_cidr} if pod_cidr else {},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                       "reason": "KubeletReady" if ready else "KubeletNotReady",
                                       "message": "ok" if ready else "container runtime network not ready: cni"}]}}


def test_kubernetes_nodes_ready_with_their_ippools_and_a_not_ready_node_fails(live, kube_server):
    outputs, cfg, _ = live
    nodes = outputs["nodes"]
    _KubeApi.nodes = [_node(n, i["nodeName"], ready=(n != "node2")) for n, i in sorted(nodes.items())]
    _KubeApi.pools = [{"metadata": {"name": f"k8snet-{n}"}, "spec": {"cidr": i["podCidr"] if n != "node3" else "10.1.99.0/24"}}
                      for n, i in sorted(nodes.items())]
    calls: list[str] = []
    core, custom = doctor.kube_apis(kube_server, calls)
    from k8snet.doctor import kube

    found = kube.nodes(core, custom, outputs, cfg)
    failed = _failed(found)
    assert failed == ["node node2: NotReady (KubeletNotReady: container runtime network not ready: cni)",
                      "IPPool node3: k8snet-node3 has 10.1.99.0/24, the VPC routes 10.1.3.0/24"]
    assert [x.detail for x in found if x.check == "IPPool" and x.status == findings.OK] == [
        "k8snet-node1 10.1.1.0/24", "k8snet-node2 10.1.2.0/24"]
    assert {m for m, _ in _KubeApi.methods} == {"GET"} and len(calls) == 2
    with pytest.raises(readonly.ReadOnlyViolation):
        core.delete_node(nodes["node1"]["nodeName"])
    assert {m for m, _ in _KubeApi.methods} == {"GET"}


def test_flannel_nodes_are_checked_by_their_podcidr(live, kube_server):
    outputs, _, _ = live
    cfg = parse_program_config({"k8s-networking:cni": "flannel"}, "dev")
    _KubeApi.nodes = [_node(n, i["nodeName"], pod_cidr=i["podCidr"] if n != "node1" else "10.1.7.0/24")
                      for n, i in sorted(outputs["nodes"].items())]
    from k8snet.doctor import kube

    found = kube.nodes(*doctor.kube_apis(kube_server), outputs, cfg)
    assert _failed(found) == ["podCIDR node1: 10.1.7.0/24 but the VPC routes 10.1.1.0/24 to it"]
    assert not any("ippools" in path for _, path in _KubeApi.methods)


def test_cli_reads_files_and_exits_like_the_preview(live, tmp_path, capsys):
    outputs, _, _ = live
    out = tmp_path / "outputs.json"
    out.write_text(json.dumps(outputs))
    status = doctor.main(["--outputs", str(out), "--config-file", str(ROOT / "Pulumi.dev.yaml"), "--no-kube", "--json"])
    doc = json.loads(capsys.readouterr().out)
    # moto has the routes, nodes and NAT gateway; it knows no load balancer of the stack and no EC2 quota codes.
    assert status == 1 and doc["ok"] is False
    assert [f["detail"] for f in doc["findings"] if f["status"] == "FAIL"] == [
        "no load balancer has this DNS name", "no load balancer has this DNS name"]
    assert [f["status"] for f in doc["findings"] if f["check"] == "route quota"] == ["ok", "ok"]
    assert [f["status"] for f in doc["findings"] if f["check"] == "eip quota"] == ["ERROR"]  # moto: no EC2 quotas
    assert doctor.main(["--outputs", str(tmp_path / "missing.json"), "--config-file", str(ROOT / "Pulumi.dev.yaml")]) == 2


def test_config_file_and_cli_json_give_the_programs_config(tmp_path, monkeypatch):
    from_file = stack_config("dev", ROOT / "Pulumi.dev.yaml")
    assert from_file.cni == "calico" and from_file.nat_gateways == "single" and len(from_file.nodes) == 3
    assert coredns_corefile(from_file.coredns).count("myapp.local") == 1
    # The same through `pulumi config --json --show-secrets` (its shape: key -> {value, objectValue?, secret}).
    raw = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())["config"]
    listed = {k: {"value": json.dumps(v) if isinstance(v, (dict, list)) else str(v), "secret": False,
                  **({"objectValue": v} if isinstance(v, (dict, list)) else {})} for k, v in raw.items()}
    (tmp_path / "config.json").write_text(json.dumps(listed))
    (tmp_path / "outputs.json").write_text(json.dumps({"region": "us-east-1"}))
    fake = tmp_path / "pulumi"
    fake.write_text('#!/bin/sh\necho "$@" >> "$(dirname "$0")/calls"\n'
                    'case "$1" in config) cat "$(dirname "$0")/config.json";; stack) cat "$(dirname "$0")/outputs.json";; '
                    'esac\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    assert stack_config("dev") == from_file
    assert stack_outputs("dev") == {"region": "us-east-1"}
    assert (tmp_path / "calls").read_text().splitlines() == [
        "config --json --show-secrets --stack dev", "stack output --json --show-secrets --stack dev"]


def test_targets_read_from_moto_healthy_and_a_stopped_node_fails(live):
    """moto models target health for instance targets: healthy while running, unused once stopped."""
    outputs, cfg, ec2 = live
    elbv2 = boto3.client("elbv2", region_name=outputs["region"])
    lb = elbv2.create_load_balancer(Name="doctor-test", Subnets=sorted(outputs["publicSubnetIds"].values()),
                                    Scheme="internet-facing", Type="application")["LoadBalancers"][0]
    tg = elbv2.create_target_group(Name="doctor-test", Protocol="HTTP", Port=30080, VpcId=outputs["vpcId"],
                                   TargetType="instance")["TargetGroups"][0]
    elbv2.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="HTTP", Port=80,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    ids = sorted(n["instanceId"] for n in outputs["nodes"].values())
    elbv2.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": i, "Port": 30080} for i in ids])
    mine = {**outputs, "albHostname": lb["DNSName"], "appLoadBalancerHostname": ""}
    account = Account(outputs["region"])
    try:
        assert [x.status for x in aws.targets(account, mine, cfg)] == [findings.OK] * 3
        ec2.stop_instances(InstanceIds=[outputs["nodes"]["node1"]["instanceId"]])
        found = aws.targets(account, mine, cfg)
    finally:
        ec2.start_instances(InstanceIds=[outputs["nodes"]["node1"]["instanceId"]])
        elbv2.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    assert _failed(found) == ["target node1 in doctor-test: unused Target.InvalidState Target is in the stopped state"]
    account.assert_reads_only()
