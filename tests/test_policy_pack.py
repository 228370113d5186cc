"""The policy pack (policypack/) over the offline engine's dev run, through the one adapter (offline/policy.py):
the dev stack passes, with every value known and as a first preview sees it (its deliberate loosening, the
public API endpoint, the HTTP ALB and no deletion protection, as advisories only); each policy fails a record
mutated the way a real mistake would look, with its message. Once, the pack is served as the CLI runs it
(served_pack): the real analyzer's answers, and what it imports."""

from __future__ import annotations

import copy
import functools
import json
from ipaddress import ip_network

import pytest
from conftest import ROOT

from k8snet.nodes import nodeadm
from offline.policy import analyzer_requests, load_pack, run_pack
from policypack.plan import UNKNOWN, Plan, Resource, plain
from policypack.registry import RULES, load_rules
from tests.pack_server import serve


@pytest.fixture(scope="module")
def pack():
    return load_pack(ROOT / "policypack")


# The runs the tests start from (shared session runs, see conftest.py): the dev stack, the dev stack with the
# documented secure defaults (private API endpoint, internal ALB, deletion protection), flannel (its podCIDR
# assigner) and node-local-dns with ipvs. The flannel run is the variant test's; the secure one is this module's own.
SECURE = {"apiPublicAccessCidrs": [], "ingress": {"paths": ["/"]}, "deletionProtection": True}
FLANNEL = {"cni": "flannel", "encapsulation": "vxlan"}
BASES = {"dev": None, "secure": SECURE, "flannel": FLANNEL, "nld-ipvs": {"nodeLocalDns": True, "kubeProxyMode": "ipvs"}}
# What the dev stack loosens on purpose (Pulumi.dev.yaml; the preview warns about the first two): advisories.
DEV_ADVISORIES = {("api-endpoint-exposure", "the Kubernetes API endpoint is public to 0.0.0.0/0"),
                  ("load-balancer-exposure", "Ingress webapp/webapp: its internet-facing ALB serves plain HTTP"),
                  ("eks-deletion-protection", "cluster cluster-eks: deletion protection is off")}


def advisories(report) -> set[tuple[str, str]]:
    """(policy, expected fragment) of DEV_ADVISORIES that the report's advisory violations carry, plus any other
    advisory as (policy, its message)."""
    out = set()
    for v in report.violations:
        if v.level == "advisory":
            fragment = next((f for p, f in DEV_ADVISORIES if p == v.policy and f in v.message), v.message)
            out.add((v.policy, fragment))
    return out


@pytest.fixture(scope="module")
def base_run(stack_run):
    """base_run(name) -> the RunResult of that base (BASES), known to have succeeded; read it, never change it."""
    def run(name: str):
        result, _ = stack_run(BASES[name])
        assert result.ok, f"{name}: {result.error}"
        return result
    return run


@pytest.fixture(scope="module")
def base_report(pack, base_run):
    """base_report(name) -> the whole pack's report over that base, made on first use: the pass tests and the
    mutation tests' baselines read the same reports (read them, never change them)."""
    return functools.cache(lambda name: run_pack(pack, base_run(name)))


def test_the_pack_lists_every_rule_once_with_a_level_and_a_reason(pack):
    rules = load_rules()
    assert [p.name for p in pack.policies] == list(rules) and len(rules) >= 33
    for rule in rules.values():
        assert rule.level.value in ("mandatory", "advisory") and len(rule.why) > 40, rule.name


def test_dev_stack_passes_every_policy(base_report):
    report = base_report("dev")
    assert report.mandatory == [] and report.unknown == [], report.text()
    assert advisories(report) == DEV_ADVISORIES, report.text()


def test_the_documented_secure_defaults_pass_without_an_advisory(base_report):
    report = base_report("secure")
    assert report.violations == [] and report.unknown == [], report.text()


def test_dev_stack_as_a_first_preview_sees_it_has_no_violation_and_says_once_what_it_could_not_check(pack, dev_records):
    report = run_pack(pack, dev_records, preview=True)
    assert report.mandatory == [], report.text()
    assert advisories(report) <= DEV_ADVISORIES, report.text()
    assert report.unknown, "a first preview has unknown values; the pack must say what it could not check"
    per_policy = [u.policy for u in report.unknown]
    assert len(per_policy) == len(set(per_policy))  # once per policy (resource policies: once per resource)
    assert all("during preview" in u.message for u in report.unknown)
    # Identity through property dependencies survives preview: the pod routes are checked, not skipped, and so
    # are the dependency graph (destroy order), the resource options and the settings the program writes.
    assert {"pod-routes", "source-dest-check", "route-table-quota", "cni-pod-blocks", "destroy-order",
            "worker-replacement", "eks-deletion-protection", "vpc-flow-logs", "log-retention"}.isdisjoint(per_policy)
    # The packet path waits for the addresses EC2 assigns, and says which.
    (flows,) = [u.message for u in report.unknown if u.policy == "packet-flows"]
    assert "the addresses EC2 assigns to network-nat-us-east-1a, workers-node1, workers-node2, workers-node3" in flows


@pytest.mark.parametrize("base", ["flannel", "nld-ipvs"], ids=["flannel-vxlan", "nld-ipvs"])
def test_other_shapes_of_the_stack_pass_too(pack, base_run, base_report, base):
    """No false alarm where the rules read other shapes: an overlay (no pod routes: the encapsulation comes from
    the CNI's values; flannel's podCIDR assigners and their admission policy) and node-local-dns with ipvs
    (kubelet clusterDNS in the user data, node-cache's hardening)."""
    report = base_report(base)
    assert report.mandatory == [] and report.unknown == [], report.text()
    assert advisories(report) == DEV_ADVISORIES, report.text()
    assert run_pack(pack, base_run(base), preview=True).mandatory == []


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


def _container(result, name, container):
    spec = _named(result, name).inputs["spec"]["template"]["spec"]
    return next(c for c in spec.get("initContainers", []) + spec["containers"] if c["name"] == container)


def _tag_only_image(result):
    _container(result, "app-deployment-webapp", "nginx")["image"] = "docker.io/library/nginx:1.30.4"


def _privilege_escalation(result):
    _container(result, "app-deployment-webapp", "app")["securityContext"]["allowPrivilegeEscalation"] = True


def _admission_binding(result):
    urn = next(u for u, r in result.records.items() if r.type.endswith("ValidatingAdmissionPolicyBinding"))
    del result.records[urn]


def _plaintext_mysql(result):
    mysql = _container(result, "app-stateful-set-mysql", "mysql")
    mysql["args"] = [a for a in mysql["args"] if a != "--require-secure-transport=ON"]


def _host_protection(result):
    urn = next(u for u, r in result.records.items() if r.type.endswith("GlobalNetworkPolicy"))
    del result.records[urn]


def _public_api(result):
    _first(result, "aws:eks/cluster:Cluster").inputs["vpcConfig"].update(endpointPublicAccess=True,
                                                                         publicAccessCidrs=["0.0.0.0/0"])


def _public_nlb(result):
    annotations = _named(result, "app-service-webapp-lb").inputs["metadata"]["annotations"]
    annotations["service.beta.kubernetes.io/aws-load-balancer-scheme"] = "internet-facing"


def _log_key_policy(result):
    key = _named(result, "cluster-logs-key")
    key.inputs["policy"] = key.inputs["policy"].replace("/aws/eks/k8snet-dev/cluster", "/aws/eks/other/cluster")


def _retention(result):
    _named(result, "cluster-logs").inputs["retentionInDays"] = 30


def _rejected_only(result):
    _first(result, "aws:ec2/flowLog:FlowLog").inputs["trafficType"] = "REJECT"


def _delivery_policy(result):
    policy = _first(result, "aws:iam/rolePolicy:RolePolicy")
    policy.inputs["policy"] = policy.inputs["policy"].replace('"logs:PutLogEvents"', '"logs:GetLogEvents"')


def _kms_log_bucket(result):
    encryption = _first(result, "aws:s3/bucketServerSideEncryptionConfiguration:"
                                "BucketServerSideEncryptionConfiguration")
    encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] = "aws:kms"


def _no_deletion_protection(result):
    _first(result, "aws:eks/cluster:Cluster").inputs["deletionProtection"] = False


def _finalized_without_controller(result):
    # The example app (its component and everything in it) no longer waits for the controller's release.
    release = _first(result, "kubernetes:helm.sh/v3:Release", chart="aws-load-balancer-controller").urn
    for r in result.records.values():
        if "k8snet:index:ExampleApp" in r.urn:
            r.dependencies = [d for d in r.dependencies if d != release]
            r.property_dependencies = {k: [d for d in v if d != release] for k, v in r.property_dependencies.items()}


def _replaced_create_first(result):
    _named(result, "workers-node2").options["deleteBeforeReplace"] = False


def _service_mutator(result):
    rel = _first(result, "kubernetes:helm.sh/v3:Release", chart="aws-load-balancer-controller")
    rel.inputs["values"]["enableServiceMutatorWebhook"] = True


def _pod_rule(result):
    urn = next(u for u, r in result.records.items() if r.name == "workers-cni-pods")
    del result.records[urn]


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
    "image-digests": (_tag_only_image, "Deployment webapp/webapp container nginx: image "
                                       "'docker.io/library/nginx:1.30.4' is not pinned"),
    "workload-hardening": (_privilege_escalation, "container app: allowPrivilegeEscalation is not false"),
    "assigner-admission": (_admission_binding, "no ValidatingAdmissionPolicy in force restricts what "
                                               "system:serviceaccount:kube-flannel:podcidr-assigner may change",
                           "flannel"),
    "database-tls": (_plaintext_mysql, "mysqld in webapp accepts plaintext"),
    "host-protection": (_host_protection, "pods can open connections to node1's own address"),
    "api-endpoint-exposure": (_public_api, "the Kubernetes API endpoint is public to 0.0.0.0/0", "secure"),
    "load-balancer-exposure": (_public_nlb, "Service webapp/webapp-lb: its internet-facing NLB serves plain TCP "
                                            "on ports [80] to ['192.168.0.0/16'] (no TLS)"),
    "log-group-encryption": (_log_key_policy, "log group cluster-logs: the policy of key cluster-logs-key does not "
                                              "let logs.us-east-1.amazonaws.com use it for arn:aws:logs:us-east-1:"
                                              "123456789012:log-group:/aws/eks/k8snet-dev/cluster"),
    "log-retention": (_retention, "log group cluster-logs: logs kept 30 days, fewer than 365"),
    "vpc-flow-logs": (_rejected_only, "flow log flow-logs-vpc: logs REJECT traffic only, not ALL"),
    "flow-log-delivery": (_delivery_policy, "flow log flow-logs-vpc: role flow-logs-role may not logs:PutLogEvents"),
    "alb-access-logs": (_kms_log_bucket, "is encrypted with 'aws:kms'; ELB log delivery supports SSE-S3"),
    "eks-deletion-protection": (_no_deletion_protection, "cluster cluster-eks: deletion protection is off",
                                "secure"),
    "destroy-order": (_finalized_without_controller, "Service app-service-webapp-lb: the load balancer controller "
                                                     "finalizes it but it does not depend on lb-controller-release"),
    "worker-replacement": (_replaced_create_first, "workers-node2: node node2 would be replaced "
                                                   "create-before-delete"),
    "lb-controller-service-mutator": (_service_mutator, "the Service mutator webhook is on"),
    "packet-flows": (_pod_rule, "must be allowed, but is not"),
}


def test_every_rule_has_a_mutation_test():
    assert set(MUTATIONS) == set(load_rules())


@pytest.mark.parametrize("policy", sorted(MUTATIONS))
def test_a_mutated_record_fails_its_policy_with_its_message(pack, base_run, base_report, policy):
    mutate, message, *base = MUTATIONS[policy]
    base = base[0] if base else "dev"
    assert not any(message in v.message for v in base_report(base).violations if v.policy == policy)
    result = copy.deepcopy(base_run(base))
    config = mutate(result) or {}
    # Only the policy under test runs (the others disabled through the pack config, as --policy-pack-config
    # does): the assertions read its findings alone, and the whole pack costs ~10x one policy.
    others = {p.name: {"enforcementLevel": "disabled"} for p in pack.policies if p.name != policy}
    report = run_pack(pack, result, config={**others, **config})
    mine = [v for v in report.violations if v.policy == policy]
    assert any(message in v.message for v in mine), report.text()
    assert all(v.level == RULES[policy].level.value for v in mine)


@pytest.mark.parametrize("config", [None, FLANNEL], ids=["dev", "flannel-vxlan"])
def test_the_packet_flows_walked_over_the_plan_are_the_engines(stack_run, config):
    """The pack's model of the plan (policypack/flows.py: ids by property dependency, AWS's implicit pieces as
    AWS documents them) gives every flow the verdict the engine's model of moto's state gives it."""
    from offline.flows import from_engine, verify
    from offline.policy import stack_resources
    from policypack.flows import model_of

    result, engine = stack_run(config)
    engine_model = from_engine(result, engine)
    plan_model = model_of(Plan.from_policy_resources(stack_resources(result)), "us-east-1")
    expected, walked = verify(engine_model), verify(plan_model)

    def verdicts(v):
        return {r.flow.name: (r.verdict, r.holds, r.total) for r in v.results}

    assert verdicts(walked) == verdicts(expected) and len(expected.results) > 20
    assert walked.mode == expected.mode and walked.holds

    def rules(model):
        """Every security group rule by group names (the cluster group EKS creates as "EKS"), the VPC's unused
        default group left out."""
        def name(group):
            return "EKS" if group == model.control_plane.security_group else model.groups[group].name
        return {(name(r.group), r.egress, r.protocol, r.from_port, r.to_port, r.cidr,
                 name(r.peer_group) if r.peer_group else None) for r in model.rules
                if model.groups[r.group].name != "default"}

    # The same rules, the EKS group's defaults included (all from itself in; out anywhere and to itself).
    assert rules(plan_model) == rules(engine_model)
    assert {r for r in rules(engine_model) if r[0] == "EKS"} == {
        ("EKS", False, "-1", None, None, None, "EKS"), ("EKS", True, "-1", None, None, None, "EKS"),
        ("EKS", True, "-1", None, None, ip_network("0.0.0.0/0"), None)}


def test_an_update_preview_that_adds_a_node_waits_for_that_node_only(pack, dev_records):
    """Resources that exist keep their state in a preview; a new instance's address is unknown: the flows wait
    for it by name, and the host protection needs it to feed the policy (which it does)."""
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

    result = copy.deepcopy(dev_records)
    _named(result, "workers-node3").outputs["privateIp"] = UNKNOWN_STRING_VALUE
    report = run_pack(pack, result)
    assert report.mandatory == [], report.text()
    (flows,) = [u.message for u in report.unknown if u.policy == "packet-flows"]
    assert flows.endswith("(the addresses EC2 assigns to workers-node3)")
    assert "host-protection" not in {u.policy for u in report.unknown}


def test_a_first_preview_fails_a_host_protection_policy_that_leaves_a_node_out(pack, dev_records):
    result = copy.deepcopy(dev_records)
    policy = _first(result, "kubernetes:crd.projectcalico.org/v1:GlobalNetworkPolicy")
    node3 = _named(result, "workers-node3").urn
    policy.property_dependencies["spec"] = [u for u in policy.property_dependencies["spec"] if u != node3]
    report = run_pack(pack, result, preview=True)
    (violation,) = [v for v in report.mandatory if v.policy == "host-protection"]
    assert "node3: no Calico GlobalNetworkPolicy is computed from its instance" in violation.message


@pytest.fixture(scope="module")
def served_pack(dev_records):
    """The pack booted once as the Pulumi CLI runs it (tests/pack_server.py) and spoken to as the CLI does: its info,
    the analyzer test's probe stack, and the dev stack (AnalyzeStack, then Analyze per resource) with the dev
    stack's config in PULUMI_CONFIG, as the CLI starts a pack for a stack; then stopped. One process for the two
    tests that read it: its boot (the SDKs, ...) is most of what each cost with a process of its own."""
    from google.protobuf import empty_pb2

    stack, each = analyzer_requests(dev_records)

    def talk(stub):
        return {"info": stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30),
                "probe": stub.AnalyzeStack(_probe_stack(), timeout=30),
                "dev": [stub.AnalyzeStack(stack, timeout=60)] + [stub.Analyze(r, timeout=30) for r in each]}

    return serve(ROOT / "policypack", talk, {"PULUMI_CONFIG": json.dumps(dev_records.config.values, sort_keys=True)})


def _outside_pack_requirements(modules: list[str]) -> dict[str, list[str]]:
    """Top-level name -> its distributions, for each of `modules` that comes from neither this repository nor a
    distribution policypack/requirements.txt installs (with its dependencies): the pack runs in its own virtualenv
    made from that file alone."""
    import importlib.metadata as md

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    lines = [line.split("#")[0].strip() for line in (ROOT / "policypack/requirements.txt").read_text().splitlines()]
    allowed, todo = set(), [Requirement(line) for line in lines if line]
    while todo:
        req = todo.pop()
        if canonicalize_name(req.name) in allowed:
            continue
        allowed.add(canonicalize_name(req.name))
        for text in md.requires(req.name) or []:
            dep = Requirement(text)
            if dep.marker is None or any(dep.marker.evaluate({"extra": e}) for e in (req.extras or {""})):
                todo.append(dep)
    ours = {"k8snet", "offline", "policypack"}
    distributions = md.packages_distributions()
    return {top: sorted(distributions[top]) for top in {m.split(".")[0] for m in modules}
            if top in distributions and top not in ours
            and not {canonicalize_name(d) for d in distributions[top]} & allowed}


def test_the_pack_needs_only_what_its_own_requirements_install(served_pack):
    """Every module the served pack loaded, at boot or while its policies ran over the dev stack, is installed by
    policypack/requirements.txt. The process is the analyzer test's too, so its imports are recorded, not blocked:
    a module from another distribution fails this test even where a blocked import would have been caught (an
    optional import), which is stricter than running the pack with those distributions hidden."""
    from pulumi.runtime.proto import analyzer_pb2

    # What a process of its own used to say by its exit status and its report's counts: the pack loaded, ran every
    # policy over the dev stack without a mandatory finding, and was still serving (then terminated, not exited).
    assert served_pack.serving, served_pack.stderr[-3000:]
    assert len(served_pack.replies["info"].policies) == len(load_rules())
    dev = [d for reply in served_pack.replies["dev"] for d in reply.diagnostics]
    assert [d for d in dev if d.enforcementLevel == analyzer_pb2.MANDATORY] == [], dev
    assert {"pulumi.policy", "policypack.registry"} <= set(served_pack.imported)  # the record is the pack's
    assert _outside_pack_requirements(served_pack.imported) == {}
    # moto is installed for its data files only (offline/aws/instance_types.py): loading its code (and boto3, the
    # mocks' web stack) was ~1 s of every boot.
    assert [m for m in served_pack.imported if m.split(".")[0] in ("moto", "boto3", "responses", "werkzeug")] == []


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


def test_a_refreshed_route_table_counts_each_route_once(pack, dev_records):
    """After `pulumi refresh` (the drift job refreshes) a RouteTable's state lists every non-local route AWS holds,
    the separate Route resources' too: the quota counts each destination once, as AWS does."""
    result = copy.deepcopy(dev_records)
    tables = {r.id: r for r in result.records.values() if r.type == "aws:ec2/routeTable:RouteTable"}
    for route in (r for r in result.records.values() if r.type == "aws:ec2/route:Route"):
        target = {k: v for k, v in route.outputs.items() if k in ("natGatewayId", "networkInterfaceId", "gatewayId")}
        tables[route.outputs["routeTableId"]].outputs.setdefault("routes", []).append(
            {"cidrBlock": route.outputs["destinationCidrBlock"], **target})
    most = max(len(t.outputs.get("routes", [])) for t in tables.values()) + 1
    assert most >= 3

    def quota_report(records, quota, whole=False):
        # The quota policy alone (its setting changes no other policy's findings) but for one whole-pack run over
        # the refreshed state, which no other test hands the pack; the dev records' whole run is the pass test's.
        others = {} if whole else {p.name: {"enforcementLevel": "disabled"} for p in pack.policies
                                   if p.name != "route-table-quota"}
        return run_pack(pack, records, config={**others, "route-table-quota": {"routesPerRouteTable": quota}})

    for records in (dev_records, result):
        at_quota = quota_report(records, most, whole=records is result)
        assert [v for v in at_quota.violations if v.policy == "route-table-quota"] == [], at_quota.text()
        below = quota_report(records, most - 1)
        assert any(f"{most} routes (the local route included)" in v.message
                   for v in below.violations if v.policy == "route-table-quota"), below.text()


def test_an_api_endpoint_is_judged_on_its_own_fields_while_the_rest_of_vpc_config_is_unknown():
    """A real first preview knows the endpoint settings the program sends but not the cluster security group
    or VPC id EKS fills into the same object: the exposure is reported then, not deferred to the update."""
    from policypack.rules import exposure

    open_cluster = Resource("urn:c", "aws:eks/cluster:Cluster", "c", {"vpcConfig": {
        "clusterSecurityGroupId": UNKNOWN, "vpcId": UNKNOWN, "subnetIds": [UNKNOWN, UNKNOWN],
        "endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"], "endpointPrivateAccess": True}})
    plan = Plan([open_cluster])
    assert [v.message for v in exposure.check_api_endpoint(plan, {})] == [
        "cluster c: the Kubernetes API endpoint is public to 0.0.0.0/0; list your egress addresses "
        "(apiPublicAccessCidrs) or keep it private"]
    assert plan.notes == []
    whole = Plan([Resource("urn:c", "aws:eks/cluster:Cluster", "c", {"vpcConfig": UNKNOWN})])
    assert list(exposure.check_api_endpoint(whole, {})) == [] and whole.notes == ["cluster c: vpcConfig (vpcConfig)"]


def test_the_served_pack_answers_the_dev_stack_as_the_adapter_reports_it(served_pack, base_report):
    """The adapter every other test here goes through (offline/policy.py) against the real analyzer, over the
    dev stack as the CLI sends it: the same findings, message for message."""
    from pulumi.runtime.proto import analyzer_pb2

    served = sorted((d.policyName, analyzer_pb2.EnforcementLevel.Name(d.enforcementLevel).lower(), d.message, d.urn)
                    for reply in served_pack.replies["dev"] for d in reply.diagnostics)
    report = base_report("dev")
    assert served == sorted((v.policy, v.level, v.message, v.urn) for v in report.violations + report.unknown)


def _probe_stack():
    """A node owning 10.1.1.0/24, a route to 10.1.2.0/24 through it, and a route whose destination is unknown."""
    from google.protobuf import struct_pb2
    from pulumi.runtime.proto import analyzer_pb2
    from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

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
    return analyzer_pb2.AnalyzeStackRequest(resources=[node, table, wrong, unknown])


def test_the_pack_boots_as_the_cli_runs_it_and_answers_the_analyzer_protocol(served_pack):
    """`python -m pulumi.policy <engine> policypack`, as the Pulumi CLI starts a Python pack (served_pack): the real
    PolicyPack serves gRPC; AnalyzeStack over a wrong pod route and an unknown value answers as the CLI shows."""
    from pulumi.runtime.proto import analyzer_pb2

    info = served_pack.replies["info"]
    assert info.name == "k8snet" and [p.name for p in info.policies] == list(load_rules())
    reply = served_pack.replies["probe"]
    routes = [d for d in reply.diagnostics if d.policyName == "pod-routes"]
    mandatory = [d for d in routes if d.enforcementLevel == analyzer_pb2.MANDATORY]
    assert any("route 10.1.2.0/24 -> n1, but n1 owns 10.1.1.0/24" in d.message for d in mandatory), reply
    advisory = [d for d in routes if d.enforcementLevel == analyzer_pb2.ADVISORY]
    assert len(advisory) == 1 and "can't run policy 'pod-routes'" in advisory[0].message
    assert "route r2 (destinationCidrBlock)" in advisory[0].message


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


def test_a_stacks_props_are_read_once_per_resources_list_and_each_plan_is_its_own():
    """Plan.from_policy_resources reads the proxied props once for a list every policy is handed; another list (the
    CLI's analyzer builds one per policy) is read anew, and each plan keeps its own resources and notes."""
    from types import SimpleNamespace

    def listed(cidr):
        return [SimpleNamespace(urn="urn:a", resource_type="aws:ec2/vpc:Vpc", name="a", parent=None, dependencies=[],
                                property_dependencies={}, opts=None, provider=None, props={"cidrBlock": cidr})]

    first = listed("10.0.0.0/16")
    one, two = Plan.from_policy_resources(first), Plan.from_policy_resources(first)
    assert one.resources[0] is not two.resources[0] and one.notes is not two.notes
    assert one.resources[0].props is two.resources[0].props  # read once
    other = Plan.from_policy_resources(listed("10.9.0.0/16"))
    assert other.resources[0].props == {"cidrBlock": "10.9.0.0/16"}


def test_no_stack_rule_changes_the_props_it_reads(dev_records):
    """The plans of one pack run share their props (read once, above): a rule that edited them would change what
    the next rule sees. Every stack rule, over the dev stack and a first preview of it, leaves them as they were."""
    from offline.policy import stack_resources

    rules = [r for r in load_rules().values() if r.kind == "stack"]
    for preview in (False, True):
        plan = Plan.from_policy_resources(stack_resources(dev_records, preview))
        before = copy.deepcopy([r.props for r in plan.resources])
        for rule in rules:
            config = {k: v["default"] for k, v in rule.config.items() if "default" in v}
            with plan.checking(rule.name):
                list(rule.check(plan, config))
        assert [r.props for r in plan.resources] == before
